"""DeepGUMRegressor: a neural regressor made robust to wrong targets.

Inside ``fit``, SGD on responsibility-weighted losses alternates with EM on a
Gaussian-uniform mixture (GUM) of the network's residuals (Lathuilière et al., ECCV
2018). The schedule is :meth:`DeepGUMRegressor._run_schedule`.
"""

from __future__ import annotations

import contextlib
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sk_deepgum._base import NetRegressorBase
from sk_deepgum._covariance import COVARIANCES
from sk_deepgum._data import is_torch_dataset, read_dataset_targets
from sk_deepgum._em import fit_gum
from sk_deepgum._gum_math import (
    GUMParams,
    estimate_inlier_logit,
    make_grouping,
    row_log_inlier_proba,
    row_log_likelihood,
)
from sk_deepgum._progress import FitProgress
from sk_deepgum._training import FitState
from sk_deepgum._validation import check_groups, check_uniform_bounds
from sk_deepgum.losses import HuberLoss, QuadraticLoss, TukeyLoss
from sk_deepgum.mixture import (
    fitted_mixture,
    params_from_attributes,
    params_in_units,
)


def loss_precision(
    params: GUMParams,
    grouping,
    covariance_type: str,
    n_outputs: int,
    shrinkage: float = 0.0,
) -> torch.Tensor:
    r"""Block-diagonal precision for the network loss, normalised to mean diagonal 1.

    .. math::

        \Sigma_\lambda = (1 - \lambda)\, \Sigma
            + \lambda \operatorname{mean}(\operatorname{diag} \Sigma)\, I, \qquad
        P = \Sigma_\lambda^{-1} / \operatorname{mean}(\operatorname{diag}
            \Sigma_\lambda^{-1})

    :math:`\Sigma` is the (D, D) block-diagonal inlier covariance (one block per
    latent group), :math:`\lambda` = ``shrinkage``: 0 is the paper's precision, 1
    weights every output alike. The precision re-weights the outputs (a noisy output
    counts less) but must not act as a learning rate that grows as the fit sharpens,
    hence the normalisation.
    """
    precision = COVARIANCES[covariance_type].loss_precision(
        params.covariances, grouping, n_outputs, shrinkage
    )
    return precision / precision.diagonal().mean()


#: The warm-up's element-wise criteria other than L2 (``warm_up_loss``).
_WARM_UP_LOSSES = {"huber": HuberLoss, "tukey": TukeyLoss}


class DeepGUMRegressor(NetRegressorBase):
    """Robust deep regression: a torch backbone trained with DeepGUM.

    ``fit`` alternates two steps on robustly standardised targets:

    1. **EM** on the residuals :math:`e_n = y_n - \\phi(x_n; w)` of a
       Gaussian-uniform mixture,
       :math:`p(e_n) = \\pi\\,t_\\nu(e_n; 0, \\Sigma) + (1 - \\pi)\\,\\gamma` (a
       Student-t inlier by default, a Gaussian with ``inlier_df=None``), which
       gives each target (or group of targets) a responsibility
       :math:`r_n = P(\\text{inlier} \\mid e_n)`;
    2. **SGD** on :math:`\\sum_n w_n \\tfrac12 e_n^\\top P e_n` with
       :math:`w_n = r_n \\times \\text{sample\\_weight}_n` and
       :math:`P = \\Sigma_\\lambda^{-1} / \\operatorname{mean}(\\operatorname{diag}
       \\Sigma_\\lambda^{-1})`, where :math:`\\Sigma_\\lambda = (1 - \\lambda)\\Sigma
       + \\lambda \\operatorname{mean}(\\operatorname{diag}\\Sigma) I` is the inlier
       covariance shrunk by ``precision_shrinkage`` :math:`= \\lambda` (0: the
       paper's :math:`\\Sigma^{-1}`).

    Schedule: ``warm_up_epochs`` of plain L2 (or of ``warm_up_loss``), then rounds
    of [residual pass → EM warm-started from the last mixture → ``epochs_per_round``
    SGD epochs warm-started from the current weights] until ``max_epochs`` (or a
    convergence stop, ``tol``), then a final residual pass and EM so that the
    training scores describe the returned model. The inlier share
    :math:`\\pi` is learnt, so no outlier proportion has to be given.

    Parameters
    ----------
    module : None, nn.Module subclass or nn.Module instance, default=None
        Backbone. None: an :class:`~sk_deepgum.backbones.MLP` sized from the data. A
        class is built with its ``module__*`` arguments plus ``n_inputs`` /
        ``input_shape`` / ``n_outputs`` when it declares them. An instance is
        deep-copied, never trained in place.
    max_epochs : int, default=100
        Total SGD epochs (warm-up included).
    warm_up_epochs : int, default=5
        Epochs of plain L2 (or ``warm_up_loss``) before the first EM round. Kept
        short: a long warm-up lets the network fit the wrong targets, which then no
        longer stand out. See :ref:`schedule` in the user guide.
    warm_up_loss : {'l2', 'huber', 'tukey'}, default='l2'
        Criterion of the warm-up epochs: L2, or the MAD-scaled Huber or Tukey loss
        of :class:`~sk_deepgum.baselines.RobustNetRegressor` (the warm-up then trains
        exactly as that estimator would). The rounds always use the quadratic loss
        above. See :ref:`small-tables` in the user guide.
    epochs_per_round : int, default=1
        SGD epochs between two EM rounds (a round costs one no-grad pass over the
        training set plus a few warm-started EM iterations).
    em_max_iter : int, default=20
        Maximum EM iterations per round (warm-started, so few are needed).
    em_tol : float, default=1e-3
        EM convergence threshold on the mean log-likelihood.
    groups : None, 'each' or list of lists of int, default=None
        Granularity of the inlier/outlier latent: one per sample (all outputs in or
        out together), one per output, or one per group of outputs (e.g. the (x, y)
        pair of each landmark). See :class:`GaussianUniformMixture`.
    covariance_type : {'diag', 'spherical', 'full'}, default='diag'
        Covariance of the inlier Gaussian (per group).
    uniform : {'moments', 'range'} or array-like of shape (n_outputs, 2), \
default='moments'
        Outlier support: moment matching, min–max range of the residuals, or fixed
        (low, high) residual bounds in target units.
    inlier_df : float or None, default=5.0
        Degrees of freedom ν of a Student-t inlier component; None for the paper's
        Gaussian. The t's heavier tails keep correct targets that the network still
        fits poorly among the inliers, while far-off wrong targets still get
        r ≈ 0. See :ref:`Student-t inliers <student-t-inliers>` in the user guide.
    init_inlier_prior : float, default=0.9
        Inlier prior of the first EM round (learnt afterwards).
    inlier_pseudo_count : float, default=10.0
        Pseudo-rows :math:`k` of inlier evidence in every M-step:
        :math:`\\pi = (\\sum_n w_n r_n + k) / (\\sum_n w_n + k)`, the MAP estimate
        under a Beta(k + 1, 1) prior (in units of sample weight). It keeps a small
        table from being fitted as "most rows are outliers"; its pull
        :math:`k / (n + k)` fades as the data grow. 0: maximum likelihood, for a
        small sample that may be mostly wrong. See :ref:`small-tables` in the user
        guide.
    precision_shrinkage : float in [0, 1], default=0.5
        How far the precision that weights the outputs in the network's loss is
        pulled towards equal weights: the loss uses
        :math:`\\Sigma_\\lambda = (1 - \\lambda)\\Sigma + \\lambda\\,
        \\operatorname{mean}(\\operatorname{diag}\\Sigma)\\, I` in place of the inlier
        covariance :math:`\\Sigma` (0: the paper's :math:`\\Sigma^{-1}`; 1: every
        output alike). The mixture itself always uses :math:`\\Sigma`. No effect
        with one output, nor with ``covariance_type='spherical'`` and one latent per
        sample. See :ref:`Network step <network-step>` in the user guide.
    outlier_threshold : float, default=0.5
        ``outliers_ = outlier_scores_ > outlier_threshold``.
    optimizer : torch.optim.Optimizer subclass, default=torch.optim.Adam
        Optimizer; its arguments as ``optimizer__<name>=value``.
    lr : float, default=1e-3
        Learning rate.
    optimizer__weight_decay : float, default=3e-4
        L2 penalty handed to the optimizer as its ``weight_decay`` (the gradient
        gets :math:`\\lambda \\theta` added: a penalty
        :math:`\\tfrac{\\lambda}{2} \\lVert\\theta\\rVert^2` on the loss), named
        as in skorch. The default is this package's, not the optimizer's own. 0
        turns it off and is needed for an optimizer without a ``weight_decay``
        argument (``torch.optim.LBFGS``): it is then not passed. See
        :ref:`Weight decay <weight-decay>` in the user guide.
    swa_start : float in [0, 1) or None, default=0.75
        Stochastic weight averaging (Izmailov et al., 2018): the end-of-epoch
        weights of every epoch after ``floor(swa_start * max_epochs)`` are averaged
        (``torch.optim.swa_utils.AveragedModel``, batch-norm statistics included)
        and the mean replaces the weights after the last epoch, before the final
        residual pass and EM. A fit stopped early by the hold-out keeps its
        restored best weights. None: the last epoch's weights. See
        :ref:`Weight averaging <weight-averaging>` in the user guide.
    batch_size : int or 'auto', default='auto'
        Mini-batch size (training batches are shuffled with ``random_state``).
        'auto': 32 up to 1,024 training rows, above that ``ceil(n / 32)`` capped at
        4,096, so an epoch stays about 32 optimiser steps as the data grow; 32 for a
        torch Dataset input. Resolved into ``batch_size_``. See
        :ref:`training-budget` in the user guide.
    min_rows_per_epoch : int, default=1000
        Rows an epoch visits at least: a smaller training set is cycled through
        fresh shuffles, so an epoch is ``ceil(max(n, min_rows_per_epoch) /
        batch_size_)`` optimiser steps (full-batch steps when ``n <= batch_size_``).
        0: an epoch is one pass. See :ref:`small-tables` in the user guide.
    validation_fraction : float or None, default=None
        Share of rows held out to stop early on the held-out GUM negative
        log-likelihood, checked after every EM round; a check improves when it
        beats the best so far by more than 10⁻⁴ of it. When the last check is not
        the best, the best round's network and its mixture are restored. None: no
        hold-out. See :ref:`Early stopping <early-stopping>` in the user guide.
    n_iter_no_change : int, default=3
        Consecutive EM rounds without improvement before stopping: of the hold-out
        score with a hold-out, of the training GUM log-likelihood with ``tol``.
    tol : float or None, default=None
        Convergence stop without a hold-out, as ``MLPRegressor``'s ``tol``: the fit
        stops after ``n_iter_no_change`` consecutive EM rounds whose mean training
        GUM log-likelihood (``history_``'s ``em_log_likelihood``) does not beat the
        best so far by more than ``tol``. Not used with a hold-out. None: train
        ``max_epochs``. See :ref:`Stopping on convergence <convergence-stop>` in the
        user guide.
    callbacks : list of skorch callbacks and (name, callback) tuples, or None, \
default=None
        Passed to the inner skorch net (deep-copied: the objects given are never
        changed) and named as skorch names them: a tuple by its name, an unnamed
        callback by its class name; a name given twice is a ValueError. A named
        callback's parameters are parameters of the estimator,
        ``callbacks__<name>__<param>`` (e.g.
        ``callbacks__clip__gradient_clip_value``), for ``set_params`` and grid
        search; ``callbacks__<name>`` replaces the callback (None removes it).
        skorch's ``EarlyStopping`` is rejected: it stops by raising
        KeyboardInterrupt, which would also swallow a real Ctrl-C; use
        ``validation_fraction`` instead. See :ref:`coming-from-skorch`.
    warm_start : bool, default=False
        When fitted, ``fit`` continues from the fitted network (its weights and
        the optimizer's moments; ``lr`` and ``optimizer__*`` are the current ones)
        and mixture (the first EM round starts from ``mixture_``, afresh if
        ``covariance_type`` or ``groups`` changed), with the fitted
        target scaling and no warm-up: ``max_epochs`` more epochs, to fine-tune on
        new or corrected data. ``n_iter_`` and ``history_`` continue. The inputs
        and outputs must keep their shapes. See :ref:`continuing` in the user
        guide.
    device : {'cpu', 'cuda', 'auto'}, str or torch.device, default='cpu'
        Training device; 'auto' picks CUDA when available. Resolved into
        ``device_``.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and the hold-out split inside
        ``torch.random.fork_rng``: the global torch RNG is left untouched. Same seed
        → identical CPU predictions at the same torch thread count.
    verbose : int, default=0
        Progress on standard error. 0: nothing; 1: a progress bar over epochs on a
        terminal (in a log, a line when the fit starts and one when it ends) and
        a notice when the fit stops early; 2: besides, one line per epoch (loss,
        inlier prior) and per hold-out check.
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
        The trained skorch net (``net_.module_`` is the backbone).
    module_ : torch.nn.Module
        The trained backbone, ``net_.module_`` (read-only, as on a skorch net).
    optimizer_ : torch.optim.Optimizer
        The optimizer of the fit with its state, ``net_.optimizer_`` (read-only).
    history : skorch.history.History
        skorch's per-epoch record of the inner net, ``net_.history`` (read-only):
        one entry per SGD epoch, warm-up included, with its ``train_loss``,
        duration and batches, indexed as on a skorch net
        (``history[:, 'train_loss']``); ``warm_start`` and :meth:`partial_fit`
        append to it. Not saved by :meth:`save_params` (empty
        after :meth:`load_params`). Not to be confused with ``history_``.
    mixture_ : GaussianUniformMixture
        The final mixture, in target units:
        ``mixture_.predict_proba(y - predict(X))`` works as-is.
    outlier_scores_ : ndarray of shape (n_samples,)
        Probability that each training target is an outlier,
        :math:`1 - \\prod_g r_g` (higher = more outlying).
    outliers_ : ndarray of shape (n_samples,), dtype=bool
        ``outlier_scores_ > outlier_threshold``.
    inlier_mask_ : ndarray of shape (n_samples,), dtype=bool
        ``~outliers_``.
    group_outlier_scores_ : ndarray of shape (n_samples, n_groups)
        :math:`1 - r_g` per latent group (only when ``groups`` is set).
    group_outliers_ : ndarray of shape (n_samples, n_groups), dtype=bool
        ``group_outlier_scores_ > outlier_threshold`` (only when ``groups`` is set).
    history_ : list of dict
        This package's per-round record: one JSON-serialisable dict per EM round
        (``epoch``, ``inlier_prior``, ``em_iterations``, ``em_log_likelihood``,
        ``train_loss`` and, with a hold-out, ``valid_nll``); saved by
        :meth:`save_params`. skorch's per-epoch record is ``history``.
    fit_seconds_ : dict of str to float
        Wall-clock seconds of the last ``fit`` by phase: ``"sgd"`` (training
        epochs), ``"residual_pass"`` (forward passes that give the residuals),
        ``"em"`` (mixture fits and the E-steps that turn residuals into weights,
        scores and hold-out likelihoods) and ``"total"`` (the whole call; the
        rest is validation, scaling and set-up). On CUDA each phase ends with a
        device synchronisation, so its kernels are charged to it.
    n_iter_ : int
        Epochs the returned network was trained for: ``max_epochs``, with a
        hold-out the epoch of the restored best network (``history_`` records
        every round that ran), with ``tol`` the epoch it converged.
    device_ : str
        Device used.
    batch_size_ : int
        Mini-batch size used (``batch_size`` with 'auto' resolved).
    input_shape_ : tuple of int
        Shape of one input sample.
    n_outputs_ : int
        Number of targets.
    target_centre_, target_scale_ : ndarray of shape (n_outputs,)
        Robust standardisation of the targets (median, 1.4826·MAD).
    n_features_in_ : int
        Number of features (``X.shape[1]``) seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    GaussianUniformMixture : The mixture fitted on the residuals.
    sk_deepgum.baselines.RobustNetRegressor : The same network with a fixed L2,
        Huber or Tukey loss.

    References
    ----------
    .. [1] S. Lathuilière, P. Mesejo, X. Alameda-Pineda, R. Horaud. "DeepGUM:
       Learning Deep Robust Regression with a Gaussian-Uniform Mixture Model." ECCV
       2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_deepgum import DeepGUMRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(300, 2))
    >>> y = np.sin(3 * X[:, 0]) + 0.05 * rng.normal(size=300)
    >>> y[:30] = rng.uniform(-5, 5, size=30)          # 10 % wrong targets
    >>> model = DeepGUMRegressor(random_state=0).fit(X, y)
    >>> bool(model.outlier_scores_[:30].mean() > model.outlier_scores_[30:].mean())
    True
    """

    _parameter_constraints: dict = {
        **NetRegressorBase._net_parameter_constraints,
        "warm_up_epochs": [Interval(Integral, 0, None, closed="left")],
        "warm_up_loss": [StrOptions({"l2", "huber", "tukey"})],
        "epochs_per_round": [Interval(Integral, 1, None, closed="left")],
        "em_max_iter": [Interval(Integral, 1, None, closed="left")],
        "em_tol": [Interval(Real, 0, None, closed="left")],
        "groups": [None, StrOptions({"each"}), list, tuple],
        "covariance_type": [StrOptions({"full", "diag", "spherical"})],
        "uniform": [StrOptions({"moments", "range"}), "array-like"],
        "inlier_df": [None, Interval(Real, 0, None, closed="neither")],
        "init_inlier_prior": [Interval(Real, 0, 1, closed="neither")],
        "inlier_pseudo_count": [Interval(Real, 0, None, closed="left")],
        "precision_shrinkage": [Interval(Real, 0, 1, closed="both")],
        "outlier_threshold": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        module=None,
        *,
        max_epochs=100,
        warm_up_epochs=5,
        warm_up_loss="l2",
        epochs_per_round=1,
        em_max_iter=20,
        em_tol=1e-3,
        groups=None,
        covariance_type="diag",
        uniform="moments",
        inlier_df=5.0,
        init_inlier_prior=0.9,
        inlier_pseudo_count=10.0,
        precision_shrinkage=0.5,
        outlier_threshold=0.5,
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
        self.max_epochs = max_epochs
        self.warm_up_epochs = warm_up_epochs
        self.warm_up_loss = warm_up_loss
        self.epochs_per_round = epochs_per_round
        self.em_max_iter = em_max_iter
        self.em_tol = em_tol
        self.groups = groups
        self.covariance_type = covariance_type
        self.uniform = uniform
        self.inlier_df = inlier_df
        self.init_inlier_prior = init_inlier_prior
        self.inlier_pseudo_count = inlier_pseudo_count
        self.precision_shrinkage = precision_shrinkage
        self.outlier_threshold = outlier_threshold
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
        """Fit the backbone robustly, alternating EM and SGD.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, \\*input_shape), \
or torch.utils.data.Dataset
            Inputs; N-D arrays (e.g. images N×C×H×W) are passed to the backbone as is.
            A map-style Dataset yields ``(x, y)`` pairs (x of any fixed shape, y a
            number or a 1-D array): one pre-pass reads every y for the scaling and
            EM, then the x are loaded batch by batch, never all at once.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or None
            Targets, possibly partly wrong; None (required) when ``X`` is a Dataset.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, multiplied with the responsibilities in the loss and
            entering every EM statistic.
        process_group : torch.distributed.ProcessGroup or None, default=None
            Data-parallel fit across the processes of a ``torch.distributed`` group
            (e.g. ``torch.distributed.group.WORLD``; one process per GPU under
            ``torchrun``). Every process calls ``fit`` with its own shard of the rows
            and the same estimator parameters, and ends with the same model;
            ``outlier_scores_``, ``outliers_``, ``inlier_mask_`` and ``group_*``
            describe this process's shard. ``device='cuda'`` means
            ``cuda:LOCAL_RANK``. None: a single-process fit. See
            :ref:`distributed-fit`.

        Returns
        -------
        self : DeepGUMRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, process_group)

    def _make_criterion(self, n_outputs: int):
        return QuadraticLoss(n_outputs)

    # -- the alternating schedule -------------------------------------------------

    def _em_setup(self, state: FitState):
        """The column groups, their grouping on the device and the EM's options."""
        n_outputs = state.y.shape[1]
        column_groups = check_groups(self.groups, n_outputs)
        grouping = make_grouping(column_groups, device=state.device)
        em_options = dict(
            covariance_type=self.covariance_type,
            uniform=self._scaled_uniform(n_outputs, state),
            init_inlier_prior=self.init_inlier_prior,
            inlier_pseudo_count=self.inlier_pseudo_count,
            max_iter=self.em_max_iter,
            tol=self.em_tol,
            df=self.inlier_df,
        )
        return column_groups, grouping, em_options

    def _warm_up(self, state: FitState):
        """The context of the warm-up epochs: L2, or ``warm_up_loss``."""
        if self.warm_up_loss == "l2":
            return contextlib.nullcontext()
        return state.element_criterion(_WARM_UP_LOSSES[self.warm_up_loss]())

    def _set_round_loss(self, state: FitState, residuals, params, grouping) -> None:
        """The next epochs' loss: weights :math:`w_{nd} = r_{n g(d)} \\cdot s_n`
        (responsibility of the output's group times the sample weight) and the
        precision of the mixture ``params``."""
        with state.timer.phase("em"):
            logit, _ = self._inlier_logit(residuals, params, grouping)
        weights = torch.sigmoid(logit).T[:, grouping.col_group]
        if state.sample_weight is not None:
            weights = weights * state.sample_weight[:, None]
        state.set_loss_weights(weights)
        precision = loss_precision(
            params,
            grouping,
            self.covariance_type,
            state.y.shape[1],
            self.precision_shrinkage,
        )
        state.set_loss_precision(precision)

    def _fitted_params(self, device, column_groups) -> GUMParams | None:
        """``mixture_`` back in the network's scaled units, in this estimator's
        covariance type, to warm-start the EM of a continued fit; None (the EM
        starts afresh) when ``covariance_type`` or ``groups`` changed since."""
        mixture = self.mixture_
        same_groups = [list(c) for c in mixture.groups_] == [
            list(c) for c in column_groups
        ]
        # A spherical fit's mixture_ is 'diag' in target units (see params_in_units).
        same_type = mixture.covariance_type == self.covariance_type or (
            {mixture.covariance_type, self.covariance_type} == {"diag", "spherical"}
        )
        if not (same_groups and same_type):
            return None
        params = params_from_attributes(mixture, torch.float64)
        scaled, covariance_type, _ = params_in_units(
            params, 1.0 / self.target_scale_, mixture.groups_, mixture.covariance_type
        )
        covariances = scaled.covariances
        if covariance_type != self.covariance_type:
            # A spherical mixture is per column in target units; scaled back, its
            # columns share one variance again.
            covariances = COVARIANCES[self.covariance_type].initial(
                covariances, make_grouping(mixture.groups_)
            )

        def to_device(t):
            return t.to(device=device, dtype=torch.float32)

        return GUMParams(
            to_device(scaled.inlier_prior),
            to_device(scaled.means),
            [to_device(c) for c in covariances]
            if isinstance(covariances, list)
            else to_device(covariances),
            to_device(scaled.uniform_log_density),
            to_device(scaled.uniform_bounds),
        )

    @staticmethod
    def _round_em(state: FitState, residuals, grouping, params, em_options):
        """An EM round's mixture of the (n, D) residuals, warm-started from
        ``params`` (None: the default start), over the whole group in a
        data-parallel fit."""
        with state.timer.phase("em"):
            return fit_gum(
                residuals.T.contiguous(),
                state.sample_weight,
                grouping,
                init_params=params,
                process_group=state.process_group,
                **em_options,
            )

    def _round_record(self, state: FitState, em) -> dict:
        """The ``history_`` record of an EM round."""
        params = em.params
        return {
            "epoch": state.epochs_run,
            "inlier_prior": params.inlier_prior.tolist(),
            "em_iterations": em.n_iter,
            "em_log_likelihood": em.lower_bounds[-1],
            "train_loss": float(state.net.history[-1, "train_loss"])
            if state.epochs_run
            else None,
        }

    def _run_schedule(self, state: FitState) -> dict:
        column_groups, grouping, em_options = self._em_setup(state)
        state.progress = FitProgress(
            "DeepGUMRegressor", self.max_epochs, self.verbose, enabled=state.is_main
        )
        # A continued fit (warm_start) starts from the fitted mixture and network:
        # no warm-up.
        params = None
        if state.continued:
            params = self._fitted_params(state.device, column_groups)

        def describe():
            prior = params.inlier_prior.mean() if params is not None else 1.0
            return f"inlier prior {float(prior):.3f}"

        if not state.continued:
            with self._warm_up(state):
                self._train_epochs(
                    state, min(self.warm_up_epochs, self.max_epochs), describe
                )
        averaged_at_stop = False
        while True:
            residuals = state.residuals()
            em = self._round_em(state, residuals, grouping, params, em_options)
            params = em.params
            record = self._round_record(state, em)
            state.history.append(record)
            if state.X_valid is not None:
                record["valid_nll"] = self._held_out_nll(state, params, grouping)
                state.progress.check(
                    f"epoch {state.epochs_run}: inlier prior "
                    f"{float(params.inlier_prior.mean()):.3f}, hold-out GUM NLL "
                    f"{record['valid_nll']:.4g}"
                )
                # The mixture fitted on this network's residuals goes with it.
                if self._early_stopping_step(state, record["valid_nll"], em):
                    break
            if state.epochs_run >= self.max_epochs or averaged_at_stop:
                break
            if self._converged(
                state, record["em_log_likelihood"], "GUM log-likelihood"
            ):
                # The averaged network gets its own residuals and mixture (one more
                # pass of the loop); otherwise this round's mixture is its own.
                averaged_at_stop = self._end_weight_average(state)
                if averaged_at_stop:
                    continue
                break
            self._set_round_loss(state, residuals, params, grouping)
            epochs = min(self.epochs_per_round, self.max_epochs - state.epochs_run)
            self._train_epochs(state, epochs, describe)
        # Without a hold-out the last round's residuals are the returned network's
        # own; with one, the scores need the held-out rows too.
        last_residuals = residuals if state.X_valid is None else None
        if self._restore_best(state):
            # The scores and mixture_ must describe the restored network: the
            # mixture of its round was fitted on its own training residuals.
            em = state.best_extra
            params = em.params
        state.progress.close()
        return self._outlier_attributes(
            state, params, grouping, column_groups, em, last_residuals
        )

    def partial_fit(self, X, y=None, sample_weight=None):
        """One pass over a chunk, then an EM update of the mixture on its residuals.

        The first call starts the model: target scaling from this chunk, a new
        backbone. Each call then trains one epoch over the chunk (each row once):
        the first ``warm_up_epochs`` calls with the warm-up loss, later ones with
        the responsibilities and precision of the current ``mixture_`` on the
        chunk's residuals. It ends with a residual pass over the chunk and an EM
        fit warm-started from the last mixture. ``outlier_scores_`` (and
        ``outliers_``, ``inlier_mask_``) describe this chunk; ``score_outliers``
        scores any data. ``max_epochs``, ``min_rows_per_epoch``,
        ``validation_fraction``, ``tol`` and ``swa_start`` apply to ``fit`` only.
        Repeated passes over the chunks of a data set reach the accuracy of a
        ``fit`` on it (see :ref:`continuing` in the user guide).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, \\*input_shape), \
or torch.utils.data.Dataset
            The chunk's inputs (at least 2 rows); the same layout in every call.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or None
            The chunk's targets, possibly partly wrong; None (required) when ``X``
            is a Dataset.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the chunk's rows.

        Returns
        -------
        self : DeepGUMRegressor
            The updated estimator.
        """
        return super().partial_fit(X, y, sample_weight)

    def _run_partial(self, state: FitState, previous) -> dict:
        column_groups, grouping, em_options = self._em_setup(state)
        params = None
        if previous is not None:
            params = self._fitted_params(state.device, column_groups)
        # After a change of covariance_type or groups (params None) the call
        # trains as a warm-up call and the EM starts afresh.
        if params is not None and previous.n_iter_ >= self.warm_up_epochs:
            self._set_round_loss(state, state.residuals(), params, grouping)
            self._train_epochs(state, 1)
        else:
            with self._warm_up(state):
                self._train_epochs(state, 1)
        residuals = state.residuals()
        em = self._round_em(state, residuals, grouping, params, em_options)
        state.history.append(self._round_record(state, em))
        return self._outlier_attributes(
            state, em.params, grouping, column_groups, em, residuals
        )

    def _inlier_logit(self, residuals, params, grouping):
        """Inlier log-odds (G, n) and outlier term (G,) of (n, D) residuals under the
        fitted mixture (zero-mean inliers, this estimator's covariance and ν)."""
        return estimate_inlier_logit(
            residuals.T,
            params,
            grouping,
            self.covariance_type,
            fit_mean=False,
            df=self.inlier_df,
        )

    def _scaled_uniform(self, n_outputs, state):
        if isinstance(self.uniform, str):
            return self.uniform
        bounds = check_uniform_bounds(self.uniform, n_outputs)
        # Bounds are residuals in target units; the net works in scaled units.
        scaled = bounds / state.target_scale[:, None]
        return torch.as_tensor(scaled, dtype=torch.float32, device=state.device)

    def _held_out_nll(self, state, params, grouping) -> float:
        """Weighted mean negative log-likelihood of the held-out residuals under the
        training mixture: outliers cannot dominate it (their density is bounded by γ)."""
        residuals = state.residuals(state.X_valid, state.y_valid)
        with state.timer.phase("em"):
            logit, outlier_term = self._inlier_logit(residuals, params, grouping)
        log_lik = row_log_likelihood(logit, outlier_term)
        # Over every process's held-out rows in a data-parallel fit, so that all
        # take the same early-stopping decision.
        return -state.weighted_mean(log_lik, state.sample_weight_valid)

    def _outlier_attributes(
        self, state, params, grouping, column_groups, em, residuals=None
    ) -> dict:
        """Scores for every row given to ``fit`` and the mixture in target units;
        ``residuals`` are those of every row, if already computed."""
        if residuals is None:
            residuals = state.residuals(*state.all_rows())
        with state.timer.phase("em"):
            logit, _ = self._inlier_logit(residuals, params, grouping)
        log_inlier = row_log_inlier_proba(logit)
        scores = (-torch.expm1(log_inlier)).cpu().numpy().astype(np.float64)
        outliers = scores > self.outlier_threshold
        attributes = {
            "mixture_": self._mixture_in_target_units(params, column_groups, em, state),
            "outlier_scores_": scores,
            "outliers_": outliers,
            "inlier_mask_": ~outliers,
        }
        if self.groups is not None:
            group_scores = (
                (1.0 - torch.sigmoid(logit)).T.cpu().numpy().astype(np.float64)
            )
            attributes["group_outlier_scores_"] = group_scores
            attributes["group_outliers_"] = group_scores > self.outlier_threshold
        return attributes

    def _mixture_in_target_units(self, params, column_groups, em, state):
        units, covariance_type, log_jacobian = params_in_units(
            params, state.target_scale, column_groups, self.covariance_type
        )
        return fitted_mixture(
            units,
            column_groups,
            em,
            log_likelihood_shift=log_jacobian,
            covariance_type=covariance_type,
            groups=self.groups,
            uniform=self.uniform,
            inlier_df=self.inlier_df,
            init_inlier_prior=self.init_inlier_prior,
            inlier_pseudo_count=self.inlier_pseudo_count,
            max_iter=self.em_max_iter,
            tol=self.em_tol,
        )

    # -- outliers of new data ---------------------------------------------------------

    def score_outliers(self, X, y=None):
        """Outlier probability of new (X, y) pairs under the fitted model and mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, \\*input_shape), \
or torch.utils.data.Dataset
            Inputs, or a Dataset of (x, y) pairs whose y are the targets to judge.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or None
            Targets to judge; None (required) when ``X`` is a Dataset.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            :math:`1 - \\prod_g r_g`; higher = more outlying (same orientation as
            ``outlier_scores_``).
        """
        residuals = self._residuals_in_units(X, y)
        return self.mixture_.predict_proba(residuals)[:, 1]

    def predict_outliers(self, X, y=None):
        """Flag new (X, y) pairs whose target looks wrong.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, \\*input_shape), \
or torch.utils.data.Dataset
            Inputs, or a Dataset of (x, y) pairs whose y are the targets to judge.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or None
            Targets to judge; None (required) when ``X`` is a Dataset.

        Returns
        -------
        mask : ndarray of shape (n_samples,), dtype=bool
            ``score_outliers(X, y) > outlier_threshold``.
        """
        return self.score_outliers(X, y) > self.outlier_threshold

    def _residuals_in_units(self, X, y):
        check_is_fitted(self)
        if is_torch_dataset(X):
            if y is not None:
                raise TypeError(
                    "y must be None when X is a torch Dataset: the targets to judge "
                    "are read from its (x, y) items."
                )
            # A first pass for the targets, a second (in predict) for the inputs.
            y, _ = read_dataset_targets(X, type(self).__name__, min_samples=1)
        elif y is None:
            raise ValueError("y is required (the targets to judge) when X is an array.")
        y_pred = self.predict(X)
        y = np.asarray(y, dtype=np.float64)
        # Only the (n,) <-> (n, 1) ambiguity of a single output is resolved.
        if y.shape != y_pred.shape and y.size == y_pred.size and self.n_outputs_ == 1:
            y = y.reshape(y_pred.shape)
        if y.shape != y_pred.shape:
            raise ValueError(
                f"y has shape {y.shape}; expected {y_pred.shape} for this model."
            )
        return (y - y_pred).reshape(len(y_pred), -1)

    def predict(self, X, return_std=False):
        """Predict targets; optionally the inlier noise level per output.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, \\*input_shape)
            Inputs.
        return_std : bool, default=False
            Also return the standard deviation of the fitted inlier component per
            output, in target units (the same for every row): it describes the
            label noise of the targets the model takes as correct, not the
            uncertainty of the network's estimate. For the Gaussian
            (``inlier_df=None``) it is :math:`\\sqrt{\\Sigma_{dd}}`; for a
            Student-t with :math:`\\nu > 2` it is
            :math:`\\sqrt{\\Sigma_{dd}\\, \\nu / (\\nu - 2)}`, as the t's scale
            :math:`\\Sigma` is not its covariance; a t with :math:`\\nu \\le 2`
            has no finite variance, and asking for it is a ValueError. See
            :ref:`Student-t inliers <student-t-inliers>` in the user guide.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions in target units.
        y_std : ndarray of the same shape as ``y_pred``
            Only with ``return_std=True``.
        """
        y_pred = super().predict(X)
        if not return_std:
            return y_pred
        return y_pred, np.broadcast_to(self._inlier_std(), y_pred.shape).copy()

    def _inlier_std(self) -> np.ndarray:
        mixture = self.mixture_
        variances = np.empty(self.n_outputs_)
        covs = mixture.covariances_
        if mixture.groups is None:
            covs = [covs]
        for cols, cov in zip(mixture.groups_, covs, strict=True):
            cov = np.asarray(cov)
            variances[cols] = np.diag(cov) if cov.ndim == 2 else cov
        df = self.inlier_df
        if df is not None:
            if df <= 2:
                raise ValueError(
                    f"predict(return_std=True) needs inlier_df > 2 or None: a "
                    f"Student-t inlier with inlier_df={df} has no finite variance."
                )
            # The t's scale Σ is not its covariance: Cov = Σ ν / (ν - 2).
            variances = variances * df / (df - 2)
        std = np.sqrt(variances)
        return std[0] if self._y_ndim == 1 else std
