"""Machinery shared by every network estimator of the package.

One base class, :class:`NetRegressorBase`, owns what DeepGUM and the baselines have in
common: input validation and casting, robust target scaling, seeding, device
resolution, building the backbone, the skorch net held as ``net_`` (composition, never
inheritance from ``NeuralNetRegressor``), per-sample weights that travel with their
samples through shuffled batches (looked up by sample index), an epoch loop driven
through skorch's ``fit_loop`` with our own early stopping, and the no-grad residual
pass. Subclasses only write their schedule (:meth:`NetRegressorBase._run_schedule`).

``X`` may also be a map-style torch Dataset of (x, y) pairs: a pre-pass reads the
targets, and a lazy :class:`DatasetRows` view stands in for the input tensor, so
the schedules run unchanged while inputs are loaded one batch at a time.

``fit(..., process_group=group)`` trains across the processes of a
``torch.distributed`` group (:mod:`sk_deepgum._distributed`): the state carries the
group's :class:`~sk_deepgum._distributed.Shards`, the training forwards go through
DistributedDataParallel, and the few numbers the schedules reduce (loss normaliser,
epoch loss, held-out score) go through :class:`FitState`'s helpers, which are the
single-process arithmetic when there is no group.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
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
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, EpochTimer, PassthroughScoring
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel

from sk_deepgum import _distributed, _persistence
from sk_deepgum._validation import (
    MAD_TO_SD,
    as_tensor,
    replace_fitted_state,
    validate_fit_data,
)
from sk_deepgum._warnings import user_stacklevel
from sk_deepgum.backbones import MLP, build_module

#: Rows per forward pass at inference. Fixed (every chunk is padded to it) so that a
#: row's prediction never depends on which other rows share its batch.
INFERENCE_BATCH_ROWS = 1024
#: ``batch_size='auto'``: the smallest batch, the optimiser steps an epoch keeps
#: as the data grow, and the largest batch (see :func:`resolve_batch_size`).
AUTO_MIN_BATCH, AUTO_STEPS_PER_EPOCH, AUTO_MAX_BATCH = 32, 32, 4096
_PARAM_PREFIXES = ("module__", "optimizer__")
_IQR_TO_SD = 1.0 / 1.349


# ---------------------------------------------------------------------------
# Devices and target scaling


def resolve_device(device) -> torch.device:
    """Turn the ``device`` parameter into a concrete :class:`torch.device`.

    'auto' picks CUDA when available, else the CPU; asking for CUDA on a machine
    without it is a ValueError rather than torch's AssertionError deep in ``fit``.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:N', 'auto' or a torch.device; "
            f"got {device!r}."
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine; use device='cpu' or device='auto'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s)."
            )
    return resolved


def weighted_quantiles(
    values: np.ndarray, weights: np.ndarray | None, quantiles
) -> np.ndarray:
    r"""Weighted quantiles of every column of (n, D) ``values``, shape (Q, D).

    With a column sorted, :math:`x_{(1)} \le \dots \le x_{(n)}`, its weights'
    running sums :math:`c_i` and :math:`h = q\, c_n`, the quantile is
    :math:`\tfrac12 (x_{(\min\{i : c_i \ge h\})} + x_{(\min\{i : c_i > h\})})`
    (the averaged inverse of the weighted CDF): with integer weights it is
    ``np.quantile(..., method='averaged_inverted_cdf')`` of the rows repeated that
    many times, and at q = 1/2 ``np.median`` of them. For 0 < q < 1 (at q = 1 a
    row of zero weight sorted last would be taken; the callers drop such rows).
    """
    if weights is None:
        weights = np.ones(len(values))
    n = len(values)
    order = np.argsort(values, axis=0, kind="stable")
    ordered = np.take_along_axis(values, order, axis=0)
    running = np.cumsum(weights[order], axis=0)
    columns = np.arange(values.shape[1])
    result = []
    for q in np.atleast_1d(quantiles):
        target = q * running[-1]
        lower = np.minimum((running < target).sum(0), n - 1)
        upper = np.minimum((running <= target).sum(0), n - 1)
        result.append(0.5 * (ordered[lower, columns] + ordered[upper, columns]))
    return np.array(result)


def robust_target_scale(y: np.ndarray, sample_weight: np.ndarray | None):
    """Per-output centre (median) and scale (1.4826·MAD → IQR/1.349 → std → 1).

    Outliers corrupt the mean and standard deviation, not the median and MAD. Every
    statistic is weighted by ``sample_weight`` (:func:`weighted_quantiles`), so an
    integer weight counts as that many repeated rows.

    Parameters
    ----------
    y : ndarray of shape (n, D)
    sample_weight : ndarray of shape (n,) or None
        Non-negative row weights (rows with zero weight are ignored).

    Returns
    -------
    centre, scale : ndarray of shape (D,)
    """
    rows, w = y, sample_weight
    if sample_weight is not None:
        kept = sample_weight > 0
        rows, w = y[kept], sample_weight[kept]
    (centre,) = weighted_quantiles(rows, w, 0.5)
    (mad,) = weighted_quantiles(np.abs(rows - centre), w, 0.5)
    scale = MAD_TO_SD * mad
    q25, q75 = weighted_quantiles(rows, w, [0.25, 0.75])
    mean = np.average(rows, axis=0, weights=w)
    std = np.sqrt(np.average((rows - mean) ** 2, axis=0, weights=w))
    fallbacks = [(q75 - q25) * _IQR_TO_SD, std]
    tiny = np.finfo(np.float32).tiny
    for fallback in fallbacks:
        scale = np.where(scale > tiny * np.maximum(np.abs(centre), 1), scale, fallback)
    constant = ~(scale > tiny * np.maximum(np.abs(centre), 1))
    if constant.any():
        warnings.warn(
            f"Target column(s) {np.flatnonzero(constant).tolist()} are constant; "
            "they are left unscaled (scale 1).",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        scale = np.where(constant, 1.0, scale)
    return centre, scale


# ---------------------------------------------------------------------------
# Data in batches


def check_backbone_output(
    module: nn.Module, X_sample: torch.Tensor, n_outputs: int
) -> None:
    """Fail early, naming both shapes, when the backbone's output cannot match ``y``.

    A wrong shape otherwise surfaces as a matmul error deep inside the loss, or worse,
    broadcasts silently ((B,) against (B, 1) gives a (B, B) loss). The probe is a
    no-grad forward pass in eval mode, so it changes neither the weights, the
    BatchNorm statistics nor the random state.

    Parameters
    ----------
    module : nn.Module
        The backbone, already on the device of ``X_sample``.
    X_sample : Tensor of shape (k, *input_shape)
        A few input rows.
    n_outputs : int
        Number of targets D; the output must have shape (k, D).
    """
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(X_sample)
    finally:
        module.train(was_training)
    expected = (X_sample.shape[0], n_outputs)
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"The backbone {type(module).__name__} must return a tensor of shape "
            f"(batch, n_outputs) = {expected}; it returned a {type(out).__name__}."
        )
    if tuple(out.shape) != expected:
        raise ValueError(
            f"The backbone {type(module).__name__} returns shape {tuple(out.shape)} "
            f"for a batch of {expected[0]} samples, but y has {n_outputs} output(s), "
            f"so it must return (batch, n_outputs) = {expected}. Make its last "
            f"layer produce {n_outputs} value(s) per sample (e.g. keep a trailing "
            "dimension of size 1 for a single target)."
        )


def _backbone_class(module) -> type:
    """The class of the backbone that ``build_module(module, ...)`` builds."""
    if module is None:
        return MLP
    return type(module) if isinstance(module, nn.Module) else module


class IndexedDataset(torch.utils.data.Dataset):
    """In-memory (X, y) tensors; batches carry each sample's index.

    The index lets the loss look up per-sample weights (responsibilities), so they
    stay attached to their samples however the batches are shuffled.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor):
        self.X, self.y = X, y

    def __len__(self) -> int:
        return self.X.shape[0]

    def __getitem__(self, i):
        return {"X": self.X[i], "index": i}, self.y[i]


def resolve_batch_size(batch_size: int | str, n_rows: int, lazy: bool) -> int:
    r"""The mini-batch size a fit on ``n_rows`` training rows uses.

    An integer is used as is. ``'auto'`` keeps an epoch at about
    :data:`AUTO_STEPS_PER_EPOCH` optimiser steps whatever the number of rows:

    .. math::

        B = \min\bigl(B_{\max}, \max(B_{\min}, \lceil n / S \rceil)\bigr),
        \qquad B_{\min} = S = 32,\ B_{\max} = 4096,

    so sets of up to 1,024 rows train with batches of 32 (and ``min_rows_per_epoch``
    gives smaller sets 32 steps too), and a larger set does not pay one step per
    32 rows: the fixed cost of a step (skorch, autograd, the optimiser), not its
    rows, dominates a small network's training time. ``lazy`` (a torch Dataset as
    input, read from disk batch by batch, e.g. images) keeps 32: a batch that grows
    with the data could exhaust the accelerator's memory.
    """
    if batch_size != "auto":
        return int(batch_size)
    if lazy:
        return AUTO_MIN_BATCH
    return min(
        AUTO_MAX_BATCH, max(AUTO_MIN_BATCH, math.ceil(n_rows / AUTO_STEPS_PER_EPOCH))
    )


class ShuffledBatches:
    """Iterator over mini-batches of an :class:`IndexedDataset`, one tensor gather
    per batch (a DataLoader would gather sample by sample).

    Batches are as equal as possible (``tensor_split``), so none has a single
    sample (BatchNorm cannot train on one).

    ``rows_per_epoch`` sets the rows an epoch visits when it is not the dataset's
    length: a dataset smaller than that wraps around onto fresh permutations of its
    rows, as ``DistributedSampler`` pads. Data-parallel fits use it so that every
    process of a group runs the same number of batches of the same sizes;
    ``min_rows_per_epoch`` uses it so that a small table gets enough optimiser steps.

    ``whole_set=True`` makes every batch the whole dataset (``len(self)`` full-batch
    steps). For a dataset no larger than one batch this is the cycled epoch without
    its duplicated rows, and it keeps weighted rows equivalent to repeated rows.
    """

    def __init__(
        self,
        dataset,
        batch_size,
        shuffle,
        generator=None,
        rows_per_epoch=None,
        whole_set=False,
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.rows_per_epoch = rows_per_epoch
        self.whole_set = whole_set

    def _n_rows(self) -> int:
        return len(self.dataset) if self.rows_per_epoch is None else self.rows_per_epoch

    def __len__(self) -> int:
        return math.ceil(self._n_rows() / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        if self.whole_set:
            for _ in range(len(self)):
                order = _distributed.padded_order(n, n, self.generator, self.shuffle)
                index = order.to(self.dataset.X.device)
                yield (
                    {"X": self.dataset.X[index], "index": index},
                    self.dataset.y[index],
                )
            return
        if self.rows_per_epoch is not None:
            order = _distributed.padded_order(
                n, self.rows_per_epoch, self.generator, self.shuffle
            )
        elif self.shuffle:
            order = torch.randperm(n, generator=self.generator)
        else:
            order = torch.arange(n)
        order = order.to(self.dataset.X.device)
        for index in torch.tensor_split(order, len(self)):
            yield {"X": self.dataset.X[index], "index": index}, self.dataset.y[index]


# ---------------------------------------------------------------------------
# A torch Dataset as X: a pre-pass for the targets, inputs loaded lazily by index


def is_torch_dataset(X) -> bool:
    """Whether ``X`` is a :class:`torch.utils.data.Dataset` (the lazy input path)."""
    return isinstance(X, torch.utils.data.Dataset)


def _dataset_item(dataset, i: int):
    """The (x, y) pair of sample ``i``; a TypeError names a malformed item."""
    item = dataset[i]
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise TypeError(
            f"A Dataset given as X must yield (x, y) pairs; item {i} is a "
            f"{type(item).__name__}"
            + (f" of length {len(item)}" if isinstance(item, (tuple, list)) else "")
            + "."
        )
    return item


def _as_numeric(value, what: str) -> np.ndarray | torch.Tensor:
    """``value`` as a tensor or array of a numeric (bool/int/float) dtype."""
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise TypeError(f"{what} must be real-valued; got dtype {value.dtype}.")
        return value.detach()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{what} must be a tensor, an array or a number; got "
            f"{type(value).__name__}."
        ) from exc
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{what} must be numeric; got {type(value).__name__} of dtype "
            f"{array.dtype}."
        )
    return array


def _sample_tensor(x, i: int) -> torch.Tensor:
    """The input ``x`` of sample ``i`` as a float32 CPU tensor (the array path's cast)."""
    x = _as_numeric(x, f"The input x of sample {i}")
    # reshape: np.ascontiguousarray (in as_tensor) turns a 0-d array into shape (1,).
    x = x if isinstance(x, torch.Tensor) else as_tensor(x).reshape(x.shape)
    return x.to(dtype=torch.float32, device="cpu")


def read_dataset_targets(dataset, estimator_name: str, min_samples: int = 2):
    """The pre-pass over a Dataset given as ``X``: every target, no input kept.

    Each item is loaded once (a map-style Dataset has no way to return y alone); its
    x is checked (numeric, finite, the same shape as the first sample's) and dropped,
    its y is kept. The (n, D) targets are what robust scaling and EM need up front.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Map-style: ``len(dataset)`` and ``dataset[i] -> (x, y)``, x of any fixed
        per-sample shape, y a number or a 1-D array of fixed length D.
    estimator_name : str
        For the error messages.
    min_samples : int, default=2
        Fewer samples is a ValueError (fit needs 2).

    Returns
    -------
    y : ndarray of shape (n,) or (n, D), float64
        1-D when every y is a number (as a 1-D ``y`` array would be).
    input_shape : tuple of int
        Shape of one input x.
    """
    n = _dataset_length(dataset)
    if n < min_samples:
        raise ValueError(
            f"{estimator_name} needs at least {min_samples} sample(s); the Dataset "
            f"given as X has {n}."
        )
    targets, input_shape, target_shape = [], None, None
    for i in range(n):
        x, y = _dataset_item(dataset, i)
        x = _sample_tensor(x, i)
        if input_shape is None:
            input_shape = tuple(x.shape)
            if not input_shape:
                raise ValueError(
                    "The inputs x of a Dataset given as X must have at least one "
                    "dimension (features, or e.g. (C, H, W)); sample 0 is a scalar."
                )
        elif tuple(x.shape) != input_shape:
            raise ValueError(
                f"Inconsistent input shapes in the Dataset: sample 0 has x of shape "
                f"{input_shape}, sample {i} has {tuple(x.shape)}."
            )
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"The input x of sample {i} contains NaN or infinity.")
        y = _as_numeric(y, f"The target y of sample {i}")
        y = y.cpu().numpy() if isinstance(y, torch.Tensor) else y
        y = np.asarray(y, dtype=np.float64)
        if y.ndim > 1:
            raise ValueError(
                f"The target y of sample {i} has shape {y.shape}; it must be a number "
                "or a 1-D array of outputs."
            )
        if target_shape is None:
            target_shape = y.shape
        elif y.shape != target_shape:
            raise ValueError(
                f"Inconsistent target shapes in the Dataset: sample 0 has y of shape "
                f"{target_shape}, sample {i} has {y.shape}."
            )
        if not np.isfinite(y).all():
            raise ValueError(f"The target y of sample {i} contains NaN or infinity.")
        targets.append(y)
    if target_shape == (0,):
        raise ValueError("The targets y of the Dataset are empty 1-D arrays.")
    return np.stack(targets), input_shape


def _dataset_length(dataset) -> int:
    if isinstance(dataset, torch.utils.data.IterableDataset):
        raise TypeError(
            "An IterableDataset cannot be given as X: samples are looked up by "
            "index (for shuffled batches and per-sample responsibilities); use a "
            "map-style Dataset with __len__ and __getitem__."
        )
    try:
        return len(dataset)
    except TypeError as exc:
        raise TypeError(
            f"A Dataset given as X must define __len__; {type(dataset).__name__} "
            "does not."
        ) from exc


class DatasetRows:
    """Lazy stand-in for the (n, \\*input_shape) input tensor, backed by a Dataset.

    It offers the few tensor operations the training code uses on ``X``: ``shape``,
    ``device``, ``len`` and indexing by an int, a slice, or an index array/tensor,
    which loads just those samples through ``dataset[i]`` and stacks their x into a
    float32 tensor on ``device`` (a DataLoader-style gather). Batches, the residual
    pass and prediction therefore hold one batch of inputs at a time, never all of
    them.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Map-style, yielding (x, y); y is ignored here.
    rows : ndarray of int of shape (m,)
        The dataset indices this view covers, in order (a train or hold-out split).
    input_shape : tuple of int
        Expected shape of every x; another shape is a ValueError.
    device : torch.device
        Where gathered batches are sent.
    """

    def __init__(self, dataset, rows: np.ndarray, input_shape: tuple, device):
        self.dataset = dataset
        self.rows = np.asarray(rows, dtype=np.int64)
        self.input_shape = tuple(input_shape)
        self.device = torch.device(device)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> tuple:
        return (len(self.rows), *self.input_shape)

    def on(self, device) -> DatasetRows:
        """The same view, gathering onto ``device``."""
        return DatasetRows(self.dataset, self.rows, self.input_shape, device)

    def subset(self, positions) -> DatasetRows:
        """A lazy view of the positions ``positions`` of this view (no loading)."""
        return DatasetRows(
            self.dataset, self.rows[positions], self.input_shape, self.device
        )

    def whole(self) -> DatasetRows:
        """A view of every sample of the dataset, in its order."""
        return DatasetRows(
            self.dataset, np.arange(len(self.dataset)), self.input_shape, self.device
        )

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, Integral):  # one sample, no batch dimension (as a tensor)
            return self[[index]][0]
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        rows = np.atleast_1d(self.rows[index])
        samples = []
        for i in rows.tolist():
            x = _sample_tensor(_dataset_item(self.dataset, i)[0], i)
            if tuple(x.shape) != self.input_shape:
                raise ValueError(
                    f"Sample {i} of the Dataset has x of shape {tuple(x.shape)}; "
                    f"expected {self.input_shape}."
                )
            samples.append(x)
        if not samples:
            return torch.empty((0, *self.input_shape), device=self.device)
        return torch.stack(samples).to(self.device)

    def chunks(self, size: int):
        """Consecutive gathered batches of at most ``size`` samples."""
        for start in range(0, len(self.rows), size):
            yield self[start : start + size]


def flush_subnormal_parameters(module: nn.Module) -> None:
    """Set the backbone's subnormal parameters (0 < |θ| < the dtype's smallest normal
    number, 1.2e-38 in float32) to exactly 0.

    Adam's coupled L2 penalty (``weight_decay``) drives the weights of units that
    get no data gradient towards 0 and into the subnormal range, where CPU arithmetic
    is many times slower: on ``benchmarks/bench_scaling.py``'s 1e6-row fit, 31 of
    about 4,900 weights ended subnormal and the residual passes took 1.18 s without
    this call against 0.52 s with it (the same command run before and after it was
    added). Called after every epoch; such a weight contributes nothing float32 can
    resolve.
    """
    with torch.no_grad():
        for p in module.parameters():
            if p.is_floating_point():
                p.masked_fill_(p.abs() < torch.finfo(p.dtype).tiny, 0.0)


def forward_in_fixed_batches(
    module: nn.Module, X: torch.Tensor | DatasetRows
) -> torch.Tensor:
    """No-grad forward pass in eval mode, every chunk padded to
    :data:`INFERENCE_BATCH_ROWS` rows so results do not depend on the batch.

    ``X`` is a tensor or a lazy :class:`DatasetRows` view (loaded chunk by chunk).
    """
    was_training = module.training
    module.eval()
    outputs = []
    # A lazy Dataset view gathers its chunks one at a time (same chunks, same result).
    if isinstance(X, DatasetRows):
        chunks = X.chunks(INFERENCE_BATCH_ROWS)
    else:
        chunks = torch.split(X, INFERENCE_BATCH_ROWS)
    with torch.no_grad():
        for chunk in chunks:
            rows = chunk.shape[0]
            if rows < INFERENCE_BATCH_ROWS:
                padded = chunk.new_zeros((INFERENCE_BATCH_ROWS, *chunk.shape[1:]))
                padded[:rows] = chunk
                chunk = padded
            outputs.append(module(chunk)[:rows])
    module.train(was_training)
    return torch.cat(outputs)


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


class _SkorchNet(NeuralNet):
    """skorch net whose loss weights come from the batch's sample indices.

    Overrides only the hooks it must: the loss (weights by index), inference (strips
    the index before calling the backbone), the iterator (seeded shuffling, whole-batch
    gathers) and the default callbacks (no per-epoch table, no hidden split); and two
    per-batch costs of a small network's step (``_set_training``,
    ``run_single_epoch``), with skorch's semantics kept.
    """

    #: Set only during the training epochs of a data-parallel fit.
    data_parallel_: DataParallelTraining | None = None
    #: The estimator's ``min_rows_per_epoch`` (set by ``_make_net``).
    min_rows_per_epoch: int = 0

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
        # gets skorch's full call.
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, nn.Module) and any(
                m.training != training for m in module.modules()
            ):
                module.train(training)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        # skorch's loop, except that the batch size is the targets' row count: our
        # batches are ({"X", "index"}, y), and skorch's generic get_len over the
        # input dict costs as much as the loss.
        if iterator is None:
            return
        batch_count = 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            self.history.record_batch(prefix + "_loss", step["loss"].item())
            self.history.record_batch(prefix + "_batch_size", len(batch[1]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
            batch_count += 1
        self.history.record(prefix + "_batch_count", batch_count)

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


# ---------------------------------------------------------------------------
# Fit-time state


@dataclass
class FitState:
    """Everything a schedule needs during one ``fit``; assigned to ``self`` at the end.

    Keeping it local means an interrupted or failed refit leaves the previous fitted
    model intact.
    """

    net: _SkorchNet
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
        return y - forward_in_fixed_batches(self.net.module_, X)


# ---------------------------------------------------------------------------
# Base estimator


class NetRegressorBase(RegressorMixin, BaseEstimator):
    """Common fit/predict logic of the package's network regressors.

    Subclasses define ``__init__`` (keyword-only parameters, including those listed in
    :attr:`_net_parameter_constraints`), ``_make_criterion`` and ``_run_schedule``.
    Backbone and optimizer keyword arguments are accepted skorch-style as
    ``module__<name>`` / ``optimizer__<name>`` and behave as ordinary parameters
    (``get_params``, ``set_params``, ``clone``, grid search).
    """

    _net_parameter_constraints: dict = {
        "module": [None, type, nn.Module],
        "optimizer": [type],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
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
        "device": [StrOptions({"auto", "cpu", "cuda"}), str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # -- parameters: module__* / optimizer__* ------------------------------------

    def _store_prefixed_kwargs(self, kwargs: dict) -> None:
        # sklearn: __init__ only stores, and must not raise
        # (check_do_not_raise_errors_in_init_or_set_params); fit refuses strays.
        for key, value in kwargs.items():
            setattr(self, key, value)

    def _refuse_unknown(self, names: list, where: str) -> None:
        if names:
            raise InvalidParameterError(
                f"{type(self).__name__} got unexpected keyword argument(s) "
                f"{sorted(names)} in {where}; valid parameters are "
                f"{sorted(super()._get_param_names())}, plus module__<name> and "
                "optimizer__<name> for the backbone and the optimizer."
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
        names = super()._get_param_names()
        return sorted(
            [*names, *(k for k in vars(self) if k.startswith(_PARAM_PREFIXES))]
        )

    def set_params(self, **params):
        # module__* / optimizer__* are stored as given; any other name goes
        # through BaseEstimator.set_params, which refuses unknown ones by name.
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
        if is_torch_dataset(X):
            X, y, seen = self._validate_dataset(X, y)
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
            sample_weight = _check_sample_weight(
                sample_weight, y, dtype=np.float64, ensure_non_negative=True
            )
        for cb in self.callbacks or []:
            cb_obj = cb[1] if isinstance(cb, tuple) else cb
            if isinstance(cb_obj, EarlyStopping) or cb_obj is EarlyStopping:
                raise ValueError(
                    "skorch's EarlyStopping stops training by raising KeyboardInterrupt, "
                    "which would also swallow a real Ctrl-C; use validation_fraction and "
                    "n_iter_no_change instead (early stopping on a loss outliers cannot "
                    "dominate)."
                )
        return X, y, sample_weight, seen

    def _validate_dataset(self, dataset, y):
        """A Dataset as ``X``: the lazy input view (CPU until ``_make_state``), the
        targets of the pre-pass and ``n_features_in_`` (the first input dimension,
        as ``X.shape[1]`` of an array)."""
        if y is not None:
            raise TypeError(
                "y must be None when X is a torch Dataset: the targets are read from "
                "its (x, y) items."
            )
        y, input_shape = read_dataset_targets(dataset, type(self).__name__)
        rows = DatasetRows(dataset, np.arange(len(y)), input_shape, "cpu")
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
        if group is None:
            centre, scale = robust_target_scale(y_2d, sample_weight)
        else:
            shards, sample_weight = self._agree_on_shards(
                group, X, y_2d, sample_weight, valid_rows, device
            )
            centre, scale = self._group_target_scale(shards, y_2d, sample_weight)
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
            )
            extra = self._run_schedule(state)

        # Assign only now: an interrupted refit leaves the previous model intact.
        # The group and the DDP wrapper stay in ``state``: nothing unpicklable is
        # kept, and net_.module_ is the plain backbone on every process.
        state.net.criterion_.release()
        replace_fitted_state(
            self,
            {
                **seen,
                "net_": state.net,
                "device_": str(device),
                "batch_size_": state.net.batch_size,
                "input_shape_": tuple(X.shape[1:]),
                "n_outputs_": n_outputs,
                "target_centre_": centre,
                "target_scale_": scale,
                "n_iter_": state.epochs_run,
                "history_": state.history,
                **extra,
            },
        )
        self._y_ndim = y.ndim
        return self

    def _agree_on_shards(self, group, X, y_2d, sample_weight, valid_rows, device):
        """Exchange and check each process's shard summary; a process without
        ``sample_weight`` weighs its rows 1 when another process has weights."""
        n = len(y_2d)
        train = np.ones(n, dtype=bool)
        if valid_rows is not None:
            train[valid_rows] = False
        positive = (
            np.ones(n, dtype=bool) if sample_weight is None else sample_weight > 0
        )
        shards = _distributed.agree_on_shards(
            group,
            device,
            failed=False,
            n_rows=n,
            n_train=int(train.sum()),
            layout=_distributed.layout_code(X.shape[1:], y_2d.shape[1]),
            weighted=sample_weight is not None,
            positive_rows=int(positive.sum()),
            positive_train=int(positive[train].sum()),
        )
        if shards.weighted and sample_weight is None:
            sample_weight = np.ones(n)
        return shards, sample_weight

    @staticmethod
    def _group_target_scale(shards, y_2d, sample_weight):
        """The robust target scale of every row of the group, the same on every
        process: the targets (and weights) are all-gathered, being small next to
        the inputs, and scaled as one process holding them all would scale them."""
        as_t = partial(torch.as_tensor, dtype=torch.float64, device=shards.device)
        y_all = shards.gather_rows(as_t(y_2d)).cpu().numpy()
        w_all = None
        if sample_weight is not None:
            w_all = shards.gather_rows(as_t(sample_weight)).cpu().numpy()
        return robust_target_scale(y_all, w_all)

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
    ):
        if isinstance(X, DatasetRows):
            X_t = X.on(device)  # batches are gathered onto the device when needed
        else:
            X_t = as_tensor(X).to(dtype=torch.float32, device=device)
        y_t = torch.as_tensor(y_scaled, dtype=torch.float32, device=device)
        w_t = None
        if sample_weight is not None:
            w_t = torch.as_tensor(sample_weight, dtype=torch.float32, device=device)
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
            # (A data-parallel fit checked the group's rows in _agree_on_shards.)
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
        )
        if shards is not None:
            self._prepare_data_parallel(state, seed)
        return state

    @staticmethod
    def _prepare_data_parallel(state: FitState, seed: int) -> None:
        """Wrap the backbone for data-parallel training and set the group's loss
        normaliser. DistributedDataParallel's constructor copies the first
        process's parameters and buffers to the others (they already agree when
        every process passes the same ``random_state``)."""
        shards, net = state.shards, state.net
        # Each process shuffles its own shard with its own stream.
        net.batch_generator_ = torch.Generator().manual_seed(seed + shards.rank)
        device_ids = [state.device.index] if state.device.type == "cuda" else None
        wrapped = DistributedDataParallel(
            net.module_, device_ids=device_ids, process_group=shards.group
        )
        state.data_parallel = DataParallelTraining(wrapped, shards.rows_per_epoch)
        state.set_loss_weights(net.criterion_.weights)

    def _make_net(
        self,
        module: nn.Module,
        criterion: nn.Module,
        device: torch.device,
        seed: int,
        batch_size: int,
    ) -> _SkorchNet:
        """The initialised skorch net around ``module`` (moved to ``device``)."""
        net = _SkorchNet(
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
        )
        net.batch_generator_ = torch.Generator().manual_seed(seed)
        net.min_rows_per_epoch = self.min_rows_per_epoch
        net.initialize()
        return net

    def _optimizer_kwargs(self) -> dict:
        """The ``optimizer__*`` arguments plus ``weight_decay`` (when non-zero)."""
        kwargs = self._prefixed("optimizer__")
        if "weight_decay" in kwargs:
            raise ValueError(
                "Set the weight decay with the weight_decay parameter, not "
                "optimizer__weight_decay."
            )
        if self.weight_decay == 0:
            # Left out so optimizers without a weight_decay argument work.
            return kwargs
        accepted = inspect.signature(self.optimizer).parameters
        if "weight_decay" not in accepted and not any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()
        ):
            raise TypeError(
                f"The optimizer {self.optimizer.__name__} has no weight_decay "
                f"argument; set weight_decay=0 (it is {self.weight_decay})."
            )
        return {**kwargs, "weight_decay": self.weight_decay}

    def _train_epochs(
        self, state: FitState, epochs: int, describe: Callable | None = None
    ):
        """Run ``epochs`` SGD epochs through skorch's ``fit_loop``.

        ``fit_loop`` (unlike ``partial_fit``) lets a KeyboardInterrupt reach the caller.
        """
        net = state.net
        dataset = IndexedDataset(state.X, state.y)
        if state.epochs_run == 0:
            net.notify("on_train_begin", X=dataset, y=None)
        with state.training():
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

    def _update_weight_average(self, state: FitState) -> None:
        """Stochastic weight averaging over the last epochs (``swa_start``).

        From epoch :math:`e_0 = \\lfloor s \\cdot E \\rfloor + 1` on (:math:`s` =
        ``swa_start``, :math:`E` = ``max_epochs``) the end-of-epoch weights enter an
        equal-weight running mean, :math:`\\bar\\theta_m = \\bar\\theta_{m-1} +
        (\\theta_m - \\bar\\theta_{m-1}) / m` (``torch.optim.swa_utils.AveragedModel``;
        float buffers such as batch-norm statistics are averaged alike). After epoch
        :math:`E` the mean replaces the weights, so every later residual, EM round
        and prediction uses it. A fit that stops early never reaches :math:`E` and
        keeps its restored best weights.
        """
        if self.swa_start is None:
            return
        first_epoch = math.floor(self.swa_start * self.max_epochs) + 1
        if state.epochs_run < first_epoch:
            return
        module = state.net.module_
        if state.weight_average is None:
            state.weight_average = AveragedModel(module, use_buffers=True)
        state.weight_average.update_parameters(module)
        if state.epochs_run == self.max_epochs:
            self._end_weight_average(state)

    def _early_stopping_step(
        self, state: FitState, score: float, extra: object = None
    ) -> bool:
        """Record a hold-out check; return True when the patience is exhausted.

        A check improves when :math:`s < s^* - 10^{-4} |s^*|` (:math:`s^*` the best
        score so far; the first finite score always improves). The network, the
        epoch and ``extra`` (what the schedule needs to describe that network, e.g.
        DeepGUM's mixture) are kept for :meth:`_restore_best`.
        """
        best = state.best_score
        improved = math.isfinite(score) and (
            not math.isfinite(best) or score < best - 1e-4 * abs(best)
        )
        if improved:
            state.best_score = score
            state.best_state = copy.deepcopy(state.net.module_.state_dict())
            state.best_epoch = state.epochs_run
            state.best_extra = extra
            state.rounds_without_improvement = 0
            return False
        state.rounds_without_improvement += 1
        state.stopped_early = (
            state.rounds_without_improvement >= self.n_iter_no_change
            and state.epochs_run < self.max_epochs
        )
        return state.rounds_without_improvement >= self.n_iter_no_change

    def _restore_best(self, state: FitState) -> bool:
        """Return to the best checked network when the last check was not it.

        ``n_iter_`` then counts the epochs of the returned network (``history_``
        keeps every check). Returns whether a network was restored.
        """
        if state.best_state is None or state.rounds_without_improvement == 0:
            return False
        state.net.module_.load_state_dict(state.best_state)
        last_epoch = state.epochs_run
        state.epochs_run = state.best_epoch
        if state.progress is not None:
            reason = (
                f"stopped early at epoch {last_epoch}: no hold-out improvement in "
                f"{state.rounds_without_improvement} checks"
                if state.stopped_early
                else f"the last check (epoch {last_epoch}) was not the best"
            )
            state.progress.message(
                f"{reason}; restored the network of epoch {state.best_epoch} "
                f"(hold-out score {state.best_score:.6g})."
            )
        return True

    def _converged(self, state: FitState, objective: float, what: str) -> bool:
        """Record the training objective (higher is better) of the last epoch or
        round; return True when the fit should stop as converged.

        Only without a hold-out and with ``tol`` set (as ``MLPRegressor``'s
        ``tol``): a check improves when :math:`J > J^* + \\mathrm{tol}` (:math:`J^*`
        the best objective so far; the first finite one always improves), and the
        fit stops after ``n_iter_no_change`` consecutive checks without improvement,
        unless ``max_epochs`` ends it anyway.
        """
        if self.tol is None or state.X_valid is not None:
            return False
        if math.isfinite(objective) and objective > state.best_objective + self.tol:
            state.best_objective = objective
            state.checks_without_progress = 0
            return False
        state.checks_without_progress += 1
        if (
            state.checks_without_progress < self.n_iter_no_change
            or state.epochs_run >= self.max_epochs
        ):
            return False
        if state.progress is not None:
            state.progress.message(
                f"converged at epoch {state.epochs_run}: the {what} improved by no "
                f"more than tol={self.tol:g} in {state.checks_without_progress} checks."
            )
        return True

    @staticmethod
    def _end_weight_average(state: FitState) -> bool:
        """The running weight average (``swa_start``), if it has started, replaces
        the weights: after ``max_epochs``, or at a convergence stop. Returns
        whether it did."""
        if state.weight_average is None:
            return False
        state.net.module_.load_state_dict(state.weight_average.module.state_dict())
        state.weight_average = None
        return True

    # -- predict ---------------------------------------------------------------

    def _validate_predict_X(self, X) -> np.ndarray | DatasetRows:
        check_is_fitted(self)
        if is_torch_dataset(X):
            # Predict on a Dataset: its y is ignored, its x are loaded chunk by chunk.
            n = _dataset_length(X)
            if n == 0:
                raise ValueError("The Dataset given as X is empty.")
            x0 = _sample_tensor(_dataset_item(X, 0)[0], 0)
            if tuple(x0.shape) != self.input_shape_:
                raise ValueError(
                    f"The Dataset's x have shape {tuple(x0.shape)} but "
                    f"{type(self).__name__} was fitted on samples of shape "
                    f"{self.input_shape_}."
                )
            return DatasetRows(X, np.arange(n), self.input_shape_, "cpu")
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
        skorch's per-epoch ``net_.history``. Use pickle or joblib for a complete
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
        directory = Path(path)
        params, unsaved = {}, []
        for name, value in self.get_params(deep=False).items():
            if name == "module":  # recorded as module_class; given again at load
                unsaved.append(name)
                continue
            try:
                params[name] = _persistence.to_json(value)
            except _persistence.UnsavableError:
                unsaved.append(name)
        attributes = {}
        for name, value in vars(self).items():
            fitted = name.endswith("_") and not name.startswith("_")
            if name == "net_" or name in params or name in unsaved:
                continue
            if fitted or name in self._PRIVATE_FITTED:
                try:
                    attributes[name] = _persistence.to_json(value)
                except _persistence.UnsavableError as exc:
                    raise TypeError(
                        f"Cannot save the fitted attribute {name!r}: {exc}."
                    ) from exc
        from sk_deepgum import __version__

        document = {
            "format": _persistence.FORMAT,
            "format_version": _persistence.FORMAT_VERSION,
            "sk_deepgum_version": __version__,
            "estimator": type(self).__name__,
            "module_class": _persistence.qualified_name(type(self.net_.module_)),
            "params": params,
            "unsaved_params": unsaved,
            "attributes": attributes,
        }
        state_dict = {
            k: v.detach().cpu() for k, v in self.net_.module_.state_dict().items()
        }
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(state_dict, directory / _persistence.MODULE_FILE)
        with open(directory / _persistence.ESTIMATOR_FILE, "w", encoding="utf-8") as f:
            json.dump(document, f)

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
        json_file = directory / _persistence.ESTIMATOR_FILE
        weights_file = directory / _persistence.MODULE_FILE
        for file in (json_file, weights_file):
            if not file.is_file():
                raise FileNotFoundError(
                    f"{file} not found: load_params expects the directory written "
                    "by save_params."
                )
        with open(json_file, encoding="utf-8") as f:
            document = json.load(f)
        if (
            document.get("format") != _persistence.FORMAT
            or document.get("format_version", math.inf) > _persistence.FORMAT_VERSION
        ):
            raise ValueError(
                f"{json_file} is not a save_params file of a format this version "
                f"reads (format {document.get('format')!r}, version "
                f"{document.get('format_version')!r})."
            )
        if document["estimator"] != type(self).__name__:
            raise ValueError(
                f"{directory} holds a {document['estimator']}; it cannot be loaded "
                f"into a {type(self).__name__}."
            )
        saved_class = document["module_class"]
        own_class = _persistence.qualified_name(_backbone_class(self.module))
        if own_class != saved_class:
            raise ValueError(
                f"{directory} holds the weights of a {saved_class} backbone but this "
                f"estimator builds a {own_class}; construct it with the same module "
                "as the saved one."
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
        # Files written before batch_size_ existed had an integer batch_size.
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
