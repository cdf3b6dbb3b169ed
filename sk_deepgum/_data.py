"""Training data as tensors: batches that carry sample indices, a torch Dataset as X.

In-memory arrays become an :class:`IndexedDataset` whose batches carry each sample's
index (so per-sample loss weights follow their samples through shuffles), drawn by
:class:`ShuffledBatches`. A map-style torch Dataset of (x, y) pairs is read once for
its targets (:func:`read_dataset_targets`) and then stands in for the input tensor as
a lazy :class:`DatasetRows` view, loaded one batch at a time.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import torch
from torch import nn

from sk_deepgum import _distributed
from sk_deepgum._validation import (
    as_tensor,
)
from sk_deepgum.backbones import MLP

#: Rows per forward pass at inference. Fixed (every chunk is padded to it) so that a
#: row's prediction never depends on which other rows share its batch.
INFERENCE_BATCH_ROWS = 1024
#: ``batch_size='auto'``: the smallest batch, the optimiser steps an epoch keeps
#: as the data grow, and the largest batch (see :func:`resolve_batch_size`).
AUTO_MIN_BATCH, AUTO_STEPS_PER_EPOCH, AUTO_MAX_BATCH = 32, 32, 4096


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


def backbone_class(module) -> type:
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


def dataset_item(dataset, i: int):
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


def sample_tensor(x, i: int) -> torch.Tensor:
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
    n = dataset_length(dataset)
    if n < min_samples:
        raise ValueError(
            f"{estimator_name} needs at least {min_samples} sample(s); the Dataset "
            f"given as X has {n}."
        )
    targets, input_shape, target_shape = [], None, None
    for i in range(n):
        x, y = dataset_item(dataset, i)
        x = sample_tensor(x, i)
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


def dataset_length(dataset) -> int:
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
            x = sample_tensor(dataset_item(self.dataset, i)[0], i)
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
