"""The training step: the weighted loss, the skorch net and the fit-time state.

:class:`WeightedLoss` applies per-sample weights (DeepGUM's responsibilities) to an
element-wise criterion; :class:`SkorchNet` is the skorch shell whose ``fit_loop`` runs
the epochs; :class:`FitState` holds what one ``fit`` call trains on and keeps.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EpochTimer, PassthroughScoring
from skorch.utils import TeeGenerator
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel

from sk_deepgum import _distributed
from sk_deepgum._data import DatasetRows, ShuffledBatches, forward_in_fixed_batches
from sk_deepgum._timing import PhaseTimer


def flush_subnormal_parameters(module: nn.Module) -> None:
    """Set the backbone's subnormal parameters (0 < |θ| < the dtype's smallest normal
    number, 1.2e-38 in float32) to exactly 0.

    Adam's coupled L2 penalty (``optimizer__weight_decay``) drives the weights of units that
    get no data gradient towards 0 and into the subnormal range, where CPU arithmetic
    is many times slower. Called after every epoch; such a weight contributes nothing
    float32 can resolve. See :ref:`large-numbers-of-rows` for a measurement.
    """
    with torch.no_grad():
        for p in module.parameters():
            if p.is_floating_point():
                p.masked_fill_(p.abs() < torch.finfo(p.dtype).tiny, 0.0)


# ---------------------------------------------------------------------------
# The loss: per-element criterion, per-sample weights


class WeightedLoss(nn.Module):
    """Weighted, per-round-normalised batch loss around an element-wise criterion.

    .. math::

        L_B = \\frac{\\sum_{n \\in B} \\sum_d W_{nd}\\, \\ell(\\hat y_{nd}, y_{nd})}
                   {\\bar W \\, |B|}

    ``W`` (n, D) holds one weight per sample and output (sample weight × the
    responsibility of the output's latent group); ``\\bar W`` is its mean over the
    training set, fixed for a round. Dividing by a constant, not by the batch's own
    ΣW, keeps a batch made only of outliers from getting full weight.

    Parameters
    ----------
    criterion : nn.Module
        Returns the element-wise loss (B, D) of ``(y_pred, y_true)``.
    weights : Tensor of shape (n, D)
        Initial per-sample weights.
    """

    def __init__(self, criterion: nn.Module, weights: torch.Tensor):
        super().__init__()
        self.criterion = criterion
        self.register_buffer("weights", weights.clone())
        self.register_buffer("normaliser", weights.mean())

    def set_weights(
        self, weights: torch.Tensor, normaliser: torch.Tensor | None = None
    ) -> None:
        """Replace the per-sample weights for the next round (same shape).

        ``normaliser`` replaces :math:`\\bar W` (a data-parallel fit passes the
        group's, see :func:`~sk_deepgum._distributed.shard_loss_normaliser`); by
        default it is the mean of ``weights``.
        """
        self.weights.copy_(weights)
        if normaliser is None:
            normaliser = weights.mean().clamp_min(torch.finfo(weights.dtype).tiny)
        self.normaliser.copy_(normaliser)

    def take_rows(self, weights: torch.Tensor) -> None:
        """Per-sample weights (n, D) for a new set of rows, of any row count (a
        ``partial_fit`` chunk); the normaliser becomes their mean."""
        self.weights = weights.clone()
        self.normaliser = weights.mean().clamp_min(torch.finfo(weights.dtype).tiny)

    def release(self) -> None:
        """Drop the training-set weights after fit: they grow with n and prediction
        does not need them (a one-row placeholder keeps the buffers valid)."""
        self.weights = self.weights.new_ones((1, self.weights.shape[1]))
        self.normaliser = self.normaliser.new_tensor(1.0)

    def forward(self, y_pred, y_true, index):
        weights = self.weights[index]
        # The criterion gets the weights too: a robust loss's batch scale is a
        # weighted statistic (an integer weight counts as repeated rows).
        per_element = self.criterion(y_pred, y_true, weight=weights)
        weighted = (weights * per_element).sum()
        return weighted / (self.normaliser * y_pred.shape[0])


@dataclass
class DataParallelTraining:
    """What a data-parallel fit swaps into the net while it trains: the backbone
    wrapped in DistributedDataParallel and the rows every process visits per epoch.

    A plain holder, not an ``nn.Module``: skorch's ``__setattr__`` would register a
    module assigned to the net as one of its components (moved, saved, pickled).
    """

    module: nn.Module
    rows_per_epoch: int


class SkorchNet(NeuralNet):
    """skorch net whose loss weights come from the batch's sample indices.

    Overrides only the hooks it must: the loss (weights by index), inference (strips
    the index before calling the backbone), the iterator (seeded shuffling, whole-batch
    gathers) and the default callbacks (no per-epoch table, no hidden split); and the
    per-batch costs of a small network's step (``_set_training``,
    ``run_single_epoch``, ``train_step``), with skorch's semantics kept. A training
    epoch that no callback listens to per batch runs
    :meth:`_train_epoch_unobserved`, the steps of a hand-written torch loop.
    """

    #: Set only during the training epochs of a data-parallel fit.
    data_parallel_: DataParallelTraining | None = None
    #: The estimator's ``min_rows_per_epoch`` (set by ``_make_net``).
    min_rows_per_epoch: int = 0
    #: Within an epoch: the callbacks that define on_grad_computed, and the
    #: (module, submodules) pairs whose mode _set_training checks.
    _grad_listeners: list | None = None
    _epoch_modules: list | None = None

    @property
    def _default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
        ]

    def infer(self, x, **fit_params):
        # Training forwards go through DistributedDataParallel, whose backward
        # averages the gradients over the group; skorch calls infer only to train.
        dp = self.data_parallel_
        module = self.module_ if dp is None else dp.module
        return module(x["X"], **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred, y_true, X["index"])

    def _set_training(self, training=True):
        # skorch sets the mode of every submodule before every batch; through
        # nn.Module.__setattr__ that walk is a tenth of a small network's step.
        # Reading the flags is cheap, and any submodule in the other mode (put
        # there by a callback, or kept there by the module's own train()) still
        # gets skorch's full call. Within an epoch the submodules are listed once.
        owners = self._epoch_modules or self._mode_owners()
        for module, submodules in owners:
            if any(m.training != training for m in submodules):
                module.train(training)

    def _mode_owners(self) -> list:
        """(module, its submodules) of every torch module and criterion of the net."""
        owners = []
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, nn.Module):
                owners.append((module, list(module.modules())))
        return owners

    def _listeners(self, method_name: str) -> list:
        """The callbacks whose ``method_name`` is their own, not Callback's no-op:
        notifying the others would only call ``pass``."""
        return [
            cb
            for _, cb in self.callbacks_
            if getattr(type(cb), method_name, None)
            is not getattr(Callback, method_name)
        ]

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        # skorch's loop, with its generic per-batch costs cut and its semantics
        # kept: the batch size is the targets' row count (our batches are
        # ({"X", "index"}, y), and skorch's get_len over the input dict costs as much
        # as the loss); the per-batch notifications go only to the callbacks that
        # define them (the net's own on_batch_begin, which opens the history's
        # batch record, always runs); the submodules whose mode _set_training
        # checks are listed once per epoch. A training epoch that no callback
        # listens to per batch takes the lean path of _train_epoch_unobserved.
        if iterator is None:
            return
        begin = self._listeners("on_batch_begin")
        end = self._listeners("on_batch_end")
        self._grad_listeners = self._listeners("on_grad_computed")
        self._epoch_modules = self._mode_owners()
        try:
            if training and not (begin or end or self._grad_listeners or fit_params):
                self._train_epoch_unobserved(iterator, prefix)
                return
            batch_count = 0
            for batch in iterator:
                self.on_batch_begin(self, batch=batch, training=training)
                for cb in begin:
                    cb.on_batch_begin(self, batch=batch, training=training)
                step = step_fn(batch, **fit_params)
                self.history.record_batch(prefix + "_loss", step["loss"].item())
                self.history.record_batch(prefix + "_batch_size", len(batch[1]))
                self.on_batch_end(self, batch=batch, training=training, **step)
                for cb in end:
                    cb.on_batch_end(self, batch=batch, training=training, **step)
                batch_count += 1
            self.history.record(prefix + "_batch_count", batch_count)
        finally:
            self._grad_listeners = None
            self._epoch_modules = None

    def _train_epoch_unobserved(self, iterator, prefix: str) -> None:
        """One training epoch with nothing between the optimiser steps.

        What skorch's ``train_step`` does per batch (zero the gradients, forward,
        loss, backward, ``optimizer.step(closure)`` for every optimizer, the first
        closure's loss reported), without what only a per-batch listener could
        observe: the modes are set once for the epoch, and the batch losses stay
        on the device until the epoch ends, when the history gets every batch's
        loss and size at once (one device sync per epoch instead of one per batch).
        """
        self._set_training(True)
        optimizers = [getattr(self, name + "_") for name in self._optimizers]
        losses, sizes = [], []
        for X_batch, y_batch in iterator:
            losses.append(self._unobserved_step(optimizers, X_batch, y_batch))
            sizes.append(len(y_batch))
        loss_key, size_key = prefix + "_loss", prefix + "_batch_size"
        batch_losses = torch.stack(losses).tolist() if losses else []
        # skorch's new_batch and record_batch, for the whole epoch at once.
        self.history[-1]["batches"].extend(
            {loss_key: loss, size_key: size}
            for loss, size in zip(batch_losses, sizes, strict=True)
        )
        self.history.record(prefix + "_batch_count", len(sizes))

    def _unobserved_step(self, optimizers, X_batch, y_batch) -> torch.Tensor:
        """``optimizer.step(closure)`` for every optimizer; the first evaluation's
        loss, detached (LBFGS evaluates the closure several times per step)."""
        first_loss = []

        def closure():
            for optimizer in optimizers:
                optimizer.zero_grad()
            y_pred = self.infer(X_batch)
            loss = self.get_loss(y_pred, y_batch, X=X_batch, training=True)
            loss.backward()
            if not first_loss:
                first_loss.append(loss.detach())
            return loss

        for optimizer in optimizers:
            optimizer.step(closure)
        return first_loss[0]

    def train_step(self, batch, **fit_params):
        # skorch's step; on_grad_computed goes only to the callbacks that define
        # it, so a step without such a callback builds no parameter generator.
        step_accumulator = self.get_train_step_accumulator()
        listeners = self._grad_listeners
        if listeners is None:
            listeners = self._listeners("on_grad_computed")

        def step_fn():
            self._zero_grad_optimizer()
            step = self.train_step_single(batch, **fit_params)
            step_accumulator.store_step(step)
            if listeners:
                named_parameters = TeeGenerator(self.get_all_learnable_params())
                for cb in listeners:
                    cb.on_grad_computed(
                        self,
                        named_parameters=named_parameters,
                        batch=batch,
                        training=True,
                    )
            return step["loss"]

        self._step_optimizer(step_fn)
        return step_accumulator.get_step()

    def get_iterator(self, dataset, training=False):
        dp = self.data_parallel_
        n_rows = len(dataset) if dp is None else dp.rows_per_epoch
        floor = self.min_rows_per_epoch if training else 0
        cycled = floor > n_rows
        return ShuffledBatches(
            dataset,
            self.batch_size,
            shuffle=training,
            generator=self.batch_generator_,
            rows_per_epoch=max(n_rows, floor) if cycled or dp is not None else None,
            whole_set=cycled and dp is None and len(dataset) <= self.batch_size,
        )


def name_callbacks(callbacks: list | None) -> list[tuple[str, object]]:
    """The ``(name, callback)`` pairs of the estimator's ``callbacks``, named as
    skorch names them (its own ``_uniquely_named_callbacks``, so the semantics are
    skorch's): a ``(name, callback)`` tuple keeps its name, an unnamed callback is
    named after its class (``GradientNormClipping``), unnamed ones of one class get
    ``_1``, ``_2`` ... appended; a name given twice, or equal to one of the net's
    own callbacks' (``epoch_timer``, ``train_loss``), is a ValueError.
    """
    if not callbacks:
        return []
    # Never initialised: a shell whose only use is skorch's naming.
    net = SkorchNet(module=None, criterion=None, callbacks=callbacks)
    own = {name for name, _ in net.get_default_callbacks()}
    return [(n, cb) for n, cb in net._uniquely_named_callbacks() if n not in own]


# ---------------------------------------------------------------------------
# Fit-time state


@dataclass
class FitState:
    """Everything a schedule needs during one ``fit``; assigned to ``self`` at the end.

    Keeping it local means an interrupted or failed refit leaves the previous fitted
    model intact.
    """

    net: SkorchNet
    X: torch.Tensor | DatasetRows  # (n, ...) training inputs on the device
    y: torch.Tensor  # (n, D) scaled targets on the device
    sample_weight: torch.Tensor | None  # (n,) on the device, None = all ones
    X_valid: torch.Tensor | DatasetRows | None
    y_valid: torch.Tensor | None
    sample_weight_valid: torch.Tensor | None
    device: torch.device
    target_scale: np.ndarray  # (D,) target units per scaled unit
    valid_rows: np.ndarray | None  # positions of the held-out rows in the fit data
    epochs_run: int = 0
    history: list = field(default_factory=list)
    best_score: float = math.inf
    best_state: dict | None = None
    # Epoch of the best hold-out check, and what the schedule saved with it.
    best_epoch: int = 0
    best_extra: object = None
    rounds_without_improvement: int = 0
    stopped_early: bool = False
    # Convergence stop without a hold-out (``tol``): the best training objective
    # so far and the checks since it last improved by more than tol.
    best_objective: float = -math.inf
    checks_without_progress: int = 0
    progress: object = None
    # Running mean of the end-of-epoch weights (``swa_start``), None before it starts.
    weight_average: AveragedModel | None = None
    # Data-parallel fit (``fit(..., process_group=...)``): the group and its shards,
    # and the backbone wrapped for training. None in a single-process fit.
    shards: _distributed.Shards | None = None
    data_parallel: DataParallelTraining | None = None
    # A continued fit: warm_start (from the fitted network and mixture) or
    # partial_fit (one pass over a chunk, no weight averaging).
    continued: bool = False
    streaming: bool = False
    # What on_train_begin was sent with (the training rows), None before it.
    train_dataset: object = None
    # Seconds per phase (``fit_seconds_``); built in ``__post_init__`` for the device.
    timer: PhaseTimer = field(init=False)

    def __post_init__(self):
        self.timer = PhaseTimer(self.device)

    def wrap_data_parallel(self, seed: int) -> None:
        """Wrap the backbone for data-parallel training and set the group's loss
        normaliser. DistributedDataParallel's constructor copies the first
        process's parameters and buffers to the others (they already agree when
        every process passes the same ``random_state``)."""
        shards, net = self.shards, self.net
        # Each process shuffles its own shard with its own stream.
        net.batch_generator_ = torch.Generator().manual_seed(seed + shards.rank)
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        wrapped = DistributedDataParallel(
            net.module_, device_ids=device_ids, process_group=shards.group
        )
        self.data_parallel = DataParallelTraining(wrapped, shards.rows_per_epoch)
        self.set_loss_weights(net.criterion_.weights)

    @property
    def process_group(self):
        """The group of a data-parallel fit (for :func:`fit_gum`), else None."""
        return None if self.shards is None else self.shards.group

    @property
    def is_main(self) -> bool:
        """Whether this process reports progress (the first of its group)."""
        return self.shards is None or self.shards.rank == 0

    def set_loss_weights(self, weights: torch.Tensor) -> None:
        """Set the (n, D) loss weights of the next round; in a data-parallel fit
        with the group's normaliser (:func:`_distributed.shard_loss_normaliser`)."""
        criterion = self.net.criterion_
        if self.shards is None:
            criterion.set_weights(weights)
        else:
            normaliser = _distributed.shard_loss_normaliser(self.shards, weights)
            criterion.set_weights(weights, normaliser)

    def set_loss_precision(self, precision: torch.Tensor) -> None:
        """Set the (D, D) precision ``P`` of the quadratic criterion for the next
        round: the loss of a sample is then :math:`\\tfrac12 e^\\top P e`
        (:class:`~sk_deepgum.losses.QuadraticLoss`)."""
        self.net.criterion_.criterion.set_precision(precision)

    @contextlib.contextmanager
    def element_criterion(self, criterion: nn.Module):
        """Train with another element-wise ``criterion`` inside the block (DeepGUM's
        robust warm-up); the loss weights stay, the previous criterion comes back."""
        loss = self.net.criterion_
        previous, loss.criterion = loss.criterion, criterion
        try:
            yield
        finally:
            loss.criterion = previous

    def weighted_mean(
        self, values: torch.Tensor, weights: torch.Tensor | None
    ) -> float:
        """:math:`\\sum_n w_n v_n / \\sum_n w_n` of (n,) values (plain mean without
        weights), over the rows of the whole group in a data-parallel fit."""
        if self.shards is None:
            if weights is None:
                return float(values.mean())
            return float((values @ weights) / weights.sum().clamp_min(1e-12))
        if weights is None:
            total, mass = values.sum(), values.new_tensor(float(values.shape[0]))
        else:
            total, mass = values @ weights, weights.sum()
        sums = self.shards.all_reduce(torch.stack([total, mass]).to(torch.float64))
        return float(sums[0] / sums[1].clamp_min(1e-12))

    def gather_rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """The (n, ...) rows of every process of the group, in rank order (this
        process's alone in a single-process fit)."""
        return tensor if self.shards is None else self.shards.gather_rows(tensor)

    @contextlib.contextmanager
    def training(self):
        """Train through DistributedDataParallel inside the block (data-parallel
        fit); on leaving it, every process gets the first one's buffers."""
        if self.data_parallel is None:
            yield
            return
        self.net.data_parallel_ = self.data_parallel
        try:
            yield
        finally:
            del self.net.data_parallel_
        self.shards.broadcast_buffers(self.net.module_)

    def epoch_loss(self) -> float:
        """The last epoch's training loss; the group's mean in a data-parallel fit,
        written back to the net's history so that every process records it."""
        loss = self.net.history[-1, "train_loss"]
        if self.shards is None:
            return loss
        # Every process runs batches of the same sizes: the plain mean over the
        # group is the mean over all batches.
        loss = self.shards.sum(loss) / self.shards.world_size
        self.net.history.record("train_loss", loss)
        return loss

    def all_rows(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and scaled targets of every row given to ``fit``, in its order."""
        if self.X_valid is None:
            return self.X, self.y
        n = self.X.shape[0] + self.X_valid.shape[0]
        is_valid = torch.zeros(n, dtype=torch.bool, device=self.X.device)
        is_valid[torch.as_tensor(self.valid_rows, device=self.X.device)] = True
        y = self.y.new_empty((n, self.y.shape[1]))
        y[is_valid], y[~is_valid] = self.y_valid, self.y
        if isinstance(self.X, DatasetRows):
            # Lazy inputs: the whole dataset in its own order, nothing to scatter.
            return self.X.whole(), y
        X = self.X.new_empty((n, *self.X.shape[1:]))
        X[is_valid], X[~is_valid] = self.X_valid, self.X
        return X, y

    def residuals(self, X=None, y=None) -> torch.Tensor:
        """Scaled residuals y - f(X), shape (n, D), on the device (no grad)."""
        X = self.X if X is None else X
        y = self.y if y is None else y
        with self.timer.phase("residual_pass"):
            return y - forward_in_fixed_batches(self.net.module_, X)
