"""Gaussian-uniform mixture (GUM): the estimator and its EM core.

The module-level functions are the numerical core shared by
:class:`GaussianUniformMixture` (numpy in, numpy out) and
:class:`~sk_deepgum.DeepGUMRegressor` (residuals already on the training device).
They take and return tensors only, never touch estimator state, and loop over latent
groups, never over samples.

Model, for group ``g`` of columns ``c_g`` of a row ``x_n``:

.. math::

    p(x_{n,c_g}) = \\pi_g \\, \\mathcal{N}(x_{n,c_g}; \\mu_g, \\Sigma_g)
                   + (1 - \\pi_g) \\, \\gamma_g

where :math:`\\gamma_g` is the constant density of the outlier (uniform) component.
Groups are independent, so a row's log-likelihood is the sum over groups.

Layout: the core works on *feature-major* tensors ``XT`` of shape (D, n) and returns
per-group quantities of shape (G, n). Every per-iteration reduction is then a
contiguous matrix-vector product or a reduction over a short leading axis, which is
what makes float32 EM fast on a CPU (a (n, D) @ (D,) product is not). Passes over
all rows (:func:`fit_gum`, :func:`estimate_inlier_logit`) take the columns of ``XT``
in chunks of at most ``chunk_size`` rows (:data:`EM_CHUNK_ROWS` by default) and add
up the sufficient statistics, so their work arrays are O(chunk_size · D), not
O(n · D).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from sk_deepgum._warnings import user_stacklevel

_LOG_2PI = math.log(2.0 * math.pi)
# |x| of a centred Gaussian has its 25 % quantile at Phi^{-1}(0.625) σ = 0.3186 σ.
_INIT_QUANTILE = 0.25
_INIT_QUANTILE_Z = 0.31863936396437515
# Rows used (a strided subsample) to compute the starting centre and scale.
_INIT_MAX_ROWS = 1 << 17
# The moment-matched outlier box is never narrower than ±5 inlier sd per column.
_MIN_BOX_HALF_WIDTH_SD = 5.0
# Rows per chunk of every pass over the data (EM statistics, E-steps): the work
# arrays of a pass are O(EM_CHUNK_ROWS · D) instead of O(n · D). 65 536 rows keep the
# per-chunk products large enough to run at full speed and the work arrays of 8
# float32 columns near 2 MiB each.
EM_CHUNK_ROWS = 65_536


# ---------------------------------------------------------------------------
# Containers


@dataclass(frozen=True)
class Grouping:
    """Partition of the ``D`` columns into ``G`` independent latent groups.

    Parameters
    ----------
    columns : tuple of LongTensor
        ``columns[g]`` holds the column indices of group ``g``.
    col_group : LongTensor of shape (D,)
        Group index of every column.
    """

    columns: tuple[torch.Tensor, ...]
    col_group: torch.Tensor

    @property
    def n_groups(self) -> int:
        return len(self.columns)

    def sizes(self, dtype: torch.dtype) -> torch.Tensor:
        """Number of columns per group, shape (G,)."""
        return self.group_sum(torch.ones_like(self.col_group, dtype=dtype))

    def group_sum(self, per_column: torch.Tensor) -> torch.Tensor:
        """Sum a (D, ...) tensor within groups along its first axis, giving (G, ...)."""
        if self.n_groups == 1:
            return per_column.sum(0, keepdim=True)
        # A (G, D) one-hot product: a GEMM is far faster than index_add_ on CPU.
        groups = torch.arange(self.n_groups, device=self.col_group.device)
        membership = (groups[:, None] == self.col_group[None, :]).to(per_column.dtype)
        return membership @ per_column

    def to(self, device) -> Grouping:
        return Grouping(
            tuple(c.to(device) for c in self.columns), self.col_group.to(device)
        )


def make_grouping(column_groups: list[np.ndarray], device=None) -> Grouping:
    """Build a :class:`Grouping` from validated per-group column index arrays.

    Parameters
    ----------
    column_groups : list of ndarray of int
        Column indices of every group, as returned by :func:`check_groups`.
    device : torch.device, str or None, default=None
        Device of the index tensors (None: the CPU).

    Returns
    -------
    Grouping
        The partition as index tensors.
    """
    n_columns = sum(len(c) for c in column_groups)
    col_group = np.empty(n_columns, dtype=np.int64)
    for g, cols in enumerate(column_groups):
        col_group[cols] = g
    return Grouping(
        tuple(torch.as_tensor(np.asarray(c), device=device) for c in column_groups),
        torch.as_tensor(col_group, device=device),
    )


@dataclass(frozen=True)
class GUMParams:
    """Parameters of a Gaussian-uniform mixture with ``G`` groups over ``D`` columns.

    Parameters
    ----------
    inlier_prior : Tensor of shape (G,)
        :math:`\\pi_g`, prior probability that group ``g`` of a row is an inlier.
    means : Tensor of shape (D,)
        Gaussian mean per column (zeros when the mean is not fitted).
    covariances : Tensor or list of Tensor
        ``'diag'``: (D,) variance per column; ``'spherical'``: (G,) variance per
        group; ``'full'``: list of (D_g, D_g) matrices.
    uniform_log_density : Tensor of shape (G,)
        :math:`\\log \\gamma_g = -\\sum_{d \\in g} \\log(\\mathrm{high}_d -
        \\mathrm{low}_d)`.
    uniform_bounds : Tensor of shape (D, 2)
        (low, high) of the uniform's box per column.
    """

    inlier_prior: torch.Tensor
    means: torch.Tensor
    covariances: torch.Tensor | list[torch.Tensor]
    uniform_log_density: torch.Tensor
    uniform_bounds: torch.Tensor


@dataclass
class EMResult:
    """Outcome of :func:`fit_gum`.

    Parameters
    ----------
    params : GUMParams
        The fitted parameters.
    n_iter : int
        Number of EM iterations run.
    converged : bool
        Whether the mean log-likelihood gained less than ``tol`` before ``max_iter``.
    lower_bounds : list of float
        Weighted mean log-likelihood entering every iteration.
    """

    params: GUMParams
    n_iter: int
    converged: bool
    lower_bounds: list[float]


@dataclass
class EMData:
    """Per-fit constants derived once from the data and reused by every iteration.

    Nothing here is of size n·D beyond the caller's ``XT`` unless n fits in one
    chunk: squares and every other per-row work array are formed chunk by chunk
    (``chunk_size`` rows at a time).
    """

    XT: torch.Tensor  # (D, n) feature-major data
    w: torch.Tensor | None  # (n,) sample weights, None = all ones
    sum_w: torch.Tensor  # scalar, Σ_n w_n
    total_first: torch.Tensor  # (D,) Σ_n w_n x_nd
    total_second: torch.Tensor  # (D,) Σ_n w_n x_nd²
    var_floor: torch.Tensor  # (D,) smallest variance allowed per column
    # (D,) weighted variance of each column (var_floor where it is smaller): the unit
    # of reg_covar, so the regularisation scales with its column.
    reg_scale: torch.Tensor
    mass_floor: torch.Tensor  # scalar, smallest Σr (or Σ(1-r)) treated as mass
    data_range: torch.Tensor  # (D, 2) min and max of the rows with positive weight
    chunk_size: int = EM_CHUNK_ROWS  # rows per chunk of every pass over XT
    # (D, n) squares, kept only when the data is a single chunk (n <= chunk_size), so
    # the cache stays O(chunk_size · D); otherwise None and formed per chunk.
    X2T: torch.Tensor | None = None
    # Distributed EM: the group whose processes each hold a shard of the rows, or
    # None (no communication). Every statistic above is already group-wide.
    process_group: object | None = None


def _eps(dtype: torch.dtype) -> float:
    return float(torch.finfo(dtype).eps)


def check_chunk_size(chunk_size) -> int:
    """Resolve ``chunk_size``: None gives :data:`EM_CHUNK_ROWS`, else a positive int.

    Raises
    ------
    TypeError
        If ``chunk_size`` is neither None nor an integer (bools are refused too).
    ValueError
        If ``chunk_size`` is an integer below 1.
    """
    if chunk_size is None:
        return EM_CHUNK_ROWS
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, Integral):
        raise TypeError(
            f"chunk_size must be a positive integer (rows per chunk) or None; "
            f"got {chunk_size!r} of type {type(chunk_size).__name__}."
        )
    if chunk_size < 1:
        raise ValueError(
            f"chunk_size must be a positive integer (rows per chunk) or None; "
            f"got {chunk_size!r}."
        )
    return int(chunk_size)


def _row_chunks(n: int, chunk_size: int) -> list[slice]:
    """Consecutive slices of at most ``chunk_size`` rows covering ``range(n)``.

    An empty shard (n = 0, possible in distributed EM) still gets one empty chunk, so
    every pass produces its (zero) sums.
    """
    return [
        slice(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)
    ] or [slice(0, 0)]


def _chunk_squares(data: EMData, XT: torch.Tensor) -> torch.Tensor:
    """``XT * XT`` of a chunk, from the cache when the data is a single chunk."""
    return data.X2T if data.X2T is not None else XT * XT


def _take_rows(XT: torch.Tensor, w: torch.Tensor | None, rows: slice):
    """Columns ``rows`` of (D, n) ``XT`` and entries of (n,) ``w``, as views (the
    tensors themselves when ``rows`` covers them: same arithmetic, no view to make)."""
    if rows.start == 0 and rows.stop == XT.shape[1]:
        return XT, w
    return XT[:, rows], None if w is None else w[rows]


def _accumulate(total, part):
    """``total + part`` where ``total`` may still be None (first chunk).

    The first chunk's sums are taken as they are, not added to zeros, so a single
    chunk runs exactly the arithmetic of an unchunked pass (``0.0 + (-0.0)`` would
    not even keep the sign of a zero).
    """
    return part if total is None else total + part


# ---------------------------------------------------------------------------
# Distributed EM: collective helpers
#
# With a ``process_group``, every process holds a shard of the rows and the EM
# statistics, which are sums over rows, are summed across the group before use, so
# every process computes the same parameters as one process holding all the rows.
# With ``process_group=None`` the helpers return their inputs untouched, so the
# single-process path runs exactly the arithmetic it ran before they existed.


def _all_reduce_sum(tensors: list, process_group) -> list:
    """Sum every tensor (None entries skipped) across ``process_group``, in one call.

    The tensors are packed into one flat buffer, so a whole M-step costs a single
    collective; the inputs are not modified.
    """
    if process_group is None:
        return tensors
    present = [t for t in tensors if t is not None]
    flat = torch.cat([t.reshape(-1) for t in present])
    torch.distributed.all_reduce(flat, group=process_group)
    out, offset = [], 0
    for t in tensors:
        if t is None:
            out.append(None)
            continue
        out.append(flat[offset : offset + t.numel()].reshape(t.shape))
        offset += t.numel()
    return out


def _all_gather_rows(tensors: list, process_group) -> list:
    """Concatenate every process's (..., n_r) tensors along their last axis.

    ``torch.distributed.all_gather`` needs equal shapes: shards are padded to the
    longest and trimmed after. Used only for the initial quantiles (a subsample).
    """
    if process_group is None:
        return tensors
    dist = torch.distributed
    world = dist.get_world_size(process_group)
    ref = next(t for t in tensors if t is not None)
    n_local = torch.tensor([ref.shape[-1]], dtype=torch.int64, device=ref.device)
    counts = [torch.empty_like(n_local) for _ in range(world)]
    dist.all_gather(counts, n_local, group=process_group)
    counts = [int(c) for c in counts]
    longest = max(counts)
    out = []
    for t in tensors:
        if t is None:
            out.append(None)
            continue
        padded = torch.nn.functional.pad(t, (0, longest - t.shape[-1]))
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded.contiguous(), group=process_group)
        out.append(
            torch.cat([p[..., :c] for p, c in zip(parts, counts, strict=True)], dim=-1)
        )
    return out


def _count_rows(n_local: int, process_group) -> int:
    """Number of rows held by the whole group."""
    if process_group is None:
        return n_local
    count = torch.tensor([n_local], dtype=torch.int64)
    torch.distributed.all_reduce(count, group=process_group)
    return int(count)


def prepare_data(
    XT: torch.Tensor,
    sample_weight: torch.Tensor | None,
    process_group=None,
    *,
    chunk_size: int | None = None,
) -> EMData:
    """Weighted totals, floors and range of the data, in one chunked pass.

    Floors are relative to the weighted totals, and so is the unit of ``reg_covar``,
    the weighted variance of each column
    :math:`v_d = \\sum_n w_n x_{nd}^2 / \\sum_n w_n - (\\sum_n w_n x_{nd} / \\sum_n
    w_n)^2` (the variance floor where it is smaller, e.g. a constant column).
    Squares are formed per chunk of ``chunk_size`` rows and dropped; they are cached
    for the EM iterations only when every row fits in one chunk (the cache is then
    O(chunk_size · D) too).

    Parameters
    ----------
    XT : Tensor of shape (D, n)
        Feature-major data (a contiguous transpose of the (n, D) rows).
    sample_weight : Tensor of shape (n,) or None
        Non-negative row weights; None weights every row 1.
    process_group : torch.distributed.ProcessGroup or None, default=None
        Distributed EM: this process holds a shard of the rows; the totals and the
        range are reduced over the group. None: no communication.
    chunk_size : int or None, default=None
        Rows per chunk (None: :data:`EM_CHUNK_ROWS`).

    Returns
    -------
    EMData
        Weighted totals, variance and mass floors, the per-column variance that
        scales ``reg_covar``, the data's range, the chunk size and (one chunk only)
        the cached squares.
    """
    chunk_size = check_chunk_size(chunk_size)
    eps = _eps(XT.dtype)
    n = XT.shape[1]
    sum_w = total_first = total_second = low = high = None
    for rows in _row_chunks(n, chunk_size):
        chunk, w = _take_rows(XT, sample_weight, rows)
        squares = chunk * chunk
        if w is None:
            first, second = chunk.sum(1), squares.sum(1)
        else:
            first, second = chunk @ w, squares @ w
            sum_w = _accumulate(sum_w, w.sum())
        total_first = _accumulate(total_first, first)
        total_second = _accumulate(total_second, second)
        kept = chunk if w is None else chunk[:, w > 0]
        if kept.shape[1] > 0:
            # min and max are exact, so any chunking gives the unchunked range.
            chunk_low, chunk_high = kept.amin(1), kept.amax(1)
            low = chunk_low if low is None else torch.minimum(low, chunk_low)
            high = chunk_high if high is None else torch.maximum(high, chunk_high)
    if sample_weight is None:
        sum_w = XT.new_tensor(float(n))
    sum_w, total_first, total_second = _all_reduce_sum(
        [sum_w, total_first, total_second], process_group
    )
    # A variance below eps relative to the column's mean square is numerically zero;
    # the tiny absolute term keeps an all-zero column finite.
    tiny = math.sqrt(torch.finfo(XT.dtype).tiny)
    var_floor = 10 * eps * total_second / sum_w + tiny
    # reg_covar is relative to the column's own spread: an absolute term would swamp
    # a column of small-scale data (and drive every row to the uniform) while
    # vanishing on a large-scale one. A constant column falls back to the floor.
    mean = total_first / sum_w
    reg_scale = torch.maximum(total_second / sum_w - mean * mean, var_floor)
    if low is None:
        if process_group is None:
            raise ValueError(
                "No row has a positive sample weight (or there are no rows): the "
                "mixture cannot be fitted. Give at least one row a positive weight."
            )
        # This shard has no weighted row: the identity of min/max, the other shards
        # supply the range.
        low = XT.new_full((XT.shape[0],), math.inf)
        high = XT.new_full((XT.shape[0],), -math.inf)
    data_range = torch.stack([low, high], dim=1)
    if process_group is not None:
        # Group-wide min and max in one MAX reduction: min(a) = -max(-a), exactly.
        signed = torch.stack([-data_range[:, 0], data_range[:, 1]], dim=1)
        torch.distributed.all_reduce(
            signed, op=torch.distributed.ReduceOp.MAX, group=process_group
        )
        data_range = torch.stack([-signed[:, 0], signed[:, 1]], dim=1)
    return EMData(
        XT,
        sample_weight,
        sum_w,
        total_first,
        total_second,
        var_floor,
        reg_scale,
        10 * eps * sum_w,
        data_range,
        chunk_size,
        squares if n <= chunk_size else None,
        process_group,
    )


# ---------------------------------------------------------------------------
# E-step


def _mahalanobis(
    XT: torch.Tensor,
    params: GUMParams,
    grouping: Grouping,
    covariance_type: str,
    X2T: torch.Tensor | None,
    fit_mean: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Squared Mahalanobis distance (G, n) of every group of every row, and
    :math:`\log|\Sigma_g|` (G,).

    For diagonal and spherical covariances with a zero mean, the distance is a
    precision-weighted sum of the cached squares ``X2T`` over each group's columns.
    """
    if covariance_type in ("diag", "spherical"):
        var = params.covariances
        if covariance_type == "spherical":
            var = var[grouping.col_group]
        if fit_mean:
            sq = (XT - params.means[:, None]) ** 2
        else:
            sq = X2T if X2T is not None else XT * XT
        return grouping.group_sum(sq / var[:, None]), grouping.group_sum(torch.log(var))
    quad = XT.new_empty((grouping.n_groups, XT.shape[1]))
    log_det = XT.new_empty(grouping.n_groups)
    for g, cols in enumerate(grouping.columns):
        # fit_mean=False is a zero-mean Gaussian, as in the diagonal branch.
        centred = XT[cols] - params.means[cols, None] if fit_mean else XT[cols]
        chol = torch.linalg.cholesky(params.covariances[g])
        # Σ = L Lᵀ ⇒ (x-μ)ᵀ Σ⁻¹ (x-μ) = ‖L⁻¹ (x-μ)‖² and log|Σ| = 2 Σ log diag L.
        z = torch.linalg.solve_triangular(chol, centred, upper=False)
        quad[g] = (z * z).sum(0)
        log_det[g] = 2.0 * torch.log(torch.diagonal(chol)).sum()
    return quad, log_det


def estimate_log_inlier_prob(
    quad: torch.Tensor, log_det: torch.Tensor, sizes: torch.Tensor, df: float | None
) -> torch.Tensor:
    r"""Log density of the inlier component per group and row, shape (G, n).

    Gaussian (``df=None``) or multivariate Student-t with ``df`` = ν degrees of
    freedom and scale matrix Σ, from the squared Mahalanobis distance
    :math:`\delta^2`:

    .. math::

        \log \mathcal{N} = -\tfrac12 \left(D_g \log 2\pi + \log|\Sigma|
            + \delta^2\right)

        \log t_\nu = \log\Gamma\left(\tfrac{\nu + D_g}{2}\right)
            - \log\Gamma\left(\tfrac{\nu}{2}\right)
            - \tfrac{D_g}{2} \log(\nu\pi) - \tfrac12 \log|\Sigma|
            - \tfrac{\nu + D_g}{2} \log\left(1 + \delta^2 / \nu\right)
    """
    if df is None:
        return -0.5 * (quad + (log_det + sizes * _LOG_2PI)[:, None])
    half = 0.5 * (df + sizes)
    const = (
        torch.lgamma(half)
        - math.lgamma(0.5 * df)
        - 0.5 * sizes * math.log(df * math.pi)
        - 0.5 * log_det
    )
    return const[:, None] - half[:, None] * torch.log1p(quad / df)


def e_step(
    XT: torch.Tensor,
    params: GUMParams,
    grouping: Grouping,
    covariance_type: str,
    X2T: torch.Tensor | None = None,
    fit_mean: bool = True,
    df: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    r"""Compute the E-step: inlier log-odds, outlier term and Student-t scales.

    Returns the log-odds of "inlier" per group, the outlier term of the
    log-likelihood and, for a Student-t inlier, the expected latent precision scales.
    With :math:`a = \log \pi + \log p_{\text{in}}(x)` and
    :math:`b = \log(1 - \pi) + \log \gamma`:

    .. math::

        z = a - b, \quad r = \sigma(z), \quad
        \log p(x) = \operatorname{logaddexp}(a, b) = b + \operatorname{softplus}(z)

    so the E-step is a sigmoid and the log-likelihood a softplus, both exact in the
    log domain. A Student-t is a Gaussian scale mixture; given an inlier, its latent
    precision scale has expectation :math:`u = (\nu + D_g) / (\nu + \delta^2)`,
    which weights the scatter in the M-step.

    Parameters
    ----------
    XT : Tensor of shape (D, n)
        Feature-major data (residuals).
    params : GUMParams
        Current mixture parameters.
    grouping : Grouping
        Partition of the columns into independent latents.
    covariance_type : {'full', 'diag', 'spherical'}
        Covariance of the inlier component.
    X2T : Tensor of shape (D, n) or None, default=None
        Cached ``XT * XT`` (computed when None).
    fit_mean : bool, default=True
        Whether ``params.means`` is subtracted (False: a zero mean).
    df : float or None, default=None
        Degrees of freedom of a Student-t inlier (None: Gaussian).

    Returns
    -------
    logit : Tensor of shape (G, n)
        :math:`z`, the log-odds that group ``g`` of row ``n`` is an inlier.
    outlier_term : Tensor of shape (G,)
        :math:`b_g`.
    scales : Tensor of shape (G, n) or None
        :math:`u`, None for a Gaussian inlier.
    """
    eps = _eps(XT.dtype)
    prior = params.inlier_prior.clamp(eps, 1.0 - eps)
    quad, log_det = _mahalanobis(XT, params, grouping, covariance_type, X2T, fit_mean)
    sizes = grouping.sizes(XT.dtype)
    log_inlier = estimate_log_inlier_prob(quad, log_det, sizes, df)
    outlier_term = torch.log1p(-prior) + params.uniform_log_density
    logit = log_inlier + (torch.log(prior) - outlier_term)[:, None]
    scales = None if df is None else (df + sizes)[:, None] / (df + quad)
    return logit, outlier_term, scales


def estimate_inlier_logit(
    XT: torch.Tensor,
    params: GUMParams,
    grouping: Grouping,
    covariance_type: str,
    X2T: torch.Tensor | None = None,
    fit_mean: bool = True,
    df: float | None = None,
    *,
    chunk_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-odds of "inlier" (G, n) and outlier term (G,): :func:`e_step` without the
    scales, run over chunks of ``chunk_size`` rows.

    Only the (G, n) answer spans every row; the E-step's work arrays (squares,
    distances, Student-t scales) are O(chunk_size · D). With ``n <= chunk_size`` it
    is exactly one :func:`e_step` call.

    Parameters
    ----------
    XT, params, grouping, covariance_type, X2T, fit_mean, df
        As for :func:`e_step` (``X2T``, when given, is sliced like ``XT``).
    chunk_size : int or None, default=None
        Rows per chunk (None: :data:`EM_CHUNK_ROWS`).

    Returns
    -------
    logit : Tensor of shape (G, n)
        Log-odds that group ``g`` of row ``n`` is an inlier.
    outlier_term : Tensor of shape (G,)
        :math:`b_g = \\log(1 - \\pi_g) + \\log \\gamma_g`.
    """
    chunk_size = check_chunk_size(chunk_size)
    n = XT.shape[1]
    if n <= chunk_size:
        logit, outlier_term, _ = e_step(
            XT, params, grouping, covariance_type, X2T=X2T, fit_mean=fit_mean, df=df
        )
        return logit, outlier_term
    logit = XT.new_empty((grouping.n_groups, n))
    for rows in _row_chunks(n, chunk_size):
        logit[:, rows], outlier_term, _ = e_step(
            XT[:, rows],
            params,
            grouping,
            covariance_type,
            X2T=None if X2T is None else X2T[:, rows],
            fit_mean=fit_mean,
            df=df,
        )
    return logit, outlier_term


def row_log_likelihood(logit: torch.Tensor, outlier_term: torch.Tensor) -> torch.Tensor:
    """Per-row log-likelihood (n,): :math:`\\sum_g b_g + \\operatorname{softplus}(z_g)`."""
    return (torch.nn.functional.softplus(logit) + outlier_term[:, None]).sum(0)


def row_log_inlier_proba(logit: torch.Tensor) -> torch.Tensor:
    """Log P(every group of the row is an inlier) (n,): :math:`\\sum_g \\log\\sigma(z_g)`."""
    return torch.nn.functional.logsigmoid(logit).sum(0)


# ---------------------------------------------------------------------------
# M-step


def _sum_by_column(weighted_resp: torch.Tensor, AT: torch.Tensor, grouping: Grouping):
    """:math:`\\sum_n \\tilde r_{g(d), n} A_{dn}` for every column d, shape (D,)."""
    if grouping.n_groups == 1:
        return AT @ weighted_resp[0]
    return (AT * weighted_resp[grouping.col_group]).sum(1)


def _moment_uniform(
    first, second, mass, inlier_var, data: EMData, grouping: Grouping, previous
):
    """Uniform box matching the outlier-weighted mean and variance per column.

    .. math::

        C_1 = \\frac{\\sum_n (1 - r_n) e_n}{\\sum_n (1 - r_n)}, \\quad
        C_2 = \\frac{\\sum_n (1 - r_n) e_n^2}{\\sum_n (1 - r_n)}, \\quad
        \\mathrm{half\\ width} = \\max\\left(\\sqrt{3 (C_2 - C_1^2)},\\;
            \\min(\\kappa \\sigma_d, \\tfrac12 \\mathrm{range}_d)\\right)

    (a uniform on [a, b] has variance (b - a)² / 12). The floor
    :math:`\\kappa \\sigma_d` (κ = 5 inlier standard deviations) keeps the outlier
    box from shrinking onto the inliers' own shoulders: without it, on data with no
    outliers a moment-matched box settles on the Gaussian's tails and takes a sizeable
    share of the inliers (with the floor, clean Gaussian data gets π > 0.99:
    test_no_outliers_drives_the_inlier_prior_to_one). It is capped at half the
    data's range, so a Gaussian that is still broad (early in a DeepGUM fit at high
    contamination) cannot push the box beyond the data and the outliers out of the
    model. Genuine outliers spread far wider than 5 σ, where the floor is inactive.
    Groups whose outlier mass is numerically zero keep their previous box: there is
    nothing to estimate it from.

    Parameters
    ----------
    inlier_var : Tensor of shape (D,)
        Variance of the inlier Gaussian per column (the diagonal of Σ).
    """
    mass_col = mass.clamp_min(data.mass_floor)[grouping.col_group]
    c1 = first / mass_col
    variance = (second / mass_col - c1 * c1).clamp_min(data.var_floor)
    half_range = 0.5 * (data.data_range[:, 1] - data.data_range[:, 0])
    floor = torch.minimum(_MIN_BOX_HALF_WIDTH_SD * torch.sqrt(inlier_var), half_range)
    half = torch.maximum(torch.sqrt(3.0 * variance), floor)
    bounds = torch.stack([c1 - half, c1 + half], dim=1)
    log_density = -grouping.group_sum(torch.log(2.0 * half))
    empty = mass <= data.mass_floor  # (G,)
    if bool(empty.any()):
        bounds = torch.where(
            empty[grouping.col_group, None], previous.uniform_bounds, bounds
        )
        log_density = torch.where(empty, previous.uniform_log_density, log_density)
    return bounds, log_density


@dataclass
class _MStepSums:
    r"""Sufficient statistics of the M-step, summed over rows (chunks, then processes).

    With :math:`\tilde r_{gn} = w_n r_{gn}` and :math:`s_{gn} = \tilde r_{gn} u_{gn}`
    (:math:`u` the Student-t scales; :math:`s = \tilde r` for a Gaussian inlier),
    entries that the configuration does not need are None.

    Parameters
    ----------
    resp_mass : Tensor of shape (G,)
        :math:`\sum_n \tilde r_{gn}`.
    first, second : Tensor of shape (D,) or None
        :math:`\sum_n \tilde r_{g(d)n} x_{dn}` and :math:`\sum_n \tilde r_{g(d)n}
        x_{dn}^2`.
    scatter_mass : Tensor of shape (G,) or None
        :math:`\sum_n s_{gn}` (Student-t only).
    scatter_first, scatter_second : Tensor of shape (D,) or None
        As ``first`` and ``second`` with :math:`s` (Student-t only).
    scatters : list of Tensor of shape (D_g, D_g) or None
        ``'full'``: :math:`\sum_n s_{gn} (x_n - \mu_g)(x_n - \mu_g)^\top` when the
        means are known before the pass (``fit_mean=False``); None otherwise.
    """

    resp_mass: torch.Tensor
    first: torch.Tensor | None = None
    second: torch.Tensor | None = None
    scatter_mass: torch.Tensor | None = None
    scatter_first: torch.Tensor | None = None
    scatter_second: torch.Tensor | None = None
    scatters: list[torch.Tensor] | None = None

    def __add__(self, other: _MStepSums) -> _MStepSums:
        def add(a, b):
            if a is None:
                return None
            if isinstance(a, list):
                return [x + y for x, y in zip(a, b, strict=True)]
            return a + b

        return _MStepSums(
            *(
                add(getattr(self, name), getattr(other, name))
                for name in self.__dataclass_fields__
            )
        )


def _scatter_weights(
    resp: torch.Tensor, w: torch.Tensor | None, scales: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    r""":math:`\tilde r = w r` and the scatter weights :math:`s = \tilde r u` (G, c)."""
    weighted_resp = resp if w is None else resp * w
    return weighted_resp, weighted_resp if scales is None else weighted_resp * scales


def _full_scatters(
    XT: torch.Tensor, scatter_resp: torch.Tensor, grouping: Grouping, means
) -> list[torch.Tensor]:
    r"""Centred scatter :math:`\sum_n s_{gn} (x_n - \mu_g)(x_n - \mu_g)^\top` of
    every group over the rows of ``XT`` (D, c), a list of (D_g, D_g).

    Centring before the product (not :math:`\sum s x x^\top - \mu \mu^\top \sum s`)
    keeps float32 accurate when the mean is large against the spread.
    """
    scatters = []
    for g, cols in enumerate(grouping.columns):
        centred = XT[cols] - means[cols, None]
        scatters.append((centred * scatter_resp[g]) @ centred.T)
    return scatters


def _needs_squares(covariance_type: str, uniform: str) -> bool:
    """Whether a pass needs :math:`x^2`: diag/spherical distances and scatters, or
    the moment-matched uniform."""
    return covariance_type != "full" or uniform == "moments"


def _sum_chunk(
    XT: torch.Tensor,
    X2T: torch.Tensor | None,
    w: torch.Tensor | None,
    resp: torch.Tensor,
    scales: torch.Tensor | None,
    grouping: Grouping,
    covariance_type: str,
    uniform: str,
    fit_mean: bool,
    scatter_means: torch.Tensor | None,
) -> tuple[_MStepSums, torch.Tensor]:
    """:class:`_MStepSums` of one chunk of rows ``XT`` (D, c) with responsibilities
    ``resp`` (G, c); ``X2T`` = ``XT * XT`` when :func:`_needs_squares`. Also returns
    the chunk's scatter weights :math:`s` (G, c) (see :func:`_scatter_weights`).

    For 'full' covariances the scatter matrices around ``scatter_means`` are summed
    here when the means are known before the pass (``fit_mean=False``: the previous
    means); with a fitted mean pass None: they need this pass's means and come from a
    second pass (:func:`m_step_update`).
    """
    weighted_resp, scatter_resp = _scatter_weights(resp, w, scales)
    need_first = fit_mean or uniform == "moments"
    need_second = covariance_type != "full" or uniform == "moments"
    sums = _MStepSums(
        weighted_resp.sum(1),
        _sum_by_column(weighted_resp, XT, grouping) if need_first else None,
        _sum_by_column(weighted_resp, X2T, grouping) if need_second else None,
    )
    if scales is not None:
        # The Gaussian's sums: weighted by r·u for a Student-t inlier.
        if fit_mean:
            sums.scatter_first = _sum_by_column(scatter_resp, XT, grouping)
        if covariance_type != "full":
            sums.scatter_second = _sum_by_column(scatter_resp, X2T, grouping)
        sums.scatter_mass = scatter_resp.sum(1)
    if covariance_type == "full" and scatter_means is not None:
        sums.scatters = _full_scatters(XT, scatter_resp, grouping, scatter_means)
    return sums, scatter_resp


def _accumulate_scatters(total, part):
    """Elementwise sum of two lists of scatter matrices (``total`` may be None)."""
    if total is None:
        return part
    return [a + b for a, b in zip(total, part, strict=True)]


def m_step_update(
    data: EMData,
    sums: _MStepSums,
    previous: GUMParams,
    grouping: Grouping,
    covariance_type: str,
    uniform: str,
    fit_mean: bool,
    reg_covar: float,
    scatter_pass,
    inlier_pseudo_count: float,
) -> GUMParams:
    """Finish the M-step from this process's summed statistics (see :func:`m_step`).

    The sums are first reduced over ``data.process_group`` (distributed EM), then the
    parameters are updated. ``scatter_pass(means)`` returns this process's 'full'
    scatter matrices around ``means`` when ``sums.scatters`` is None (a second pass
    over the rows once the new means are known).
    """
    XT = data.XT
    # Distributed EM: the sums so far cover this process's rows only.
    resp_mass, first, second = _all_reduce_sum(
        [sums.resp_mass, sums.first, sums.second], data.process_group
    )
    eps = _eps(XT.dtype)
    # MAP under a Beta(k + 1, 1) prior: k pseudo-rows of inlier evidence, whose pull
    # vanishes as the data grows (see fit_gum's inlier_pseudo_count).
    k = inlier_pseudo_count
    inlier_prior = ((resp_mass + k) / (data.sum_w + k)).clamp(eps, 1.0 - eps)
    mass = resp_mass.clamp_min(data.mass_floor)
    mass_col = mass[grouping.col_group]

    # The Gaussian's sums: weighted by r, or by r·u for a Student-t inlier.
    scatter_first, scatter_second = first, second
    scatter_mass_col = mass_col
    if sums.scatter_mass is not None:
        scatter_first, scatter_second, scatter_mass = _all_reduce_sum(
            [sums.scatter_first, sums.scatter_second, sums.scatter_mass],
            data.process_group,
        )
        scatter_mass_col = scatter_mass.clamp_min(data.mass_floor)
        scatter_mass_col = scatter_mass_col[grouping.col_group]
    means = scatter_first / scatter_mass_col if fit_mean else previous.means
    # reg_covar is in units of each column's variance (see prepare_data).
    reg = reg_covar * data.reg_scale

    if covariance_type == "full":
        scatters = sums.scatters if sums.scatters is not None else scatter_pass(means)
        covariances = []
        for g, cols in enumerate(grouping.columns):
            (scatter,) = _all_reduce_sum([scatters[g]], data.process_group)
            cov = scatter / mass[g] + torch.diag(reg[cols])
            # Lift the diagonal to the floor so a collapsed group stays positive definite.
            lift = (data.var_floor[cols] - cov.diagonal()).clamp_min(0)
            covariances.append(cov + torch.diag(lift))
    else:
        # Σ r (x - μ)² = Σ r x² - 2 μ Σ r x + μ² Σ r, from sums already at hand.
        centred_second = scatter_second
        if fit_mean:
            centred_second = (
                scatter_second
                - 2 * means * scatter_first
                + means * means * scatter_mass_col
            )
        if covariance_type == "diag":
            var = centred_second / mass_col + reg
            covariances = torch.maximum(var, data.var_floor)
        else:
            sizes = grouping.sizes(XT.dtype)
            # One variance per group: the pooled scatter plus the mean of its
            # columns' regularisation terms.
            var = (
                grouping.group_sum(centred_second) / (sizes * mass)
                + grouping.group_sum(reg) / sizes
            )
            covariances = torch.maximum(var, grouping.group_sum(data.var_floor) / sizes)

    bounds, log_density = previous.uniform_bounds, previous.uniform_log_density
    if uniform == "moments":
        if covariance_type == "full":
            inlier_var = torch.empty_like(data.var_floor)
            for cols, cov in zip(grouping.columns, covariances, strict=True):
                inlier_var[cols] = cov.diagonal()
        elif covariance_type == "spherical":
            inlier_var = covariances[grouping.col_group]
        else:
            inlier_var = covariances
        bounds, log_density = _moment_uniform(
            data.total_first - first,
            data.total_second - second,
            data.sum_w - resp_mass,
            inlier_var,
            data,
            grouping,
            previous,
        )
    return GUMParams(inlier_prior, means, covariances, log_density, bounds)


def m_step(
    data: EMData,
    resp: torch.Tensor,
    previous: GUMParams,
    grouping: Grouping,
    covariance_type: str,
    uniform: str,
    fit_mean: bool,
    reg_covar: float,
    scales: torch.Tensor | None = None,
    inlier_pseudo_count: float = 0.0,
) -> GUMParams:
    """Maximise the expected complete-data log-posterior given responsibilities.

    With :math:`\\tilde r_{gn} = w_n r_{gn}` (sample weight times responsibility)
    and :math:`k` = ``inlier_pseudo_count``:

    .. math::

        \\pi_g = \\frac{\\sum_n \\tilde r_{gn} + k}{\\sum_n w_n + k}, \\quad
        \\Sigma_g = \\frac{\\sum_n \\tilde r_{gn} (x_n - \\mu_g)(x_n - \\mu_g)^\\top}
                        {\\sum_n \\tilde r_{gn}}
                   + \\text{reg\\_covar}\\, \\operatorname{diag}(v_d)_{d \\in g}

    with :math:`v_d` the weighted variance of column ``d`` over all rows
    (``data.reg_scale``). ``'diag'`` keeps the diagonal, ``'spherical'`` its mean
    over the group's columns.
    For a Student-t inlier the mean and scatter sums use :math:`\\tilde r u` (``u``
    from :func:`e_step`) while the denominator of Σ stays :math:`\\sum \\tilde r`.
    The uniform is refitted by moment matching when ``uniform == 'moments'``.

    The sums run over chunks of ``data.chunk_size`` rows (:func:`_sum_chunk`), then
    :func:`m_step_update` finishes; 'full' covariances with a fitted mean take a
    second chunked pass for the scatter around the new means.

    Parameters
    ----------
    data : EMData
        Cached data and totals from :func:`prepare_data`.
    resp : Tensor of shape (G, n)
        Inlier responsibilities :math:`r_{gn}`.
    previous : GUMParams
        Parameters of the previous iteration (kept where nothing is estimated: a fixed
        uniform, a zero mean, a group without outlier mass).
    grouping : Grouping
        Partition of the columns into independent latents.
    covariance_type : {'full', 'diag', 'spherical'}
        Covariance of the inlier component.
    uniform : {'moments', 'range', 'fixed'}
        'moments' refits the uniform's box; otherwise it is kept.
    fit_mean : bool
        Estimate the Gaussian's mean (False keeps ``previous.means``).
    reg_covar : float
        Regularisation in units of each column's variance: ``reg_covar * v_d`` is
        added to the diagonal of every covariance.
    scales : Tensor of shape (G, n) or None, default=None
        Expected latent precision scales of a Student-t inlier (None: Gaussian).
    inlier_pseudo_count : float, default=0.0
        Pseudo-rows of inlier evidence :math:`k` (the MAP estimate of
        :math:`\\pi_g` under a Beta(k + 1, 1) prior; 0: maximum likelihood).

    Returns
    -------
    GUMParams
        The updated parameters.
    """
    chunks = _row_chunks(data.XT.shape[1], data.chunk_size)

    def chunk_of(rows):
        XT, w = _take_rows(data.XT, data.w, rows)
        return XT, w, None if scales is None else scales[:, rows]

    sums = None
    for rows in chunks:
        XT, w, scales_c = chunk_of(rows)
        X2T = (
            _chunk_squares(data, XT)
            if _needs_squares(covariance_type, uniform)
            else None
        )
        part, _ = _sum_chunk(
            XT,
            X2T,
            w,
            resp[:, rows],
            scales_c,
            grouping,
            covariance_type,
            uniform,
            fit_mean,
            None if fit_mean else previous.means,
        )
        sums = _accumulate(sums, part)

    def scatter_pass(means):
        scatters = None
        for rows in chunks:
            XT, w, scales_c = chunk_of(rows)
            _, scatter_resp = _scatter_weights(resp[:, rows], w, scales_c)
            part = _full_scatters(XT, scatter_resp, grouping, means)
            scatters = _accumulate_scatters(scatters, part)
        return scatters

    return m_step_update(
        data,
        sums,
        previous,
        grouping,
        covariance_type,
        uniform,
        fit_mean,
        reg_covar,
        scatter_pass,
        inlier_pseudo_count,
    )


# ---------------------------------------------------------------------------
# Initialisation


def _weighted_quantile(
    XT: torch.Tensor, w: torch.Tensor | None, q: float
) -> torch.Tensor:
    """Per-row (weighted) ``q``-quantile of a (D, n) tensor, shape (D,)."""
    if w is None:
        k = min(int(q * XT.shape[1]), XT.shape[1] - 1)
        return XT.kthvalue(k + 1, dim=1).values
    values, order = torch.sort(XT, dim=1)
    cum = torch.cumsum(w[order], dim=1)
    idx = torch.searchsorted(cum, q * cum[:, -1:]).clamp_max(XT.shape[1] - 1)
    return values.gather(1, idx).squeeze(1)


def _centre_and_spread(
    XT: torch.Tensor, w: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row median and 25 % quantile of |x - median| of a (D, n) tensor.

    Rows go in blocks of about ``_INIT_MAX_ROWS`` entries, so the selections'
    copies, index buffers and the deviations are O(_INIT_MAX_ROWS), not O(D · n),
    while small inputs are one block (one batched call). A quantile is a selection,
    exact, so the blocking does not change it.
    """
    block = max(1, _INIT_MAX_ROWS // max(1, XT.shape[1]))
    centres, spreads = [], []
    for start in range(0, XT.shape[0], block):
        rows = XT[start : start + block]
        centre = _weighted_quantile(rows, w, 0.5)
        centres.append(centre)
        deviation = (rows - centre[:, None]).abs()
        spreads.append(_weighted_quantile(deviation, w, _INIT_QUANTILE))
    return torch.cat(centres), torch.cat(spreads)


def uniform_from_bounds(bounds: torch.Tensor, grouping: Grouping, data: EMData):
    """Log density of the box ``bounds`` per group, widths floored to stay finite."""
    min_width = torch.sqrt(12.0 * data.var_floor)
    width = torch.maximum(bounds[:, 1] - bounds[:, 0], min_width)
    return -grouping.group_sum(torch.log(width))


def range_bounds(data: EMData) -> torch.Tensor:
    """Min–max box of the rows with positive weight, shape (D, 2)."""
    return data.data_range


def initialize_params(
    data: EMData,
    grouping: Grouping,
    covariance_type: str,
    uniform: str | torch.Tensor,
    fit_mean: bool,
    init_inlier_prior: float,
    reg_covar: float,
) -> GUMParams:
    """Robust starting point: median centre, a low-quantile scale, min–max uniform.

    The scale comes from the 25 % quantile of |x - median| (for a Gaussian it is
    0.3186 σ), not from the MAD: with more than half of the rows outlying the MAD
    measures the outliers, while the lowest quarter of the deviations still falls in
    the inlier core. Starting narrow, EM grows the Gaussian onto the densest mode
    instead of settling on a broad one that swallows outliers.
    """
    # A strided subsample is plenty for a starting point and keeps the quantiles'
    # copies and index buffers from dominating the fit's peak memory on large n.
    # Distributed EM: the stride comes from the group's row count and the quantiles
    # from every process's subsample, gathered.
    n_rows = _count_rows(data.XT.shape[1], data.process_group)
    step = max(1, n_rows // _INIT_MAX_ROWS)
    XT = data.XT[:, ::step]
    w = None if data.w is None else data.w[::step]
    XT, w = _all_gather_rows([XT, w], data.process_group)
    centre, spread = _centre_and_spread(XT, w)
    var = (spread / _INIT_QUANTILE_Z) ** 2
    # Columns where most rows coincide have a zero quantile: use the weighted
    # variance instead, then the floor.
    mean_sq = data.total_second / data.sum_w - (data.total_first / data.sum_w) ** 2
    var = torch.where(var > data.var_floor, var, mean_sq)
    var = torch.maximum(var + reg_covar * data.reg_scale, data.var_floor)
    means = centre if fit_mean else torch.zeros_like(centre)
    if covariance_type == "diag":
        covariances = var
    elif covariance_type == "spherical":
        covariances = grouping.group_sum(var) / grouping.sizes(XT.dtype)
    else:
        covariances = [torch.diag(var[cols]) for cols in grouping.columns]
    if isinstance(uniform, torch.Tensor):
        bounds = uniform.to(dtype=XT.dtype, device=XT.device)
    else:
        bounds = range_bounds(data)
    prior = XT.new_full((grouping.n_groups,), float(init_inlier_prior))
    return GUMParams(
        prior, means, covariances, uniform_from_bounds(bounds, grouping, data), bounds
    )


# ---------------------------------------------------------------------------
# EM loop


def _em_pass(
    data: EMData,
    params: GUMParams,
    grouping: Grouping,
    covariance_type: str,
    uniform: str,
    fit_mean: bool,
    df: float | None,
):
    """One chunked pass of an EM iteration: E-step, log-likelihood, M-step sums.

    Returns
    -------
    total : Tensor (scalar)
        :math:`\\sum_n w_n \\sum_g \\operatorname{softplus}(z_{gn})`, this process's
        rows (the log-likelihood without the constant :math:`\\sum_g b_g`).
    outlier_term : Tensor of shape (G,)
        :math:`b_g` of :func:`e_step`.
    sums : _MStepSums
        This process's M-step statistics under ``params``.
    scatter_pass : callable
        ``scatter_pass(means)``: this process's 'full' scatter matrices around the
        new means, for :func:`m_step_update` when ``sums.scatters`` is None.
    """
    chunks = _row_chunks(data.XT.shape[1], data.chunk_size)
    squares = _needs_squares(covariance_type, uniform)
    total = sums = None
    for rows in chunks:
        XT, w = _take_rows(data.XT, data.w, rows)
        X2T = _chunk_squares(data, XT) if squares else None
        logit, outlier_term, scales = e_step(
            XT, params, grouping, covariance_type, X2T=X2T, fit_mean=fit_mean, df=df
        )
        log_lik = torch.nn.functional.softplus(logit).sum(0)
        total = _accumulate(total, log_lik.sum() if w is None else log_lik @ w)
        part, scatter_resp = _sum_chunk(
            XT,
            X2T,
            w,
            torch.sigmoid(logit),
            scales,
            grouping,
            covariance_type,
            uniform,
            fit_mean,
            None if fit_mean else params.means,
        )
        sums = _accumulate(sums, part)
    # One chunk: its rows and scatter weights, kept for the second pass.
    single = (XT, scatter_resp) if len(chunks) == 1 else None

    def scatter_pass(means):
        if single is not None:
            return _full_scatters(*single, grouping, means)
        scatters = None
        for rows in chunks:
            # Recompute the chunk's E-step under the same parameters (bitwise the
            # same responsibilities) rather than keep (G, n) of them.
            XT, w = _take_rows(data.XT, data.w, rows)
            logit, _, scales = e_step(
                XT, params, grouping, covariance_type, fit_mean=fit_mean, df=df
            )
            _, scatter_resp = _scatter_weights(torch.sigmoid(logit), w, scales)
            part = _full_scatters(XT, scatter_resp, grouping, means)
            scatters = _accumulate_scatters(scatters, part)
        return scatters

    return total, outlier_term, sums, scatter_pass


def fit_gum(
    XT: torch.Tensor,
    sample_weight: torch.Tensor | None,
    grouping: Grouping,
    *,
    covariance_type: str = "diag",
    uniform: str | torch.Tensor = "moments",
    fit_mean: bool = False,
    init_inlier_prior: float = 0.9,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    tol: float = 1e-3,
    init_params: GUMParams | None = None,
    df: float | None = None,
    inlier_pseudo_count: float = 0.0,
    verbose: int = 0,
    process_group=None,
    chunk_size: int | None = None,
) -> EMResult:
    """Run EM until the mean log-likelihood gains less than ``tol``.

    Every iteration is one pass over the rows in chunks of ``chunk_size``: each
    chunk's E-step (log-odds, Student-t scales) is formed, its log-likelihood and
    M-step sufficient statistics (weighted counts, first and second sums per column,
    scale-weighted sums, 'full' scatter matrices) are added to running totals and
    the chunk's work arrays are dropped; the parameters are then updated from the
    totals. Beyond ``XT`` itself, memory is therefore O(chunk_size · D), because
    only one chunk's work arrays are alive at a time and the totals are (D,) vectors
    and (D_g, D_g) matrices; the starting point adds O(2^18) entries (quantiles of a
    strided subsample, a block of columns at a time). No (D, n) or (G, n) array is
    formed (when ``n <= chunk_size`` the squares ``XT * XT`` are cached, which is
    then O(chunk_size · D) too), so residuals of millions of rows by many outputs
    fit in little more than their own buffer. With ``n <= chunk_size`` (one chunk)
    the arithmetic is exactly that of an unchunked pass; with several chunks the
    sums differ only by floating-point summation order. Distributed EM gathers the
    subsample for the quantiles: O(D · 2^18) there.

    Parameters
    ----------
    XT : Tensor of shape (D, n)
        Feature-major data (residuals), on any device, float32 or float64.
    sample_weight : Tensor of shape (n,) or None
        Non-negative weights entering every sufficient statistic.
    grouping : Grouping
        Partition of the columns into independent latents.
    covariance_type : {'full', 'diag', 'spherical'}, default='diag'
        Covariance of the inlier component.
    uniform : {'moments', 'range'} or Tensor of shape (D, 2), default='moments'
        How the uniform is estimated: moment matching each M-step, the min–max box of
        the data (fixed), or fixed given bounds.
    fit_mean : bool, default=False
        Estimate the Gaussian's mean (False: centred at 0, as for residuals).
    init_inlier_prior : float, default=0.9
        Starting inlier prior (without ``init_params``).
    reg_covar : float, default=1e-6
        Regularisation relative to each column's scale: ``reg_covar`` times the
        column's weighted variance (over all rows, inliers and outliers) is added to
        the diagonal of every covariance. Relative, like the uniform's box and every
        floor, so that the fit is equivariant under per-column rescaling: multiplying
        a column by ``c`` multiplies its variances by ``c**2`` and leaves the
        posteriors and the inlier prior unchanged (an absolute term would swamp a
        small-scale column and turn every row into an outlier).
    max_iter : int, default=100
        Maximum number of EM iterations.
    tol : float, default=1e-3
        Stop when the mean log-likelihood gains less than this.
    init_params : GUMParams, optional
        Warm start; otherwise :func:`initialize_params`.
    df : float or None, default=None
        Degrees of freedom of a Student-t inlier component (None: Gaussian).
    inlier_pseudo_count : float, default=0.0
        :math:`k \\ge 0` pseudo-rows of inlier evidence (in units of sample weight):
        each M-step sets :math:`\\pi_g = (\\sum_n w_n r_{gn} + k) / (\\sum_n w_n
        + k)`, the maximum a posteriori estimate under a Beta(k + 1, 1) prior on
        :math:`\\pi_g`, and EM then climbs the log-posterior (the reported bounds
        include :math:`k \\sum_g \\log \\pi_g / \\sum_n w_n`). Its pull is
        :math:`k / (\\sum_n w_n + k)`: it vanishes as the data grow, while on a
        handful of rows it stops the mixture from calling most of them outliers
        (the uniform's box, fitted to the same rows, then out-scores a narrow inlier
        component). 0: maximum likelihood.
    verbose : int, default=0
        1 prints a summary, 2 the log-likelihood of every iteration.
    process_group : torch.distributed.ProcessGroup or None, default=None
        Distributed EM. Every process of the group calls ``fit_gum`` with its own
        shard of the rows (shards may differ in size) and the same other arguments;
        the sufficient statistics of every step (weighted counts, sums and sums of
        squares per group, the scatter matrices, the data's min and max, the
        log-likelihood) are summed across the group and the initial quantiles use a
        gathered subsample, so every process returns the same mixture as a single
        process fitted on all the rows (up to floating-point summation order). Pass
        ``torch.distributed.group.WORLD`` for the default group. None: no
        communication, the single-process computation.
    chunk_size : int or None, default=None
        Rows per chunk of every pass over ``XT`` (None: :data:`EM_CHUNK_ROWS` =
        65 536). Smaller chunks lower the peak memory (O(chunk_size · D) beyond
        ``XT``) at the cost of more, smaller products. For 'full' covariances with
        ``fit_mean=True`` and more than one chunk, each iteration takes a second
        pass (recomputing each chunk's E-step) to sum the scatter around the new
        means: centring before the product stays accurate in float32, where the
        uncentred identity :math:`\\sum s x x^\\top - \\mu \\mu^\\top \\sum s`
        cancels catastrophically when the mean is large against the spread.

    Returns
    -------
    EMResult
        ``lower_bounds[k]`` is the weighted mean log-likelihood of the parameters
        entering iteration ``k`` (as in :class:`sklearn.mixture.GaussianMixture`).
    """
    chunk_size = check_chunk_size(chunk_size)
    data = prepare_data(XT, sample_weight, process_group, chunk_size=chunk_size)
    uniform_mode = "fixed" if isinstance(uniform, torch.Tensor) else uniform
    if init_params is None:
        params = initialize_params(
            data,
            grouping,
            covariance_type,
            uniform,
            fit_mean,
            init_inlier_prior,
            reg_covar,
        )
    else:
        params = init_params
        if uniform_mode == "range":
            bounds = range_bounds(data)
            log_density = uniform_from_bounds(bounds, grouping, data)
            params = replace(
                params, uniform_bounds=bounds, uniform_log_density=log_density
            )
    lower_bounds: list[float] = []
    converged = False
    previous = -math.inf
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        total, outlier_term, sums, scatter_pass = _em_pass(
            data, params, grouping, covariance_type, uniform_mode, fit_mean, df
        )
        # Distributed EM: every process gets the same total, hence the same stopping
        # decision (a process leaving the loop alone would deadlock the others).
        (total,) = _all_reduce_sum([total], process_group)
        lower_bound = float(total / data.sum_w + outlier_term.sum())
        if inlier_pseudo_count:
            # The log-prior of π, per unit of weight like the log-likelihood, at the
            # π the E-step used (clamped as there: a starting prior may round to 0).
            eps = _eps(params.inlier_prior.dtype)
            log_prior = torch.log(params.inlier_prior.clamp(eps, 1.0 - eps)).sum()
            lower_bound += float(inlier_pseudo_count * log_prior / data.sum_w)
        if not math.isfinite(lower_bound):
            raise FloatingPointError(
                "The GUM log-likelihood became non-finite; the data may hold values too "
                "large for its dtype (rescale it) or reg_covar may be too small."
            )
        params = m_step_update(
            data,
            sums,
            params,
            grouping,
            covariance_type,
            uniform_mode,
            fit_mean,
            reg_covar,
            scatter_pass,
            inlier_pseudo_count,
        )
        lower_bounds.append(lower_bound)
        if verbose >= 2:
            print(f"  EM iteration {n_iter}: mean log-likelihood {lower_bound:.6f}")
        if abs(lower_bound - previous) < tol:
            converged = True
            break
        previous = lower_bound
    if verbose >= 1:
        state = "converged" if converged else "did not converge"
        print(f"GUM EM {state} after {n_iter} iterations.")
    return EMResult(params, n_iter, converged, lower_bounds)


# ---------------------------------------------------------------------------
# Validation helpers shared with the regressor


def check_groups(groups, n_features: int) -> list[np.ndarray]:
    """Resolve the ``groups`` parameter into a partition of ``range(n_features)``.

    Parameters
    ----------
    groups : None, 'each' or list of lists of int
        None: one latent per row; 'each': one per column; otherwise one per listed
        group, which must together cover every column exactly once.
    n_features : int
        Number of columns to partition.

    Returns
    -------
    list of ndarray of int
        Column indices of every group.
    """
    if groups is None:
        return [np.arange(n_features)]
    if isinstance(groups, str):
        if groups != "each":
            raise ValueError(
                f"groups must be None, 'each' or a list of lists; got {groups!r}."
            )
        return [np.array([d]) for d in range(n_features)]
    try:
        resolved = [np.asarray(g) for g in groups]
    except TypeError as exc:
        raise TypeError(
            f"groups must be None, 'each' or a list of lists of column indices; "
            f"got {groups!r}."
        ) from exc
    for g, cols in enumerate(resolved):
        if cols.ndim != 1 or cols.size == 0:
            raise ValueError(f"groups[{g}] must be a non-empty list of column indices.")
        if not np.issubdtype(cols.dtype, np.integer):
            raise TypeError(
                f"groups[{g}] must hold integer column indices; got {cols!r}."
            )
    flat = np.concatenate(resolved)
    out_of_range = sorted({int(c) for c in flat if c < 0 or c >= n_features})
    if out_of_range:
        raise ValueError(
            f"groups name columns {out_of_range} but the data has {n_features} "
            f"column(s) (valid indices 0..{n_features - 1})."
        )
    counts = np.bincount(flat, minlength=n_features)
    repeated = np.flatnonzero(counts > 1).tolist()
    missing = np.flatnonzero(counts == 0).tolist()
    if repeated or missing:
        parts = []
        if missing:
            parts.append(f"columns {missing} are in no group")
        if repeated:
            parts.append(f"columns {repeated} appear more than once")
        raise ValueError(
            "groups must partition the columns (each exactly once): "
            + "; ".join(parts)
            + "."
        )
    return [cols.astype(np.int64) for cols in resolved]


def check_uniform_bounds(uniform, n_features: int) -> np.ndarray:
    """Validate user-given uniform bounds: finite, shape (D, 2), low < high."""
    bounds = np.asarray(uniform, dtype=np.float64)
    if bounds.shape != (n_features, 2):
        raise ValueError(
            f"uniform bounds must have shape (n_features, 2) = ({n_features}, 2); "
            f"got {bounds.shape}."
        )
    if not np.all(np.isfinite(bounds)):
        raise ValueError("uniform bounds must be finite.")
    bad = np.flatnonzero(bounds[:, 1] <= bounds[:, 0]).tolist()
    if bad:
        raise ValueError(f"uniform bounds need low < high; columns {bad} violate it.")
    return bounds


def validate_fit_data(estimator, *args, **kwargs):
    """``validate_data(estimator, ..., reset=True)`` that leaves ``estimator`` untouched.

    ``validate_data`` records ``n_features_in_`` and ``feature_names_in_`` on the
    estimator it is given, before any training. Recording them on a stand-in that
    holds only the estimator's parameters (same class, so the same tags and error
    messages) keeps a refit that fails or is interrupted from leaving the previous
    model with the new data's feature count.

    Returns
    -------
    validated : ndarray or tuple of ndarray
        What ``validate_data`` returns.
    seen : dict
        ``n_features_in_`` and, when ``X`` had string column names,
        ``feature_names_in_``: to assign together with the rest of the fitted state.
    """
    stand_in = object.__new__(type(estimator))
    stand_in.__dict__.update(
        {k: v for k, v in vars(estimator).items() if not k.endswith("_")}
    )
    validated = validate_data(stand_in, *args, reset=True, **kwargs)
    seen = {"n_features_in_": stand_in.n_features_in_}
    if hasattr(stand_in, "feature_names_in_"):
        seen["feature_names_in_"] = stand_in.feature_names_in_
    return validated, seen


def replace_fitted_state(estimator, attributes: dict) -> None:
    """Swap in a whole new fitted state at the end of ``fit``.

    Fitted attributes of a previous fit that the new one does not define (e.g.
    ``feature_names_in_`` after a refit on a plain array, ``group_outlier_scores_``
    after a refit without groups) are removed rather than left stale.
    """
    params = set(estimator.get_params(deep=False))
    stale = [
        name
        for name in vars(estimator)
        if name.endswith("_")
        and not name.startswith("_")
        and name not in params
        and name not in attributes
    ]
    for name in stale:
        delattr(estimator, name)
    for name, value in attributes.items():
        setattr(estimator, name, value)


def as_tensor(array: np.ndarray) -> torch.Tensor:
    """Tensor sharing memory with a C-contiguous array (copied only when it is not).

    Read-only arrays are shared too: nothing here writes into its inputs.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The given NumPy array is not writable"
        )
        return torch.from_numpy(np.ascontiguousarray(array))


# ---------------------------------------------------------------------------
# Conversion between torch parameters and the estimator's public attributes


def set_fitted_attributes(estimator, params: GUMParams, column_groups, covariance_type):
    """Store ``params`` as numpy attributes with the §2b public shapes."""
    grouped = estimator.groups is not None

    def np_(t):
        return t.detach().cpu().numpy()

    prior = np_(params.inlier_prior)
    weights = np.stack([prior, 1.0 - prior], axis=-1)
    means = np_(params.means)
    if covariance_type == "full":
        covariances = [np_(c) for c in params.covariances]
    else:
        covariances = np_(params.covariances)
    if grouped:
        estimator.weights_ = weights
        estimator.means_ = [means[cols] for cols in column_groups]
        if covariance_type == "diag":
            covariances = [covariances[cols] for cols in column_groups]
        elif covariance_type == "spherical":
            covariances = list(covariances)
        estimator.covariances_ = covariances
        estimator.uniform_log_density_ = np_(params.uniform_log_density)
    else:
        estimator.weights_ = weights[0]
        estimator.means_ = means
        estimator.covariances_ = (
            covariances[0] if covariance_type != "diag" else covariances
        )
        estimator.uniform_log_density_ = np_(params.uniform_log_density)[0]
    estimator.uniform_bounds_ = np_(params.uniform_bounds)
    estimator.groups_ = [np.asarray(cols) for cols in column_groups]


def params_from_attributes(estimator, dtype, device=None) -> GUMParams:
    """Rebuild torch parameters from the fitted public attributes."""
    covariance_type = estimator.covariance_type
    column_groups = estimator.groups_
    grouped = estimator.groups is not None
    n_features = estimator.uniform_bounds_.shape[0]

    def t(a):
        return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)

    weights = np.atleast_2d(estimator.weights_)
    if grouped:
        means = np.empty(n_features)
        for cols, m in zip(column_groups, estimator.means_, strict=True):
            means[cols] = m
        if covariance_type == "diag":
            covariances = np.empty(n_features)
            for cols, c in zip(column_groups, estimator.covariances_, strict=True):
                covariances[cols] = c
            covariances = t(covariances)
        elif covariance_type == "spherical":
            covariances = t(np.asarray(estimator.covariances_, dtype=np.float64))
        else:
            covariances = [t(c) for c in estimator.covariances_]
    else:
        means = estimator.means_
        if covariance_type == "full":
            covariances = [t(estimator.covariances_)]
        else:
            covariances = t(np.atleast_1d(estimator.covariances_))
    return GUMParams(
        t(weights[:, 0]),
        t(means),
        covariances,
        t(np.atleast_1d(estimator.uniform_log_density_)),
        t(estimator.uniform_bounds_),
    )


class _FittedAttributes:
    """Collects the attributes :func:`set_fitted_attributes` writes, off the
    estimator, until the fit has succeeded."""

    def __init__(self, groups):
        self.groups = groups

    def attributes(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "groups"}


# ---------------------------------------------------------------------------
# Estimator


class GaussianUniformMixture(DensityMixin, BaseEstimator):
    """Gaussian-uniform mixture: an inlier Gaussian plus an outlier uniform, by EM.

    Each latent group ``g`` of columns of a row follows

    .. math::

        p(x_g) = \\pi_g \\, \\mathcal{N}(x_g; \\mu_g, \\Sigma_g) + (1 - \\pi_g)\\,\\gamma_g

    with :math:`\\gamma_g` the density of a uniform over a box. Fit on regression
    residuals, ``predict_proba(X)[:, 1]`` is the probability that a target is an
    outlier. The API mirrors :class:`sklearn.mixture.GaussianMixture`.

    The uniform's density :math:`\\gamma` is used everywhere, including outside its
    box (``uniform_bounds_`` describes the fitted box, e.g. for :meth:`sample`): an
    outlier beyond the box must stay an outlier.

    Parameters
    ----------
    covariance_type : {'full', 'diag', 'spherical'}, default='diag'
        Covariance of each group's Gaussian: full matrix, per-column variances, or one
        variance pooled over the group's columns.
    groups : None, 'each' or list of lists of int, default=None
        Granularity of the latent inlier/outlier variable. None: one per row (all
        columns in or out together); 'each': one per column; a list of lists of column
        indices: one per group (e.g. the (x, y) pair of a landmark); the lists must
        partition the columns.
    uniform : {'moments', 'range'} or array-like of shape (n_features, 2), \
default='moments'
        Outlier support. 'moments': the box matching the outlier-weighted mean and
        variance of each column, re-estimated every M-step. 'range': the min–max box of
        the data (fixed; what the DeepGUM authors' code does). An array: fixed
        (low, high) bounds per column.
    fit_mean : bool, default=False
        Estimate the Gaussian's mean. False centres it at 0, as for residuals.
    inlier_df : float or None, default=None
        None: the inlier component is Gaussian. A number ν: a multivariate Student-t
        with ν degrees of freedom and scale matrix ``covariances_`` (heavier tails:
        inliers fitted less well than most, e.g. by a regressor, are not taken for
        outliers). ν is fixed, not learnt.
    init_inlier_prior : float, default=0.9
        Starting inlier prior :math:`\\pi` (learnt by EM afterwards).
    inlier_pseudo_count : float, default=10.0
        Pseudo-rows :math:`k` of inlier evidence (in units of sample weight): each
        M-step sets :math:`\\pi_g = (\\sum_n w_n r_{gn} + k) / (\\sum_n w_n + k)`,
        the maximum a posteriori estimate under a Beta(k + 1, 1) prior, and EM
        climbs the log-posterior (``lower_bound_`` includes
        :math:`k \\sum_g \\log \\pi_g / \\sum_n w_n`). On a few rows the
        maximum-likelihood fit often calls most of them outliers (the uniform's box,
        fitted to the same rows, out-scores a narrow inlier component); the prior
        rules that out, and its pull :math:`k / (\\sum_n w_n + k)` fades as the data
        grow. Its cost: a small sample that is mostly outlying reads as inliers (80
        residuals, 80 % of them uniform: the MAP fit calls every row an inlier); set
        0 there. 0: maximum likelihood.
    max_iter : int, default=100
        Maximum number of EM iterations.
    tol : float, default=1e-3
        Convergence threshold on the gain in mean log-likelihood.
    reg_covar : float, default=1e-6
        Non-negative regularisation of the covariances, relative to each column's
        scale: ``reg_covar`` times the column's weighted variance in the training
        data is added to its diagonal entry. Every other scale in the model (the
        uniform's box, the variance floors) is relative to the data too, so the fit
        is equivariant under per-column rescaling: multiplying column ``d`` by
        ``c_d`` leaves :meth:`predict_proba` and ``weights_`` unchanged and scales
        ``covariances_`` by ``c_d c_e``. An absolute term would swamp a column of
        small-scale residuals (its Gaussian wider than the data, every row an
        outlier).
    warm_start : bool, default=False
        Start EM from the previous fit's parameters when shapes allow.
    random_state : int, RandomState instance or None, default=None
        Seed for :meth:`sample` (EM itself is deterministic).
    verbose : int, default=0
        1 prints a summary per fit, 2 the log-likelihood of every iteration.

    Attributes
    ----------
    weights_ : ndarray of shape (2,), or (n_groups, 2) when ``groups`` is set
        ``weights_[..., 0]`` is the inlier prior, ``weights_[..., 1]`` its complement.
    means_ : ndarray of shape (n_features,), or list of (n_columns_g,) arrays
        Gaussian mean (zeros unless ``fit_mean=True``).
    covariances_ : ndarray or list of ndarray
        Without groups: (n_features, n_features) for 'full', (n_features,) for 'diag',
        a scalar for 'spherical'. With groups: a list with one (n_g, n_g) matrix,
        (n_g,) vector or scalar per group.
    uniform_log_density_ : float or ndarray of shape (n_groups,)
        :math:`\\log \\gamma` (kept in the log domain: :math:`\\gamma` overflows with
        many columns).
    uniform_bounds_ : ndarray of shape (n_features, 2)
        (low, high) of the uniform's box per column.
    groups_ : list of ndarray of int
        The resolved partition of the columns into latent groups.
    converged_ : bool
        Whether EM reached ``tol`` before ``max_iter``.
    n_iter_ : int
        Number of EM iterations run.
    lower_bound_ : float
        Mean log-likelihood at the last iteration.
    lower_bounds_ : list of float
        Mean log-likelihood at every iteration.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.mixture.GaussianMixture : Mixture of Gaussians only.
    DeepGUMRegressor : Neural regressor trained with this mixture on its residuals.

    References
    ----------
    .. [1] S. Lathuilière, P. Mesejo, X. Alameda-Pineda, R. Horaud. "DeepGUM: Learning
       Deep Robust Regression with a Gaussian-Uniform Mixture Model." ECCV 2018.
    .. [2] P. Coretto, C. Hennig. "Maximum likelihood estimation of heterogeneous
       mixtures of Gaussian and uniform distributions." J. Stat. Plan. Inference, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_deepgum import GaussianUniformMixture
    >>> rng = np.random.default_rng(0)
    >>> inliers = rng.normal(0, 1, size=(900, 1))
    >>> outliers = rng.uniform(-20, 20, size=(100, 1))
    >>> gum = GaussianUniformMixture().fit(np.vstack([inliers, outliers]))
    >>> round(float(gum.weights_[0]), 2)
    0.9
    >>> gum.predict([[0.1], [15.0]])
    array([0, 1])
    """

    _parameter_constraints: dict = {
        "covariance_type": [StrOptions({"full", "diag", "spherical"})],
        "groups": [None, StrOptions({"each"}), list, tuple],
        "uniform": [StrOptions({"moments", "range"}), "array-like"],
        "fit_mean": ["boolean"],
        "inlier_df": [None, Interval(Real, 0, None, closed="neither")],
        "init_inlier_prior": [Interval(Real, 0, 1, closed="neither")],
        "inlier_pseudo_count": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "reg_covar": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        covariance_type="diag",
        groups=None,
        uniform="moments",
        fit_mean=False,
        inlier_df=None,
        init_inlier_prior=0.9,
        inlier_pseudo_count=10.0,
        max_iter=100,
        tol=1e-3,
        reg_covar=1e-6,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.covariance_type = covariance_type
        self.groups = groups
        self.uniform = uniform
        self.fit_mean = fit_mean
        self.inlier_df = inlier_df
        self.init_inlier_prior = init_inlier_prior
        self.inlier_pseudo_count = inlier_pseudo_count
        self.max_iter = max_iter
        self.tol = tol
        self.reg_covar = reg_covar
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the mixture's parameters by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data, typically regression residuals ``y - prediction``.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; they enter every sufficient statistic.

        Returns
        -------
        self : GaussianUniformMixture
            The fitted mixture.
        """
        # Everything is built in locals and assigned at the end, so a fit that fails
        # or is interrupted (Ctrl-C) leaves a previous fit intact.
        X, seen = validate_fit_data(self, X, dtype=[np.float64, np.float32])
        n_samples, n_features = X.shape
        if n_samples < 2:
            raise ValueError(
                f"GaussianUniformMixture needs at least 2 samples; got n_samples={n_samples}."
            )
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        column_groups = check_groups(self.groups, n_features)
        uniform = self.uniform
        if not isinstance(uniform, str):
            uniform = as_tensor(
                check_uniform_bounds(uniform, n_features).astype(X.dtype)
            )
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        init = None
        if self.warm_start and self._can_warm_start(column_groups):
            init = params_from_attributes(self, dtype)
        result = fit_gum(
            as_tensor(X.T),
            None if weights is None else as_tensor(weights),
            make_grouping(column_groups),
            covariance_type=self.covariance_type,
            uniform=uniform,
            fit_mean=self.fit_mean,
            init_inlier_prior=self.init_inlier_prior,
            inlier_pseudo_count=self.inlier_pseudo_count,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            tol=self.tol,
            init_params=init,
            df=self.inlier_df,
            verbose=self.verbose,
        )
        if not result.converged:
            warnings.warn(
                f"GaussianUniformMixture did not converge in max_iter={self.max_iter} "
                f"iterations (tol={self.tol}). Increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )
        fitted = _FittedAttributes(groups=self.groups)
        set_fitted_attributes(
            fitted, result.params, column_groups, self.covariance_type
        )
        replace_fitted_state(
            self,
            {
                **fitted.attributes(),
                **seen,
                "converged_": result.converged,
                "n_iter_": result.n_iter,
                "lower_bounds_": result.lower_bounds,
                "lower_bound_": result.lower_bounds[-1],
            },
        )
        return self

    def _can_warm_start(self, column_groups) -> bool:
        if not hasattr(self, "groups_") or len(self.groups_) != len(column_groups):
            return False
        return all(
            np.array_equal(a, b)
            for a, b in zip(self.groups_, column_groups, strict=True)
        )

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then label every row: 1 = outlier, 0 = inlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            1 where the row is more likely an outlier than an inlier.
        """
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def _logit(self, X):
        check_is_fitted(self)
        if self.n_features_in_ == 1 and np.ndim(X) == 1:
            # Residuals of a single-output regressor come 1-D: y - predict(X).
            X = np.asarray(X).reshape(-1, 1)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        params = params_from_attributes(self, dtype)
        return estimate_inlier_logit(
            as_tensor(X.T),
            params,
            make_grouping(self.groups_),
            self.covariance_type,
            fit_mean=self.fit_mean,
            df=self.inlier_df,
        )

    def predict_group_proba(self, X):
        """Inlier probability of every latent group of every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_groups)
            :math:`r_g = P(\\text{group } g \\text{ inlier} \\mid x)`.
        """
        logit, _ = self._logit(X)
        return torch.sigmoid(logit).T.numpy()

    def predict_proba(self, X):
        """Probability that each row is an inlier and an outlier.

        A row is an inlier when all its groups are: :math:`P(\\text{inlier}) =
        \\prod_g r_g`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
            Columns [P(row inlier), P(row outlier)].
        """
        logit, _ = self._logit(X)
        log_inlier = row_log_inlier_proba(logit)
        # 1 - exp(l) via expm1 keeps tiny outlier probabilities accurate.
        return torch.stack([torch.exp(log_inlier), -torch.expm1(log_inlier)], 1).numpy()

    def predict(self, X):
        """Label every row: 1 = outlier, 0 = inlier (argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            1 for outliers, 0 for inliers.
        """
        proba = self.predict_proba(X)
        return (proba[:, 1] > proba[:, 0]).astype(np.int64)

    def score_samples(self, X):
        """Log-likelihood of every row under the fitted mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            :math:`\\sum_g \\log(\\pi_g \\mathcal{N}(x_g) + (1 - \\pi_g)\\gamma_g)`.
        """
        logit, outlier_term = self._logit(X)
        return row_log_likelihood(logit, outlier_term).numpy()

    def score(self, X, y=None):
        """Mean log-likelihood of the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        log_likelihood : float
            Mean of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))

    def _n_parameters(self) -> int:
        """Number of free parameters p of :meth:`bic` and :meth:`aic`.

        Per group of :math:`d` columns: the inlier prior (1), the covariance
        (:math:`d(d+1)/2` full, :math:`d` diag, 1 spherical) and, with ``fit_mean``,
        the mean (:math:`d`); plus the uniform's (low, high) per column when it is
        estimated ('moments' or 'range'), none for given bounds.
        """
        n = 0
        for cols in self.groups_:
            d = len(cols)
            n += 1  # inlier prior
            n += {"full": d * (d + 1) // 2, "diag": d, "spherical": 1}[
                self.covariance_type
            ]
            n += d if self.fit_mean else 0
        if isinstance(self.uniform, str):
            n += 2 * self.n_features_in_  # box centre and width per column
        return n

    def bic(self, X):
        """Bayesian information criterion on ``X`` (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        bic : float
            :math:`-2 \\log L + p \\log n`.
        """
        log_lik = self.score_samples(X)
        return -2 * log_lik.sum() + self._n_parameters() * np.log(len(log_lik))

    def aic(self, X):
        """Akaike information criterion on ``X`` (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        aic : float
            :math:`-2 \\log L + 2 p`.
        """
        return -2 * self.score_samples(X).sum() + 2 * self._n_parameters()

    def sample(self, n_samples=1):
        """Draw rows from the fitted mixture.

        Each group is drawn independently: from its Gaussian with probability
        :math:`\\pi_g`, otherwise uniformly from its box ``uniform_bounds_``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Drawn rows.
        y : ndarray of shape (n_samples,)
            1 where at least one group of the row was drawn from the uniform.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"n_samples must be a positive integer; got {n_samples!r}."
            )
        rng = check_random_state(self.random_state)
        params = params_from_attributes(self, torch.float64)
        bounds = self.uniform_bounds_
        X = np.empty((n_samples, self.n_features_in_))
        is_outlier = np.zeros(n_samples, dtype=bool)
        for g, cols in enumerate(self.groups_):
            outlier = rng.uniform(size=n_samples) >= float(params.inlier_prior[g])
            mean = params.means[cols].numpy()
            if self.covariance_type == "full":
                cov = params.covariances[g].numpy()
            elif self.covariance_type == "diag":
                cov = np.diag(params.covariances[cols].numpy())
            else:
                cov = float(params.covariances[g]) * np.eye(len(cols))
            gauss = rng.multivariate_normal(np.zeros(len(cols)), cov, size=n_samples)
            if self.inlier_df is not None:
                # A Student-t is a Gaussian divided by sqrt(chi2_nu / nu).
                df = self.inlier_df
                gauss = gauss / np.sqrt(rng.chisquare(df, size=(n_samples, 1)) / df)
            gauss = gauss + mean
            unif = rng.uniform(
                bounds[cols, 0], bounds[cols, 1], size=(n_samples, len(cols))
            )
            X[:, cols] = np.where(outlier[:, None], unif, gauss)
            is_outlier |= outlier
        return X, is_outlier.astype(np.int64)
