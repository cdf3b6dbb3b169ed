"""Data-parallel ``fit`` across the processes of a ``torch.distributed`` group.

``fit(X, y, process_group=group)`` trains one model on the union of the shards the
processes of ``group`` hold: the target scaling is computed on every row (the
targets are all-gathered: they are small next to the inputs), the mixture's EM
statistics are all-reduced (:func:`~sk_deepgum.mixture.fit_gum`), the backbone is
trained under :class:`~torch.nn.parallel.DistributedDataParallel`, and every number
that steers the schedule (epoch loss, hold-out score, loss normaliser) is reduced, so
that every process takes the same decisions and ends with the same model. Rows stay
where they are: responsibilities and outlier scores are per process.

Nothing here is stored on the estimator: the group lives in the fit's
:class:`Shards`, which the fit drops at its end.
"""

from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from sk_deepgum._target_scaling import robust_target_scale

#: Fields of the per-process summary exchanged before any other collective.
_SUMMARY_FIELDS = (
    "failed",
    "n_rows",
    "n_train",
    "layout",
    "weighted",
    "positive_rows",
    "positive_train",
)


def check_process_group(process_group: object) -> object | None:
    """The ``process_group`` argument of ``fit``: None, or a usable group.

    Raises
    ------
    ValueError
        A group was given but ``torch.distributed`` is not initialised.
    TypeError
        ``process_group`` is not a ``torch.distributed.ProcessGroup``.
    """
    if process_group is None:
        return None
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError(
            "process_group was given but torch.distributed is not initialised in "
            "this process: call torch.distributed.init_process_group(...) first (or "
            "launch with torchrun, then call it), or pass process_group=None for a "
            "single-process fit."
        )
    if not isinstance(process_group, dist.ProcessGroup):
        raise TypeError(
            "process_group must be a torch.distributed.ProcessGroup (e.g. "
            f"torch.distributed.group.WORLD) or None; got {type(process_group)!r}."
        )
    return process_group


def resolve_shard_device(device: torch.device) -> torch.device:
    """One CUDA device per process: ``'cuda'`` without an index becomes
    ``cuda:LOCAL_RANK`` (set by torchrun), else the current CUDA device
    (:func:`torch.cuda.set_device`); an explicit index is kept. A process that sees
    a single GPU (``CUDA_VISIBLE_DEVICES`` set per process) uses it."""
    if device.type != "cuda" or device.index is not None:
        return device
    local_rank = os.environ.get("LOCAL_RANK")
    index = int(local_rank) if local_rank is not None else torch.cuda.current_device()
    visible = torch.cuda.device_count()
    if index >= visible and visible == 1:
        index = 0
    if index >= visible:
        raise ValueError(
            f"device='cuda' resolves to cuda:{index} (LOCAL_RANK={local_rank}) but "
            f"only {visible} CUDA device(s) are visible; run one process per GPU or "
            "pass device='cuda:N'."
        )
    return torch.device("cuda", index)


def layout_code(input_shape: tuple[int, ...], n_outputs: int) -> int:
    """A number that differs between processes whose data cannot train one model."""
    return zlib.crc32(repr((tuple(input_shape), int(n_outputs))).encode())


@dataclass
class Shards:
    """The group of a data-parallel fit and how its rows are spread.

    Attributes
    ----------
    group : torch.distributed.ProcessGroup
    rank, world_size : int
        This process's rank in ``group`` and the group's size.
    device : torch.device
        Where collective tensors live (the training device).
    n_rows : ndarray of shape (world_size,)
        Rows each process gave to ``fit``.
    n_train : ndarray of shape (world_size,)
        Training rows (after each process's hold-out split).
    weighted : bool
        Whether any process passed ``sample_weight`` (the others then weigh their
        rows 1, so that every process runs the same collectives).
    """

    group: object
    rank: int
    world_size: int
    device: torch.device
    n_rows: np.ndarray
    n_train: np.ndarray
    weighted: bool

    @property
    def rows_per_epoch(self) -> int:
        """Rows every process visits per epoch: the largest training shard.

        Every process must run the same number of optimiser steps, or
        DistributedDataParallel's gradient all-reduce waits forever.
        """
        return int(self.n_train.max())

    # -- collectives ---------------------------------------------------------------

    def all_reduce(self, tensor: torch.Tensor, op=None) -> torch.Tensor:
        """``tensor`` reduced (sum by default) over the group, in place."""
        op = torch.distributed.ReduceOp.SUM if op is None else op
        torch.distributed.all_reduce(tensor, op=op, group=self.group)
        return tensor

    def sum(self, value: float) -> float:
        """Sum of a number over the group (float64)."""
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        return float(self.all_reduce(t))

    def gather_rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every process's (n_r, ...) tensor, concatenated in rank order.

        ``all_gather`` needs equal shapes: the row counts are gathered first, then
        each part is padded to the longest and trimmed after.
        """
        dist = torch.distributed
        n_local = torch.tensor([tensor.shape[0]], dtype=torch.int64, device=self.device)
        counts = [torch.empty_like(n_local) for _ in range(self.world_size)]
        dist.all_gather(counts, n_local, group=self.group)
        counts = [int(c) for c in counts]
        padded = tensor.new_zeros((max(counts), *tensor.shape[1:]))
        padded[: tensor.shape[0]] = tensor
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded, group=self.group)
        return torch.cat([p[:c] for p, c in zip(parts, counts, strict=True)])

    def broadcast_buffers(self, module: torch.nn.Module) -> None:
        """Copy the group's first process's buffers (BatchNorm statistics) to all.

        DistributedDataParallel broadcasts them before each training forward, but
        each process then updates its own copy: without this the eval-mode residual
        passes, hence the mixture and the final models, would differ by process.
        """
        source = torch.distributed.get_global_rank(self.group, 0)
        for buffer in module.buffers():
            torch.distributed.broadcast(buffer, src=source, group=self.group)


def check_backend(group: object, device: torch.device) -> None:
    """Fail early when the group's backend cannot carry the device's tensors."""
    if torch.distributed.get_backend(group) == "nccl" and device.type != "cuda":
        raise ValueError(
            f"The process group uses the nccl backend, which communicates CUDA "
            f"tensors, but the model trains on {device}; use device='cuda' (one GPU "
            "per process) or a gloo group for CPU training."
        )


def _summary_device(group: object, device: torch.device | None) -> torch.device:
    """Where the summary exchange runs: a CUDA device for nccl, else the CPU (it
    must work even when this process failed to resolve its own device)."""
    if torch.distributed.get_backend(group) != "nccl":
        return torch.device("cpu")
    if device is not None and device.type == "cuda":
        return device
    return torch.device("cuda", torch.cuda.current_device())


def agree_on_shards(
    group: object,
    device: torch.device | None,
    *,
    failed: bool,
    n_rows: int = 0,
    n_train: int = 0,
    layout: int = 0,
    weighted: bool = False,
    positive_rows: int = 0,
    positive_train: int = 0,
) -> Shards | None:
    """Exchange one summary per process (the fit's first collective) and check it.

    A process whose own validation failed calls this with ``failed=True`` before
    re-raising its error, so that the others raise too instead of waiting in a
    collective for it.

    Returns
    -------
    Shards or None
        None when ``failed`` (the caller then raises its own error).

    Raises
    ------
    RuntimeError
        Another process of the group failed (its own error says why).
    ValueError
        The processes' data disagree (input shape or number of outputs), or no row
        of the group has a positive sample weight.
    """
    dist = torch.distributed
    world_size = dist.get_world_size(group)
    rank = dist.get_rank(group)
    local = torch.tensor(
        [
            int(failed),
            n_rows,
            n_train,
            layout,
            int(weighted),
            positive_rows,
            positive_train,
        ],
        dtype=torch.int64,
        device=_summary_device(group, device),
    )
    parts = [torch.empty_like(local) for _ in range(world_size)]
    dist.all_gather(parts, local, group=group)
    table = torch.stack(parts).cpu().numpy()
    column = {name: table[:, i] for i, name in enumerate(_SUMMARY_FIELDS)}
    if failed:
        return None  # the caller re-raises its own error
    if column["failed"].any():
        ranks = np.flatnonzero(column["failed"]).tolist()
        raise RuntimeError(
            f"fit failed on process(es) {ranks} of the group (rank in the group; "
            "see their own error); every process stops."
        )
    if (column["layout"] != column["layout"][0]).any():
        raise ValueError(
            "The processes of the group hold data of different layouts (sample "
            "shape or number of outputs): every shard must have the same columns."
        )
    if column["weighted"].any() and column["positive_rows"].sum() == 0:
        raise ValueError("All rows of the group have zero sample weight.")
    if column["weighted"].any() and column["positive_train"].sum() == 0:
        raise ValueError("All training rows of the group have zero sample weight.")
    return Shards(
        group,
        rank,
        world_size,
        device,
        column["n_rows"],
        column["n_train"],
        bool(column["weighted"].any()),
    )


def shard_loss_normaliser(shards: Shards, weights: torch.Tensor) -> torch.Tensor:
    """This process's per-round loss normaliser, from the group's weights.

    Each process divides its batch's weighted loss by

    .. math::

        \\bar W \\, |B| \\, \\bar n / n_r, \\qquad
        \\bar W = \\frac{\\sum_{\\text{all rows}} W}{N D}, \\quad
        \\bar n = N / \\text{world size},

    with :math:`N` training rows in the group and :math:`n_r` in this process.
    :math:`\\bar W` is the single-process normaliser of all the rows. The factor
    :math:`n_r / \\bar n` undoes the padding: a smaller shard visits each of its rows
    :math:`n_{max}/n_r` times per epoch, so its batches must count in proportion to
    its rows; DistributedDataParallel then averages the processes' gradients into
    the gradient of the single-process loss (in expectation over the batches).

    Parameters
    ----------
    shards : Shards
    weights : Tensor of shape (n_r, D)
        This process's loss weights.

    Returns
    -------
    Tensor, scalar
        On the device of ``weights``.
    """
    total = shards.all_reduce(weights.sum().reshape(1).to(torch.float64))
    n_local = int(shards.n_train[shards.rank])
    # W̄ n̄ / n_r = (ΣW / (N D)) (N / world) / n_r = ΣW / (D world n_r)
    normaliser = total / (weights.shape[1] * shards.world_size * max(n_local, 1))
    tiny = torch.finfo(weights.dtype).tiny
    return normaliser.to(weights.dtype).reshape(()).clamp_min(tiny)


def padded_order(
    n: int, n_rows: int, generator: torch.Generator | None, shuffle: bool
) -> torch.Tensor:
    """``n_rows`` sample positions of a shard of ``n`` rows: a permutation, wrapped
    onto fresh permutations when the shard is smaller (DistributedSampler pads)."""
    if not shuffle:
        return torch.arange(n_rows) % n
    rounds = math.ceil(n_rows / n)
    return torch.cat([torch.randperm(n, generator=generator) for _ in range(rounds)])[
        :n_rows
    ]


# ---------------------------------------------------------------------------
# Distributed EM: row reducers
#
# The EM statistics are sums over rows. The EM hands every such sum to a reducer:
# with rows sharded over a group (:class:`ShardedRows`) the sums are all-reduced, so
# every process computes the same parameters as one process holding all the rows;
# with every row here (:class:`LocalRows`) the reductions return their inputs
# untouched, so a single-process fit does no extra arithmetic.


class LocalRows:
    """Every row is in this process: each reduction is the identity."""

    is_local = True

    def sum(self, tensors: list) -> list:
        """The group-wide sums of ``tensors`` (here, the tensors themselves)."""
        return tensors

    def max(self, tensor: torch.Tensor) -> torch.Tensor:
        """The group-wide element-wise maximum of ``tensor``."""
        return tensor

    def gather_rows(self, tensors: list) -> list:
        """Every process's (..., n_r) tensors concatenated along the last axis."""
        return tensors

    def count_rows(self, n_local: int) -> int:
        """Number of rows held by the whole group."""
        return n_local


class ShardedRows:
    """Rows sharded over the processes of a ``torch.distributed`` group."""

    is_local = False

    def __init__(self, process_group):
        self.process_group = process_group

    def sum(self, tensors: list) -> list:
        """Sum every tensor (None entries skipped) across the group, in one call.

        The tensors are packed into one flat buffer, so a whole M-step costs a
        single collective; the inputs are not modified.
        """
        present = [t for t in tensors if t is not None]
        flat = torch.cat([t.reshape(-1) for t in present])
        torch.distributed.all_reduce(flat, group=self.process_group)
        out, offset = [], 0
        for t in tensors:
            if t is None:
                out.append(None)
                continue
            out.append(flat[offset : offset + t.numel()].reshape(t.shape))
            offset += t.numel()
        return out

    def max(self, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone()
        torch.distributed.all_reduce(
            out, op=torch.distributed.ReduceOp.MAX, group=self.process_group
        )
        return out

    def gather_rows(self, tensors: list) -> list:
        """Concatenate every process's (..., n_r) tensors along their last axis.

        ``torch.distributed.all_gather`` needs equal shapes: shards are padded to
        the longest and trimmed after. Used only for the initial quantiles (a
        subsample).
        """
        dist = torch.distributed
        group = self.process_group
        world = dist.get_world_size(group)
        ref = next(t for t in tensors if t is not None)
        n_local = torch.tensor([ref.shape[-1]], dtype=torch.int64, device=ref.device)
        counts = [torch.empty_like(n_local) for _ in range(world)]
        dist.all_gather(counts, n_local, group=group)
        counts = [int(c) for c in counts]
        longest = max(counts)
        out = []
        for t in tensors:
            if t is None:
                out.append(None)
                continue
            padded = torch.nn.functional.pad(t, (0, longest - t.shape[-1]))
            parts = [torch.empty_like(padded) for _ in range(world)]
            dist.all_gather(parts, padded.contiguous(), group=group)
            out.append(
                torch.cat(
                    [p[..., :c] for p, c in zip(parts, counts, strict=True)], dim=-1
                )
            )
        return out

    def count_rows(self, n_local: int) -> int:
        count = torch.tensor([n_local], dtype=torch.int64)
        torch.distributed.all_reduce(count, group=self.process_group)
        return int(count)


def row_reducer(process_group) -> LocalRows | ShardedRows:
    """The reducer for rows sharded over ``process_group`` (None: all rows here)."""
    return LocalRows() if process_group is None else ShardedRows(process_group)


def agree_on_fit_shards(
    group, X, y_2d: np.ndarray, sample_weight, valid_rows, device
) -> tuple[Shards, np.ndarray | None]:
    """Exchange and check each process's shard summary at the start of a network
    fit; a process without ``sample_weight`` weighs its rows 1 when another
    process has weights. Returns the shards and this process's sample weights."""
    n = len(y_2d)
    train = np.ones(n, dtype=bool)
    if valid_rows is not None:
        train[valid_rows] = False
    positive = np.ones(n, dtype=bool) if sample_weight is None else sample_weight > 0
    shards = agree_on_shards(
        group,
        device,
        failed=False,
        n_rows=n,
        n_train=int(train.sum()),
        layout=layout_code(X.shape[1:], y_2d.shape[1]),
        weighted=sample_weight is not None,
        positive_rows=int(positive.sum()),
        positive_train=int(positive[train].sum()),
    )
    if shards.weighted and sample_weight is None:
        sample_weight = np.ones(n)
    return shards, sample_weight


def group_target_scale(shards: Shards, y_2d: np.ndarray, sample_weight):
    """The robust target scale of every row of the group, the same on every
    process: the targets (and weights) are all-gathered, being small next to the
    inputs, and scaled as one process holding them all would scale them."""

    def as_t(a):
        return torch.as_tensor(a, dtype=torch.float64, device=shards.device)

    y_all = shards.gather_rows(as_t(y_2d)).cpu().numpy()
    w_all = None
    if sample_weight is not None:
        w_all = shards.gather_rows(as_t(sample_weight)).cpu().numpy()
    return robust_target_scale(y_all, w_all)
