"""Machinery shared by every network estimator of the package.

One base class, :class:`NetRegressorBase`, owns what DeepGUM and the baselines have in
common: input validation and casting, robust target scaling, seeding, device
resolution, building the backbone, the skorch net held as ``net_`` (composition, never
inheritance from ``NeuralNetRegressor``), per-sample weights that travel with their
samples through shuffled batches (looked up by sample index), an epoch loop driven
through skorch's ``fit_loop`` with our own early stopping, and the no-grad residual
pass. Subclasses only write their schedule (:meth:`NetRegressorBase._run_schedule`).

``X`` may also be a map-style torch Dataset of (x, y) pairs: a pre-pass reads the
targets, and a lazy :class:`~sk_deepgum._data.DatasetRows` view stands in for the
input tensor, so the schedules run unchanged while inputs are loaded one batch at a
time.

``fit(..., process_group=group)`` trains across the processes of a
``torch.distributed`` group (:mod:`sk_deepgum._distributed`): the state carries the
group's :class:`~sk_deepgum._distributed.Shards`, the training forwards go through
DistributedDataParallel, and the few numbers the schedules reduce (loss normaliser,
epoch loss, held-out score) go through
:class:`~sk_deepgum._training.FitState`'s helpers, which are the
single-process arithmetic when there is no group.
"""

from __future__ import annotations

import copy
import inspect
import math
import os
import time
from collections.abc import Callable
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
)
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import EarlyStopping
from skorch.history import History
from torch import nn

from sk_deepgum import _distributed, _persistence
from sk_deepgum._continuing import (
    carry_over,
    check_continuation,
    chunk_state,
    continued_counters,
)
from sk_deepgum._data import (
    DatasetRows,
    IndexedDataset,
    LoaderOptions,
    backbone_class,
    check_backbone_output,
    check_loader_kwargs,
    dataset_item,
    dataset_length,
    fit_tensors,
    forward_in_fixed_batches,
    is_torch_dataset,
    read_dataset_targets,
    resolve_batch_size,
    sample_tensor,
)
from sk_deepgum._stopping import StoppingMixin
from sk_deepgum._target_scaling import robust_target_scale
from sk_deepgum._training import (
    FitState,
    SkorchNet,
    WeightedLoss,
    flush_subnormal_parameters,
    name_callbacks,
)
from sk_deepgum._validation import (
    as_tensor,
    check_sample_weight,
    replace_fitted_state,
    resolve_device,
    validate_fit_data,
)
from sk_deepgum.backbones import build_module

_PARAM_PREFIXES = (
    "module__",
    "optimizer__",
    "callbacks__",
    "iterator_train__",
    "iterator_valid__",
)


# ---------------------------------------------------------------------------
# Base estimator


class NetRegressorBase(StoppingMixin, RegressorMixin, BaseEstimator):
    """Common fit/predict logic of the package's network regressors.

    Subclasses define ``__init__`` (keyword-only parameters, including those listed in
    :attr:`_net_parameter_constraints`), ``_make_criterion`` and ``_run_schedule``.
    Backbone and optimizer keyword arguments are accepted skorch-style as
    ``module__<name>`` / ``optimizer__<name>``, a named callback's parameters as
    ``callbacks__<name>__<param>`` and the DataLoader arguments of a Dataset input as
    ``iterator_train__<name>`` / ``iterator_valid__<name>``; they behave as ordinary
    parameters (``get_params``, ``set_params``, ``clone``, grid search).
    """

    _net_parameter_constraints: dict = {
        "module": [None, type, nn.Module],
        "optimizer": [type],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "optimizer__weight_decay": [Interval(Real, 0, None, closed="left")],
        "swa_start": [None, Interval(Real, 0, 1, closed="left")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "min_rows_per_epoch": [Interval(Integral, 0, None, closed="left")],
        "validation_fraction": [None, Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [None, Interval(Real, 0, None, closed="left")],
        "callbacks": [None, list],
        "warm_start": ["boolean"],
        "device": [StrOptions({"auto", "cpu", "cuda"}), str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # -- parameters: module__* / optimizer__* / callbacks__* / iterator_*__* -----

    def _store_prefixed_kwargs(self, kwargs: dict) -> None:
        # sklearn: __init__ only stores, and must not raise
        # (check_do_not_raise_errors_in_init_or_set_params); fit refuses strays.
        for key, value in kwargs.items():
            setattr(self, key, value)

    def _refuse_unknown(self, names: list, where: str) -> None:
        if not names:
            return
        valid = sorted(super()._get_param_names())
        # A skorch-style name given without its prefix (weight_decay for
        # optimizer__weight_decay) gets the prefixed parameter suggested.
        hints = "".join(
            f" Did you mean {known!r} instead of {name!r}?"
            for name in sorted(names)
            for known in valid
            if known.endswith(f"__{name}")
        )
        raise InvalidParameterError(
            f"{type(self).__name__} got unexpected keyword argument(s) "
            f"{sorted(names)} in {where}; valid parameters are {valid}, plus "
            "module__<name> and optimizer__<name> for the backbone and the "
            "optimizer, callbacks__<name>__<param> for a named callback and "
            "iterator_train__<name> / iterator_valid__<name> for the DataLoaders "
            f"of a Dataset input.{hints}"
        )

    def _check_extra_kwargs(self) -> None:
        # Attributes set by hand (not through __init__ or set_params) are caught
        # at fit.
        known = set(super()._get_param_names())
        self._refuse_unknown(
            [
                k
                for k in vars(self)
                if k not in known
                and not k.startswith(_PARAM_PREFIXES)
                and not k.startswith("_")
                and not k.endswith("_")
            ],
            "fit",
        )

    def _get_param_names(self):
        # The signature's names (optimizer__weight_decay is one) and the prefixed
        # arguments stored by __init__ or set_params.
        names = set(super()._get_param_names())
        names.update(k for k in vars(self) if k.startswith(_PARAM_PREFIXES))
        return sorted(names)

    def get_params(self, deep: bool = True) -> dict:
        """Get the parameters of this estimator.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of the named callbacks, as skorch does:
            ``callbacks__<name>`` (the callback) and ``callbacks__<name>__<param>``
            (a value set through :meth:`set_params` overrides the callback's own).

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        if not deep:
            return params
        try:
            named = name_callbacks(self.callbacks)
        except (TypeError, ValueError):  # e.g. a name given twice: fit says so
            return params
        for name, callback in named:
            key = f"callbacks__{name}"
            callback = params.setdefault(key, callback)
            if isinstance(callback, type) or not hasattr(callback, "get_params"):
                continue  # a class to build, None (removed) or a plain object
            for sub, value in callback.get_params(deep=False).items():
                params.setdefault(f"{key}__{sub}", value)
        return params

    def set_params(self, **params):
        # The prefixed names (_PARAM_PREFIXES) are stored as given; any other name
        # goes through BaseEstimator.set_params, which refuses unknown ones.
        known = set(super()._get_param_names())
        # "kwargs" is what sklearn's checks read off the signature's **kwargs: it
        # is stored as __init__ would store it, and refused at fit like any stray.
        stored = {
            k: v
            for k, v in params.items()
            if k.startswith(_PARAM_PREFIXES) or k == "kwargs"
        }
        self._refuse_unknown(
            [k for k in params if k not in stored and k.split("__")[0] not in known],
            "set_params",
        )
        for key, value in stored.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k not in stored}
        return super().set_params(**rest) if rest else self

    def _prefixed(self, prefix: str) -> dict:
        return {
            k[len(prefix) :]: v
            for k, v in self.get_params(deep=False).items()
            if k.startswith(prefix)
        }

    def _loader_options(self) -> LoaderOptions:
        """The checked ``iterator_train__*`` / ``iterator_valid__*`` arguments, for
        the DataLoaders of a Dataset input (an array input has none to configure:
        its batches are slices of a tensor already in memory)."""
        return LoaderOptions(
            train=check_loader_kwargs(
                self._prefixed("iterator_train__"), "iterator_train__"
            ),
            valid=check_loader_kwargs(
                self._prefixed("iterator_valid__"), "iterator_valid__"
            ),
        )

    # -- skorch's fitted attributes, read through net_ ----------------------------

    def _fitted_net(self, name: str) -> SkorchNet:
        # An AttributeError before fit, so that hasattr(model, name) is False as
        # sklearn expects of a fitted attribute.
        net = vars(self).get("net_")
        if net is None:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r} before "
                f"fit: it is the fitted skorch net's net_.{name}."
            )
        return net

    @property
    def module_(self) -> nn.Module:
        """The trained backbone, ``net_.module_``, as on a skorch net (read-only)."""
        return self._fitted_net("module_").module_

    @property
    def optimizer_(self) -> torch.optim.Optimizer:
        """The optimizer of the fit with its state, ``net_.optimizer_`` (read-only)."""
        return self._fitted_net("optimizer_").optimizer_

    @property
    def history(self) -> History:
        """The inner skorch net's per-epoch ``History``, ``net_.history``.

        One entry per SGD epoch, with its batches, as on a skorch net (read-only).
        Not ``history_``, this package's per-round record.
        """
        return self._fitted_net("history").history

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags

    # -- validation ------------------------------------------------------------

    def _validate_fit_inputs(self, X, y, sample_weight):
        """Validated ``X``, ``y``, ``sample_weight`` and the input attributes seen
        (``n_features_in_`` ...), which are assigned only once the fit succeeds.

        A torch Dataset given as ``X`` (with ``y=None``) becomes a lazy
        :class:`DatasetRows` view and the targets read by its pre-pass.
        """
        self._check_extra_kwargs()
        self._check_callbacks()
        loaders = self._loader_options()
        if is_torch_dataset(X):
            X, y, seen = self._validate_dataset(X, y, loaders)
        else:
            (X, y), seen = validate_fit_data(
                self,
                X,
                y,
                dtype=[np.float64, np.float32],
                allow_nd=True,
                multi_output=True,
                y_numeric=True,
            )
        if X.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples; got n_samples={X.shape[0]}."
            )
        y = np.asarray(y, dtype=np.float64)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, y, dtype=np.float64)
        return X, y, sample_weight, seen

    def _check_callbacks(self) -> None:
        """The callbacks' names (skorch's rules), the ``callbacks__*`` parameters
        name one of them, and none is skorch's EarlyStopping."""
        named = dict(name_callbacks(self.callbacks))
        for key, value in self._prefixed("callbacks__").items():
            name, _, param = key.partition("__")
            if name not in named:
                raise ValueError(
                    f"callbacks__{key} names no callback: the callbacks are named "
                    f"{sorted(named)}. An unnamed callback is named after its class; "
                    "give one a name with a (name, callback) tuple in callbacks."
                )
            if not param:  # callbacks__<name>=...: the callback replaced
                named[name] = value
        for callback in named.values():
            if isinstance(callback, EarlyStopping) or callback is EarlyStopping:
                raise ValueError(
                    "skorch's EarlyStopping stops training by raising KeyboardInterrupt, "
                    "which would also swallow a real Ctrl-C; use validation_fraction and "
                    "n_iter_no_change instead (early stopping on a loss outliers cannot "
                    "dominate)."
                )

    def _validate_dataset(self, dataset, y, loaders: LoaderOptions):
        """A Dataset as ``X``: the lazy input view (CPU until ``_make_state``), the
        targets of the pre-pass and ``n_features_in_`` (the first input dimension,
        as ``X.shape[1]`` of an array)."""
        if y is not None:
            raise TypeError(
                "y must be None when X is a torch Dataset: the targets are read from "
                "its (x, y) items."
            )
        y, input_shape = read_dataset_targets(dataset, type(self).__name__)
        rows = DatasetRows(dataset, np.arange(len(y)), input_shape, "cpu", loaders)
        return rows, y, {"n_features_in_": input_shape[0]}

    # -- fit -------------------------------------------------------------------

    def _make_criterion(self, n_outputs: int) -> nn.Module:  # pragma: no cover
        raise NotImplementedError

    def _run_schedule(self, state: FitState) -> dict:  # pragma: no cover
        """Train; return the extra fitted attributes (name → value) to assign."""
        raise NotImplementedError

    def _fit(self, X, y, sample_weight=None, process_group=None):
        # Everything is built in locals and assigned at the end, so a refit that
        # fails or is interrupted (Ctrl-C) leaves the previous model intact.
        start = time.perf_counter()
        group = _distributed.check_process_group(process_group)
        rng = check_random_state(self.random_state)
        try:
            X, y, sample_weight, seen = self._validate_fit_inputs(X, y, sample_weight)
            y_2d = y.reshape(len(y), -1)
            n_outputs = y_2d.shape[1]
            device = resolve_device(self.device)
            if group is not None:
                device = _distributed.resolve_shard_device(device)
                _distributed.check_backend(group, device)
            seed = int(rng.randint(np.iinfo(np.int32).max))
            valid_rows = self._split_validation(len(X), rng)
        except Exception:
            if group is not None:
                # Join the exchange the other processes are waiting in, so that
                # they raise too instead of waiting for this one forever.
                _distributed.agree_on_shards(group, None, failed=True)
            raise
        shards = None
        previous = self if self.warm_start and hasattr(self, "net_") else None
        if previous is not None:
            if group is not None:
                raise ValueError(
                    "warm_start is not supported with a process_group (a "
                    "data-parallel fit); fit from scratch, or continue in a single "
                    "process."
                )
            check_continuation(self, "warm_start", X, n_outputs, seen)
            # The network's outputs are in the scaled units of its first fit.
            centre, scale = self.target_centre_.copy(), self.target_scale_.copy()
        elif group is None:
            centre, scale = robust_target_scale(y_2d, sample_weight)
        else:
            shards, sample_weight = _distributed.agree_on_fit_shards(
                group, X, y_2d, sample_weight, valid_rows, device
            )
            centre, scale = _distributed.group_target_scale(shards, y_2d, sample_weight)
        y_scaled = (y_2d - centre) / scale

        cuda_devices = [device] if device.type == "cuda" else []
        # Seed torch inside a fork so the user's global RNG is left untouched.
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seed)
            state = self._make_state(
                X,
                y_scaled,
                scale,
                sample_weight,
                valid_rows,
                device,
                seed,
                n_outputs,
                shards,
                continue_from=None if previous is None else previous.net_,
            )
            extra = self._run_schedule(state)
            self._end_training(state)

        # Assign only now: an interrupted refit leaves the previous model intact.
        # The group and the DDP wrapper stay in ``state``: nothing unpicklable is
        # kept, and net_.module_ is the plain backbone on every process.
        return self._assign_fit(
            state, seen, X, y, (centre, scale), device, previous, start, extra
        )

    @staticmethod
    def _end_training(state: FitState) -> None:
        """skorch's end of training: ``on_train_end`` to the net's callbacks (where
        skorch's loggers close and its checkpoints save), once the network is the
        one the call returns; nothing when no epoch was trained."""
        if state.train_dataset is not None:
            state.net.notify("on_train_end", X=state.train_dataset, y=None)

    def _assign_fit(
        self, state, seen, X, y, target_scaling, device, previous, start, extra
    ):
        """Replace the fitted state with the one in ``state`` (the end of ``fit``
        and ``partial_fit``); ``previous`` is the model a continued fit started
        from, None otherwise."""
        centre, scale = target_scaling
        state.net.criterion_.release()
        state.net.min_rows_per_epoch = self.min_rows_per_epoch
        replace_fitted_state(
            self,
            {
                **seen,
                "net_": state.net,
                "device_": str(device),
                "batch_size_": state.net.batch_size,
                "input_shape_": tuple(X.shape[1:]),
                "n_outputs_": y.reshape(len(y), -1).shape[1],
                "target_centre_": centre,
                "target_scale_": scale,
                **continued_counters(state, previous),
                # "total" is the whole call: validation, scaling and set-up too.
                "fit_seconds_": {
                    **state.timer.seconds,
                    "total": time.perf_counter() - start,
                },
                **extra,
            },
        )
        self._y_ndim = y.ndim
        return self

    # -- continuing: warm_start and partial_fit -----------------------------------

    def partial_fit(self, X, y=None, sample_weight=None):
        """One pass over ``(X, y)``, continuing from the current model.

        The first call starts a model (target scaling from this chunk, a new
        backbone); every call then trains one epoch over the chunk, each row
        visited once, and ends with the model's own update on the chunk's
        residuals (see the subclass). The chunk is not kept: data that does not
        fit in memory streams through repeated calls. ``max_epochs``,
        ``min_rows_per_epoch``, ``validation_fraction``, ``tol`` and ``swa_start``
        apply to ``fit`` only; ``lr`` and ``optimizer__*`` are read at every call;
        ``n_iter_`` counts the calls (one epoch each) and ``history_`` gets one
        record per call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, \\*input_shape), \
or torch.utils.data.Dataset
            The chunk's inputs (at least 2 rows); the same feature layout in
            every call.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or None
            The chunk's targets; None (required) when ``X`` is a Dataset.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-sample weights of the chunk.

        Returns
        -------
        self : object
            The updated estimator.
        """
        start = time.perf_counter()
        self._validate_params()
        first_call = not hasattr(self, "net_")
        X, y, sample_weight, seen = self._validate_fit_inputs(X, y, sample_weight)
        y_2d = y.reshape(len(y), -1)
        n_outputs = y_2d.shape[1]
        previous = None if first_call else self
        if first_call:
            device = resolve_device(self.device)
            centre, scale = robust_target_scale(y_2d, sample_weight)
        else:
            check_continuation(self, "partial_fit", X, n_outputs, seen)
            device = torch.device(self.device_)
            centre, scale = self.target_centre_, self.target_scale_
        # A different stream per call, the same for the same calls.
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max)) + (
            0 if first_call else self.n_iter_
        )
        y_scaled = (y_2d - centre) / scale
        cuda_devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seed)
            if first_call:
                state = self._make_state(
                    X, y_scaled, scale, sample_weight, None, device, seed, n_outputs
                )
            else:
                state = chunk_state(self, X, y_scaled, scale, sample_weight, device)
            state.streaming = True
            # One pass: every row once, however small the chunk (_assign_fit puts
            # the parameter's value back).
            state.net.min_rows_per_epoch = 0
            extra = self._run_partial(state, previous)
            self._end_training(state)
        return self._assign_fit(
            state, seen, X, y, (centre, scale), device, previous, start, extra
        )

    def _run_partial(self, state: FitState, previous) -> dict:  # pragma: no cover
        """One ``partial_fit`` pass over the chunk in ``state``; ``previous`` is the
        estimator before the call (None on the first); return the extra fitted
        attributes."""
        raise NotImplementedError

    def _split_validation(self, n: int, rng) -> np.ndarray | None:
        if self.validation_fraction is None:
            return None
        n_valid = int(round(self.validation_fraction * n))
        if n_valid < 1 or n_valid > n - 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves {n_valid} "
                f"validation and {n - n_valid} training rows out of {n}; need at "
                "least 1 and 2."
            )
        return np.sort(rng.permutation(n)[:n_valid])

    def _make_state(
        self,
        X,
        y_scaled,
        target_scale,
        sample_weight,
        valid_rows,
        device,
        seed,
        n_outputs,
        shards=None,
        continue_from=None,
    ):
        X_t, y_t, w_t = fit_tensors(X, y_scaled, sample_weight, device)
        X_valid = y_valid = w_valid = None
        if valid_rows is not None:
            train = np.setdiff1d(np.arange(len(X)), valid_rows)
            if isinstance(X_t, DatasetRows):  # split the view, load nothing
                X_valid, X_t = X_t.subset(valid_rows), X_t.subset(train)
            else:
                X_valid, X_t = X_t[valid_rows], X_t[train]
            y_valid = y_t[valid_rows]
            w_valid = None if w_t is None else w_t[valid_rows]
            y_t = y_t[train]
            w_t = None if w_t is None else w_t[train]
            # (A data-parallel fit checked the group's rows in agree_on_fit_shards.)
            if shards is None and w_t is not None and not bool((w_t > 0).any()):
                raise ValueError("All training rows have zero sample weight.")

        module = build_module(
            self.module, self._prefixed("module__"), X.shape[1:], n_outputs
        )
        base_weights = (
            torch.ones_like(y_t) if w_t is None else w_t[:, None].expand_as(y_t)
        )
        criterion = WeightedLoss(self._make_criterion(n_outputs), base_weights)
        # Every process of a data-parallel group runs the largest shard's batches.
        n_rows = len(X_t) if shards is None else shards.rows_per_epoch
        lazy = isinstance(X_t, DatasetRows)
        batch_size = resolve_batch_size(self.batch_size, n_rows, lazy)
        net = self._make_net(module, criterion, device, seed, batch_size)
        if continue_from is not None:
            carry_over(net, continue_from)
        check_backbone_output(net.module_, X_t[:2], n_outputs)
        state = FitState(
            net,
            X_t,
            y_t,
            w_t,
            X_valid,
            y_valid,
            w_valid,
            device,
            target_scale,
            valid_rows,
            shards=shards,
            continued=continue_from is not None,
        )
        if shards is not None:
            state.wrap_data_parallel(seed)
        return state

    def _make_net(
        self,
        module: nn.Module,
        criterion: nn.Module,
        device: torch.device,
        seed: int,
        batch_size: int,
    ) -> SkorchNet:
        """The initialised skorch net around ``module`` (moved to ``device``)."""
        net = SkorchNet(
            module=module,
            criterion=criterion,
            optimizer=self.optimizer,
            lr=self.lr,
            batch_size=batch_size,
            max_epochs=1,
            train_split=None,
            callbacks=copy.deepcopy(self.callbacks),
            device=str(device),
            verbose=0,
            **{f"optimizer__{k}": v for k, v in self._optimizer_kwargs().items()},
            # skorch applies them to the net's copies of the callbacks (the user's
            # objects are never changed) when it initialises them.
            **{
                f"callbacks__{k}": copy.deepcopy(v)
                for k, v in self._prefixed("callbacks__").items()
            },
        )
        net.batch_generator_ = torch.Generator().manual_seed(seed)
        net.min_rows_per_epoch = self.min_rows_per_epoch
        net.initialize()
        return net

    def _optimizer_kwargs(self) -> dict:
        """The ``optimizer__*`` arguments, ``weight_decay`` left out when it is 0 so
        that optimizers without that argument (``torch.optim.LBFGS``) work."""
        kwargs = self._prefixed("optimizer__")
        weight_decay = kwargs.pop("weight_decay")
        if weight_decay == 0:
            return kwargs
        accepted = inspect.signature(self.optimizer).parameters
        if "weight_decay" not in accepted and not any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()
        ):
            raise TypeError(
                f"The optimizer {self.optimizer.__name__} has no weight_decay "
                f"argument; set optimizer__weight_decay=0 (it is {weight_decay})."
            )
        return {**kwargs, "weight_decay": weight_decay}

    def _train_epochs(
        self, state: FitState, epochs: int, describe: Callable | None = None
    ):
        """Run ``epochs`` SGD epochs through skorch's ``fit_loop``.

        ``fit_loop`` (unlike ``partial_fit``) lets a KeyboardInterrupt reach the caller.
        """
        net = state.net
        dataset = IndexedDataset(state.X, state.y)
        if state.train_dataset is None:
            net.notify("on_train_begin", X=dataset, y=None)
            state.train_dataset = dataset
        with state.training(), state.timer.phase("sgd"):
            for _ in range(epochs):
                net.fit_loop(dataset, epochs=1)
                flush_subnormal_parameters(net.module_)
                state.epochs_run += 1
                # The group's loss in a data-parallel fit: every process stops here
                # together (one raising alone would leave the others waiting).
                loss = state.epoch_loss()
                if not math.isfinite(loss):
                    raise FloatingPointError(
                        f"The training loss became non-finite ({loss}) at epoch "
                        f"{state.epochs_run}; try a smaller lr, a smaller batch-size "
                        "variance (larger batch_size) or standardised inputs."
                    )
                self._update_weight_average(state)
                if state.progress is not None:
                    state.progress.epoch(loss, describe)

    # -- predict ---------------------------------------------------------------

    def _validate_predict_X(self, X) -> np.ndarray | DatasetRows:
        check_is_fitted(self)
        if is_torch_dataset(X):
            # Predict on a Dataset: its y is ignored, its x are loaded chunk by chunk.
            n = dataset_length(X)
            if n == 0:
                raise ValueError("The Dataset given as X is empty.")
            x0 = sample_tensor(dataset_item(X, 0)[0], 0)
            if tuple(x0.shape) != self.input_shape_:
                raise ValueError(
                    f"The Dataset's x have shape {tuple(x0.shape)} but "
                    f"{type(self).__name__} was fitted on samples of shape "
                    f"{self.input_shape_}."
                )
            loaders = self._loader_options()
            return DatasetRows(X, np.arange(n), self.input_shape_, "cpu", loaders)
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], allow_nd=True, reset=False
        )
        if tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(
                f"X has sample shape {tuple(X.shape[1:])} but {type(self).__name__} was "
                f"fitted on samples of shape {self.input_shape_}."
            )
        return X

    def _predict_scaled(self, X: np.ndarray | DatasetRows) -> torch.Tensor:
        if isinstance(X, DatasetRows):
            X_t = X.on(self.device_)
            return forward_in_fixed_batches(self.net_.module_, X_t)
        X_t = as_tensor(X).to(dtype=torch.float32, device=torch.device(self.device_))
        return forward_in_fixed_batches(self.net_.module_, X_t)

    def _to_target_units(self, scaled: torch.Tensor) -> np.ndarray:
        out = scaled.detach().cpu().numpy().astype(np.float64)
        return out * self.target_scale_ + self.target_centre_

    # -- persistence -------------------------------------------------------------

    #: Private fitted state saved alongside the trailing-underscore attributes.
    _PRIVATE_FITTED = ("_y_ndim",)

    def __setstate__(self, state):
        super().__setstate__(state)
        net = self.__dict__.get("net_")
        if net is not None and "device_" in self.__dict__:
            # skorch's own __setstate__ has already mapped a net pickled on a CUDA
            # device to one that exists here (the CPU, with a DeviceWarning); follow
            # it, or predict would send its inputs to the missing device.
            self.device_ = str(torch.device(net.device))

    def save_params(self, path: str | os.PathLike) -> None:
        """Save the fitted model to the directory ``path``, weights-only (no pickle).

        Writes ``path/module.pt``, the backbone's ``state_dict`` (loadable with
        ``torch.load(..., weights_only=True)``), and ``path/estimator.json``: the
        estimator's class, the backbone's class name, the parameters that JSON can
        hold and every fitted attribute except the network itself (target scaling,
        ``mixture_``, ``outlier_scores_``, ``n_features_in_``, ``input_shape_`` ...).
        The directory is created if needed; the two files are overwritten.

        Not saved: parameters JSON cannot hold (``module``, ``optimizer``, callback
        objects, a ``RandomState`` or ``torch.device``), the optimizer's state and
        skorch's per-epoch ``history`` (``net_.history``). Use pickle or joblib for a complete
        copy of a trusted model.

        Parameters
        ----------
        path : str or os.PathLike
            Directory to write.

        See Also
        --------
        load_params : Rebuild the model from the directory.
        """
        check_is_fitted(self)
        _persistence.write_model(self, Path(path), self._PRIVATE_FITTED)

    def load_params(self, path: str | os.PathLike):
        """Become the model saved by :meth:`save_params` in the directory ``path``.

        Construct the estimator with the same ``module`` as the saved one (and any
        other parameter JSON cannot hold, such as ``optimizer``), then call
        ``load_params``: the saved JSON-able parameters are restored (except
        ``device``: the model is loaded onto this estimator's own ``device``, so a
        CUDA-trained model loads on a CPU-only machine with the default
        ``device='cpu'``), the weights are loaded into a freshly built backbone and
        the fitted attributes are set; predictions are identical to the saved
        model's. Nothing is changed when loading fails.

        Parameters
        ----------
        path : str or os.PathLike
            Directory written by :meth:`save_params`.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        FileNotFoundError
            ``path`` is not a directory holding the two files.
        ValueError
            The files belong to another estimator class or another backbone class,
            or the weights do not fit the backbone (names or shapes differ).
        """
        directory = Path(path)
        document, weights_file = _persistence.read_model(
            directory,
            type(self).__name__,
            _persistence.qualified_name(backbone_class(self.module)),
        )
        # The module and the device are this estimator's own; every other saved
        # parameter is restored. Prefixed (module__/optimizer__) arguments become
        # exactly the saved ones, plus those the file could not hold.
        restored = {
            k: _persistence.from_json(v)
            for k, v in document["params"].items()
            if k not in ("module", "device")
        }
        unsaved = set(document["unsaved_params"])
        own = self.get_params(deep=False)
        dropped = [k for k in own if k.startswith(_PARAM_PREFIXES) and k not in unsaved]
        params = {k: v for k, v in own.items() if k not in dropped}
        params.update(restored)
        attributes = {
            k: _persistence.from_json(v) for k, v in document["attributes"].items()
        }
        # Build and load in a stand-in first, so a failure leaves self unchanged.
        stand_in = type(self)(**params)
        device = resolve_device(self.device)
        input_shape, n_outputs = attributes["input_shape_"], attributes["n_outputs_"]
        module = build_module(
            stand_in.module, stand_in._prefixed("module__"), input_shape, n_outputs
        )
        criterion = WeightedLoss(
            stand_in._make_criterion(n_outputs), torch.ones((1, n_outputs))
        )
        # A file without batch_size_ holds the size used in batch_size (an integer).
        batch_size = attributes.get("batch_size_", stand_in.batch_size)
        net = stand_in._make_net(module, criterion, device, 0, batch_size)
        state_dict = torch.load(weights_file, map_location=device, weights_only=True)
        try:
            net.module_.load_state_dict(state_dict)
        except RuntimeError as exc:
            raise ValueError(
                f"The weights in {weights_file} do not fit the {type(module).__name__} "
                f"this estimator builds (check its module__* arguments): {exc}"
            ) from exc
        sample = torch.zeros((2, *input_shape), device=device)
        check_backbone_output(net.module_, sample, n_outputs)

        for name in dropped:
            delattr(self, name)
        self.set_params(**restored)
        private = {k: attributes.pop(k) for k in self._PRIVATE_FITTED}
        replace_fitted_state(self, {**attributes, "net_": net, "device_": str(device)})
        for name, value in private.items():
            setattr(self, name, value)
        return self

    def predict(self, X):
        """Predict targets for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, \\*input_shape), \
or torch.utils.data.Dataset
            Inputs; a Dataset yields (x, y) pairs whose y is ignored, its x are
            loaded one inference chunk at a time.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions in the original target units (1-D when ``y`` was 1-D).
        """
        X = self._validate_predict_X(X)
        y_pred = self._to_target_units(self._predict_scaled(X))
        return y_pred[:, 0] if self._y_ndim == 1 else y_pred
