"""Training data as tensors: batches that carry sample indices, a torch Dataset as X.

In-memory arrays become an :class:`IndexedDataset` whose batches carry each sample's
index (so per-sample loss weights follow their samples through shuffles), drawn by
:class:`ShuffledBatches`. A map-style torch Dataset of (x, y) pairs is read once for
its targets (:func:`read_dataset_targets`) and then stands in for the input tensor as
a lazy :class:`DatasetRows` view, loaded one batch at a time: the training batches and
the inference chunks through a :class:`torch.utils.data.DataLoader` that loads the
batches of indices the estimator draws (:class:`BatchLoader`), with the user's
``iterator_train__*`` / ``iterator_valid__*`` arguments (workers, pinned memory ...).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
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

    def _whole_set_order(self) -> torch.Tensor:
        n = len(self.dataset)
        return _distributed.padded_order(n, n, self.generator, self.shuffle)

    def _epoch_order(self) -> torch.Tensor:
        n = len(self.dataset)
        if self.rows_per_epoch is not None:
            return _distributed.padded_order(
                n, self.rows_per_epoch, self.generator, self.shuffle
            )
        if self.shuffle:
            return torch.randperm(n, generator=self.generator)
        return torch.arange(n)

    def __iter__(self):
        X, y = self.dataset.X, self.dataset.y
        if isinstance(X, DatasetRows):
            yield from self._load_from_dataset(X, y)
            return
        if self.whole_set:
            for _ in range(len(self)):
                index = self._whole_set_order().to(X.device)
                yield {"X": X[index], "index": index}, y[index]
            return
        order = self._epoch_order().to(X.device)
        for index in torch.tensor_split(order, len(self)):
            yield {"X": X[index], "index": index}, y[index]

    def _worker_seed(self) -> int:
        """A seed for the DataLoader's workers drawn from a copy of the shuffling
        stream (``random_state``), so reproducible, different for every
        ``partial_fit`` call, and leaving the batches those of the tensor path."""
        if self.generator is None:
            return 0
        stream = torch.Generator()
        stream.set_state(self.generator.get_state())
        return int(torch.randint(2**62, (), generator=stream))

    def _load_from_dataset(self, X: DatasetRows, y: torch.Tensor):
        # The epoch's batches are drawn up front, from the same generator calls as
        # the tensor path makes (same batches, so the same model as an array fit),
        # and then loaded by the DataLoader, whose workers may run ahead.
        if self.whole_set:
            batches = [self._whole_set_order() for _ in range(len(self))]
        else:
            batches = list(torch.tensor_split(self._epoch_order(), len(self)))
        inputs = X.load(batches, training=True, seed=self._worker_seed())
        for index, x in zip(batches, inputs, strict=True):
            index = index.to(y.device)
            yield {"X": x, "index": index}, y[index]


# ---------------------------------------------------------------------------
# A torch Dataset as X: a pre-pass for the targets, inputs loaded lazily by index


def fit_tensors(X, y_scaled: np.ndarray, sample_weight, device: torch.device):
    """The inputs, scaled targets and sample weights of a fit on ``device``, in
    float32 (the training arithmetic's dtype; weights included, so that weights of
    1 are no weights to the last bit); a lazy :class:`DatasetRows` input stays
    lazy. Returns ``(X, y, sample_weight or None)``."""
    if isinstance(X, DatasetRows):
        X_t = X.on(device)  # batches are gathered onto the device when needed
    else:
        X_t = as_tensor(X).to(dtype=torch.float32, device=device)
    y_t = torch.as_tensor(y_scaled, dtype=torch.float32, device=device)
    w_t = None
    if sample_weight is not None:
        w_t = torch.as_tensor(sample_weight, dtype=torch.float32, device=device)
    return X_t, y_t, w_t


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


def load_input(dataset, i: int, input_shape: tuple) -> torch.Tensor:
    """The input x of sample ``i`` as a float32 CPU tensor of shape ``input_shape``
    (another shape is a ValueError)."""
    x = sample_tensor(dataset_item(dataset, i)[0], i)
    if tuple(x.shape) != input_shape:
        raise ValueError(
            f"Sample {i} of the Dataset has x of shape {tuple(x.shape)}; "
            f"expected {input_shape}."
        )
    return x


#: The DataLoader arguments the estimator sets itself, refused in
#: ``iterator_train__*`` / ``iterator_valid__*``: the batches are its own index
#: batches (seeded shuffling, responsibilities looked up by index), loaded in order,
#: and the workers' seeds follow ``random_state``.
OWNED_LOADER_ARGUMENTS = (
    "dataset",
    "batch_size",
    "shuffle",
    "sampler",
    "batch_sampler",
    "drop_last",
    "generator",
    "in_order",
)


def check_loader_kwargs(kwargs: dict, prefix: str) -> dict:
    """The user's DataLoader arguments given as ``<prefix><name>``, checked.

    An argument the estimator owns (:data:`OWNED_LOADER_ARGUMENTS`) is a
    ValueError, a name DataLoader does not take a TypeError; both name it.
    """
    owned = [k for k in OWNED_LOADER_ARGUMENTS if k in kwargs]
    if owned:
        raise ValueError(
            f"{', '.join(prefix + k for k in owned)}: the estimator sets the "
            f"DataLoader's {', '.join(OWNED_LOADER_ARGUMENTS)} itself (its batches "
            "are its own seeded index batches, loaded in order). Set the batch size "
            "with the estimator's batch_size."
        )
    accepted = [
        k
        for k in inspect.signature(torch.utils.data.DataLoader).parameters
        if k not in ("self", *OWNED_LOADER_ARGUMENTS)
    ]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(
            f"{', '.join(prefix + k for k in unknown)}: not an argument of "
            f"torch.utils.data.DataLoader; {prefix}* takes {sorted(accepted)}."
        )
    return dict(kwargs)


@dataclass(frozen=True)
class LoaderOptions:
    """The user's DataLoader arguments for a Dataset input (checked by
    :func:`check_loader_kwargs`): ``train`` for the training batches, ``valid``
    for the inference passes (residual passes, hold-out, predict)."""

    train: dict = field(default_factory=dict)
    valid: dict = field(default_factory=dict)


class _DatasetInputs(torch.utils.data.Dataset):
    """What the DataLoader's workers read: each sample's checked input x
    (:func:`load_input`), or with a user ``collate_fn`` the Dataset's own (x, y)
    item, as that function would get it from ``DataLoader(dataset)``."""

    def __init__(self, dataset, input_shape: tuple, raw_items: bool):
        self.dataset = dataset
        self.input_shape = input_shape
        self.raw_items = raw_items

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i):
        if self.raw_items:
            return dataset_item(self.dataset, i)
        return load_input(self.dataset, i, self.input_shape)


class _IndexBatches:
    """The DataLoader's batch sampler: the dataset indices of each batch of the
    current pass, set before the pass. One DataLoader serves every pass of a fit,
    so ``persistent_workers=True`` keeps its workers from one pass to the next."""

    def __init__(self):
        self.batches: list = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class BatchLoader:
    """Loads the inputs of given batches of dataset indices through one
    :class:`torch.utils.data.DataLoader` built with the user's arguments.

    The batches are the estimator's (``batch_sampler``), loaded in their order, so
    the result does not depend on ``num_workers``. The DataLoader draws its workers'
    base seed from its own generator, seeded with ``seed`` (never from the global
    RNG, which the training's dropout uses).
    """

    def __init__(self, dataset, input_shape: tuple, kwargs: dict, seed: int):
        kwargs = dict(kwargs)
        collate_fn = kwargs.pop("collate_fn", None)
        self.input_shape = input_shape
        self._sampler = _IndexBatches()
        self._loader = torch.utils.data.DataLoader(
            _DatasetInputs(dataset, input_shape, raw_items=collate_fn is not None),
            batch_sampler=self._sampler,
            collate_fn=collate_fn,
            generator=torch.Generator().manual_seed(int(seed)),
            **kwargs,
        )
        self._custom_collate = collate_fn is not None

    def load(self, batches: list[np.ndarray], device) -> Iterator[torch.Tensor]:
        """The (len(batch), \\*input_shape) float32 inputs of each batch of dataset
        indices, on ``device``."""
        self._sampler.batches = [np.asarray(b).tolist() for b in batches]
        for rows, x in zip(self._sampler.batches, self._loader, strict=True):
            if self._custom_collate:
                x = self._collated_inputs(x, len(rows))
            yield x.to(device, non_blocking=x.is_pinned())

    def _collated_inputs(self, batch, n: int) -> torch.Tensor:
        # A collate_fn returns the inputs, or an (inputs, targets) pair as torch's
        # default_collate does; the targets are the pre-pass's.
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        x = _as_numeric(x, "The batch returned by iterator_*__collate_fn")
        x = x if isinstance(x, torch.Tensor) else torch.as_tensor(x)
        if tuple(x.shape) != (n, *self.input_shape):
            raise ValueError(
                f"The batch returned by iterator_*__collate_fn has inputs of shape "
                f"{tuple(x.shape)}; expected {(n, *self.input_shape)} (the batch's "
                "size and the shape of one input)."
            )
        return x.to(torch.float32)


class DatasetRows:
    """Lazy stand-in for the (n, \\*input_shape) input tensor, backed by a Dataset.

    It offers the few tensor operations the training code uses on ``X``: ``shape``,
    ``device``, ``len`` and indexing by an int, a slice, or an index array/tensor,
    which loads just those samples through ``dataset[i]`` in this process and
    stacks their x into a float32 tensor on ``device``. The training batches
    (:meth:`load`) and the inference chunks (:meth:`chunks`) go through a
    DataLoader with the ``loaders`` options instead. Batches, the residual pass and
    prediction therefore hold one batch of inputs at a time, never all of them.

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
    loaders : LoaderOptions or None, default=None
        The user's DataLoader arguments; None: torch's defaults.
    """

    def __init__(
        self,
        dataset,
        rows: np.ndarray,
        input_shape: tuple,
        device,
        loaders: LoaderOptions | None = None,
    ):
        self.dataset = dataset
        self.rows = np.asarray(rows, dtype=np.int64)
        self.input_shape = tuple(input_shape)
        self.device = torch.device(device)
        self.loaders = LoaderOptions() if loaders is None else loaders
        # One DataLoader per purpose for the life of the view ("train", "valid").
        self._batch_loaders: dict = {}

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> tuple:
        return (len(self.rows), *self.input_shape)

    def _view(self, rows, device) -> DatasetRows:
        return DatasetRows(self.dataset, rows, self.input_shape, device, self.loaders)

    def on(self, device) -> DatasetRows:
        """The same view, gathering onto ``device``."""
        return self._view(self.rows, device)

    def subset(self, positions) -> DatasetRows:
        """A lazy view of the positions ``positions`` of this view (no loading)."""
        return self._view(self.rows[positions], self.device)

    def whole(self) -> DatasetRows:
        """A view of every sample of the dataset, in its order."""
        return self._view(np.arange(len(self.dataset)), self.device)

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, Integral):  # one sample, no batch dimension (as a tensor)
            return self[[index]][0]
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        rows = np.atleast_1d(self.rows[index])
        samples = [load_input(self.dataset, i, self.input_shape) for i in rows.tolist()]
        if not samples:
            return torch.empty((0, *self.input_shape), device=self.device)
        return torch.stack(samples).to(self.device)

    def load(
        self, batches: list, training: bool, seed: int = 0
    ) -> Iterator[torch.Tensor]:
        """The inputs of each batch of positions of this view (index tensors or
        arrays), on ``device``, loaded through this view's DataLoader for
        ``training`` (``loaders.train``) or inference (``loaders.valid``); ``seed``
        seeds its workers when that DataLoader is first built (0 for inference)."""
        purpose = "train" if training else "valid"
        loader = self._batch_loaders.get(purpose)
        if loader is None:
            kwargs = self.loaders.train if training else self.loaders.valid
            loader = BatchLoader(self.dataset, self.input_shape, kwargs, seed)
            self._batch_loaders[purpose] = loader
        rows = [self.rows[np.asarray(positions)] for positions in batches]
        return loader.load(rows, self.device)

    def chunks(self, size: int) -> Iterator[torch.Tensor]:
        """Consecutive batches of at most ``size`` samples, loaded for inference."""
        starts = range(0, len(self.rows), size)
        positions = [np.arange(a, min(a + size, len(self.rows))) for a in starts]
        return self.load(positions, training=False)


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
