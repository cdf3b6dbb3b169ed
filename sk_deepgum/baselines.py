"""Baseline network regressors sharing DeepGUM's machinery (only the loss differs)."""

from __future__ import annotations

import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import StrOptions

from sk_deepgum._base import NetRegressorBase
from sk_deepgum._progress import FitProgress
from sk_deepgum._training import FitState
from sk_deepgum.losses import HuberLoss, SquaredLoss, TukeyLoss

_LOSSES = {"l2": SquaredLoss, "huber": HuberLoss, "tukey": TukeyLoss}


class RobustNetRegressor(NetRegressorBase):
    """The DeepGUM backbone, data handling and schedule with a fixed loss.

    Use it as the reference DeepGUM is compared with: same backbone, optimiser,
    robust target scaling, seeding, batches and epochs; only the loss differs.

    Parameters
    ----------
    module : None, nn.Module subclass or nn.Module instance, default=None
        Backbone, as in :class:`~sk_deepgum.DeepGUMRegressor`.
    loss : {'l2', 'huber', 'tukey'}, default='l2'
        Element-wise loss on robustly standardised targets. 'l2':
        :math:`\\tfrac12 (y - \\hat y)^2`; 'huber': Huber's loss with
        :math:`\\delta = 1.345` and 'tukey': Tukey's biweight with :math:`c = 4.685`
        (with Belagiannis et al.'s warm-up), both on residuals scaled per output by
        the batch's MAD (:class:`~sk_deepgum.losses.HuberLoss`,
        :class:`~sk_deepgum.losses.TukeyLoss`).
    max_epochs : int, default=100
        SGD epochs.
    optimizer : torch.optim.Optimizer subclass, default=torch.optim.Adam
        Optimizer; its arguments as ``optimizer__<name>=value``.
    lr : float, default=1e-3
        Learning rate.
    optimizer__weight_decay : float, default=3e-4
        L2 penalty handed to the optimizer as its ``weight_decay`` (the gradient
        gets :math:`\\lambda \\theta` added: a penalty
        :math:`\\tfrac{\\lambda}{2} \\lVert\\theta\\rVert^2` on the loss), named
        as in skorch; the same default as :class:`~sk_deepgum.DeepGUMRegressor`,
        not the optimizer's own. 0 turns it off and is needed for an optimizer
        without a ``weight_decay`` argument (``torch.optim.LBFGS``).
    swa_start : float in [0, 1) or None, default=0.75
        Stochastic weight averaging: the end-of-epoch weights of every epoch after
        ``floor(swa_start * max_epochs)`` are averaged
        (``torch.optim.swa_utils.AveragedModel``, batch-norm statistics included)
        and the mean replaces the weights after the last epoch. A fit stopped early
        by the hold-out keeps its restored best weights. None: the last epoch's
        weights. See :ref:`Weight averaging <weight-averaging>` in the user guide.
    batch_size : int or 'auto', default='auto'
        Mini-batch size. 'auto': 32 up to 1,024 training rows, above that
        ``ceil(n / 32)`` capped at 4,096, so an epoch stays about 32 optimiser steps
        as the data grow; 32 for a torch Dataset input. Resolved into
        ``batch_size_``. See :ref:`training-budget` in the user guide.
    min_rows_per_epoch : int, default=1000
        Rows an epoch visits at least: a smaller training set is cycled through
        fresh shuffles, so an epoch is ``ceil(max(n, min_rows_per_epoch) /
        batch_size_)`` optimiser steps (full-batch steps when ``n <= batch_size_``).
        0: an epoch is one pass. See :ref:`small-tables` in the user guide.
    validation_fraction : float or None, default=None
        Share of rows held out for early stopping on the held-out median absolute
        residual (robust to outliers in the hold-out), checked after every epoch;
        a check improves when it beats the best so far by more than 10⁻⁴ of it.
        When the last check is not the best, the best epoch's network is restored
        and ``n_iter_`` is that epoch. None: no hold-out.
    n_iter_no_change : int, default=3
        Consecutive epochs without improvement before stopping: of the hold-out
        score with a hold-out, of the training loss with ``tol``.
    tol : float or None, default=None
        Convergence stop without a hold-out, as ``MLPRegressor``'s ``tol``: the fit
        stops after ``n_iter_no_change`` consecutive epochs whose mean training loss
        (in scaled target units, ``history_``'s ``train_loss``) is not below the
        best so far by more than ``tol``. Not used with a hold-out. None: train
        ``max_epochs``. See :ref:`Stopping on convergence <convergence-stop>` in the
        user guide.
    callbacks : list of skorch callbacks and (name, callback) tuples, or None, \
default=None
        Passed to the inner skorch net (deep-copied) and named as skorch names
        them; ``callbacks__<name>__<param>`` sets a named callback's parameter and
        ``callbacks__<name>`` replaces it, as in
        :class:`~sk_deepgum.DeepGUMRegressor`. skorch's ``EarlyStopping`` is
        rejected.
    warm_start : bool, default=False
        When fitted, ``fit`` continues from the fitted network (its weights and
        the optimizer's moments; ``lr`` and ``optimizer__*`` are the current ones)
        with the fitted target scaling: ``max_epochs`` more epochs. ``n_iter_``
        and ``history_`` continue. See :ref:`continuing` in the user guide.
    device : {'cpu', 'cuda', 'auto'}, str or torch.device, default='cpu'
        Training device, resolved into ``device_``.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and the hold-out split.
    verbose : int, default=0
        Progress on standard error. 0: nothing; 1: a progress bar over epochs on a
        terminal (in a log, a line when the fit starts and one when it ends) and
        a notice when the fit stops early; 2: besides, one line per epoch and per
        hold-out check.
    **kwargs
        Arguments named as in skorch, ordinary parameters for ``set_params``, ``clone``
        and :class:`~sklearn.model_selection.GridSearchCV`: ``module__<name>``
        (the backbone), ``optimizer__<name>``, ``callbacks__<name>[__<param>]``,
        and ``iterator_train__<name>`` / ``iterator_valid__<name>``, the
        :class:`~torch.utils.data.DataLoader` arguments (``num_workers``,
        ``pin_memory``, ``prefetch_factor``, ``persistent_workers``,
        ``worker_init_fn``, ``collate_fn`` ...) with which a torch Dataset given
        as ``X`` is loaded: its training batches, and its inference passes
        (residual passes, hold-out, ``predict``). The batches stay the
        estimator's, so results do not depend on ``num_workers``; ``batch_size``,
        ``shuffle``, ``sampler``, ``batch_sampler``, ``drop_last``, ``generator``
        and ``in_order`` are refused. Array input ignores them (its batches are
        slices of a tensor already in memory). See :ref:`coming-from-skorch`.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch net.
    module_ : torch.nn.Module
        The trained backbone, ``net_.module_`` (read-only, as on a skorch net).
    optimizer_ : torch.optim.Optimizer
        The optimizer of the fit with its state, ``net_.optimizer_`` (read-only).
    history : skorch.history.History
        skorch's per-epoch record of the inner net, ``net_.history`` (read-only):
        one entry per epoch with its ``train_loss``, duration and batches, indexed
        as on a skorch net (``history[:, 'train_loss']``); ``warm_start`` and
        :meth:`partial_fit` append to it. Not saved by :meth:`save_params` (empty
        after :meth:`load_params`).
    history_ : list of dict
        This package's record, JSON-serialisable: one dict per hold-out check
        (``epoch``, ``valid_median_ae``), or per epoch with ``tol`` (``epoch``,
        ``train_loss``); empty without either. Saved by :meth:`save_params`.
    fit_seconds_ : dict of str to float
        Wall-clock seconds of the last ``fit`` by phase: ``"sgd"`` (training
        epochs), ``"residual_pass"`` (forward passes over the hold-out),
        ``"em"`` (always 0 here; the key is shared with
        :class:`~sk_deepgum.DeepGUMRegressor`) and ``"total"`` (the whole call).
    n_iter_ : int
        Epochs the returned network was trained for (with a hold-out, the epoch
        of the restored best network; with ``tol``, the epoch it converged).
    device_ : str
        Device used.
    batch_size_ : int
        Mini-batch size used (``batch_size`` with 'auto' resolved).
    input_shape_ : tuple of int
        Shape of one input sample.
    n_outputs_ : int
        Number of targets.
    target_centre_, target_scale_ : ndarray of shape (n_outputs,)
        Robust standardisation of the targets.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sk_deepgum.DeepGUMRegressor : The same network trained robustly.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_deepgum.baselines import RobustNetRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(200, 2))
    >>> y = X[:, 0] - X[:, 1]
    >>> RobustNetRegressor(random_state=0).fit(X, y).predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **NetRegressorBase._net_parameter_constraints,
        "loss": [StrOptions(set(_LOSSES))],
    }

    def __init__(
        self,
        module=None,
        *,
        loss="l2",
        max_epochs=100,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        optimizer__weight_decay=3e-4,
        swa_start=0.75,
        batch_size="auto",
        min_rows_per_epoch=1000,
        validation_fraction=None,
        n_iter_no_change=3,
        tol=None,
        callbacks=None,
        warm_start=False,
        device="cpu",
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        self.module = module
        self.loss = loss
        self.max_epochs = max_epochs
        self.optimizer = optimizer
        self.lr = lr
        self.optimizer__weight_decay = optimizer__weight_decay
        self.swa_start = swa_start
        self.batch_size = batch_size
        self.min_rows_per_epoch = min_rows_per_epoch
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._store_prefixed_kwargs(kwargs)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None, process_group=None):
        """Fit the backbone with the chosen loss.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, \\*input_shape), \
or torch.utils.data.Dataset
            Inputs. A map-style Dataset yields ``(x, y)`` pairs: one pre-pass reads
            every y for the scaling, then the x are loaded batch by batch.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or None
            Targets; None (required) when ``X`` is a Dataset.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-sample loss weights.
        process_group : torch.distributed.ProcessGroup or None, default=None
            Data-parallel fit across the processes of a ``torch.distributed`` group,
            as in :meth:`sk_deepgum.DeepGUMRegressor.fit`: each process passes its
            own shard and every process ends with the same model. The Huber and
            Tukey losses scale the residuals by the MAD of each process's own batch.
            None: a single-process fit. See :ref:`distributed-fit`.

        Returns
        -------
        self : RobustNetRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, process_group)

    def partial_fit(self, X, y=None, sample_weight=None):
        """One epoch over a chunk with the chosen loss, continuing the model.

        The first call starts the model, with the chunk's target scaling. Each row of the chunk is visited once; ``max_epochs``,
        ``min_rows_per_epoch``, ``validation_fraction``, ``tol`` and ``swa_start``
        apply to ``fit`` only. ``history_`` gets the chunk's ``train_loss``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, \\*input_shape), \
or torch.utils.data.Dataset
            The chunk's inputs (at least 2 rows); the same layout in every call.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or None
            The chunk's targets; None (required) when ``X`` is a Dataset.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-sample loss weights.

        Returns
        -------
        self : RobustNetRegressor
            The updated estimator.
        """
        return super().partial_fit(X, y, sample_weight)

    def _make_criterion(self, n_outputs: int):
        return _LOSSES[self.loss]()

    def _run_partial(self, state: FitState, previous) -> dict:
        self._train_epochs(state, 1)
        loss = float(state.net.history[-1, "train_loss"])
        state.history.append({"epoch": state.epochs_run, "train_loss": loss})
        return {}

    def _run_schedule(self, state: FitState) -> dict:
        state.progress = FitProgress(
            f"RobustNetRegressor({self.loss})",
            self.max_epochs,
            self.verbose,
            enabled=state.is_main,
        )
        if state.X_valid is None and self.tol is None:
            self._train_epochs(state, self.max_epochs)
        elif state.X_valid is None:
            while state.epochs_run < self.max_epochs:
                self._train_epochs(state, 1)
                # The group's mean in a data-parallel fit (epoch_loss wrote it back).
                loss = float(state.net.history[-1, "train_loss"])
                state.history.append({"epoch": state.epochs_run, "train_loss": loss})
                if self._converged(state, -loss, "training loss"):
                    self._end_weight_average(state)
                    break
        else:
            while state.epochs_run < self.max_epochs:
                self._train_epochs(state, 1)
                residuals = state.residuals(state.X_valid, state.y_valid)
                # Every process's held-out rows in a data-parallel fit: the same
                # score, hence the same stopping decision, everywhere.
                score = float(state.gather_rows(residuals).abs().median())
                state.history.append(
                    {"epoch": state.epochs_run, "valid_median_ae": score}
                )
                state.progress.check(
                    f"epoch {state.epochs_run}: hold-out median |residual| {score:.4g}"
                )
                if self._early_stopping_step(state, score):
                    break
            self._restore_best(state)
        state.progress.close()
        return {}
