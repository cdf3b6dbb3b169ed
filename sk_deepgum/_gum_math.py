"""The Gaussian-uniform mixture's math: containers, E-step and M-step.

These functions, with the EM loop of :mod:`sk_deepgum._em`, are the numerical core
shared by :class:`~sk_deepgum.GaussianUniformMixture` (numpy in, numpy out) and
:class:`~sk_deepgum.DeepGUMRegressor` (residuals already on the training device).
They take and return tensors only, never touch estimator state, and loop over latent
groups, never over samples.

The model, an inlier Gaussian (or Student-t) plus a uniform per latent group, is
written out in :mod:`sk_deepgum.mixture`.

Layout: the core works on *feature-major* tensors ``XT`` of shape (D, n) and returns
per-group quantities of shape (G, n). Every per-iteration reduction is then a
contiguous matrix-vector product or a reduction over a short leading axis, which is
what makes float32 EM fast on a CPU (a (n, D) @ (D,) product is not). Passes over
all rows (:func:`~sk_deepgum._em.fit_gum`, :func:`estimate_inlier_logit`) take the
columns of ``XT`` in chunks of at most ``chunk_size`` rows (:data:`EM_CHUNK_ROWS` by
default) and add up the sufficient statistics, so their work arrays are
O(chunk_size · D), not O(n · D).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import torch

from sk_deepgum import _distributed
from sk_deepgum._covariance import COVARIANCES

_LOG_2PI = math.log(2.0 * math.pi)
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
    """Outcome of :func:`~sk_deepgum._em.fit_gum`.

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
    # Sums over rows across the processes holding them (distributed EM), or the
    # identity. Every statistic above is already group-wide.
    reducer: _distributed.LocalRows | _distributed.ShardedRows = field(
        default_factory=_distributed.LocalRows
    )


def dtype_eps(dtype: torch.dtype) -> float:
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


def row_chunks(n: int, chunk_size: int) -> list[slice]:
    """Consecutive slices of at most ``chunk_size`` rows covering ``range(n)``.

    An empty shard (n = 0, possible in distributed EM) still gets one empty chunk, so
    every pass produces its (zero) sums.
    """
    return [
        slice(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)
    ] or [slice(0, 0)]


def chunk_squares(data: EMData, XT: torch.Tensor) -> torch.Tensor:
    """``XT * XT`` of a chunk, from the cache when the data is a single chunk."""
    return data.X2T if data.X2T is not None else XT * XT


def take_rows(XT: torch.Tensor, w: torch.Tensor | None, rows: slice):
    """Columns ``rows`` of (D, n) ``XT`` and entries of (n,) ``w``, as views (the
    tensors themselves when ``rows`` covers them: same arithmetic, no view to make)."""
    if rows.start == 0 and rows.stop == XT.shape[1]:
        return XT, w
    return XT[:, rows], None if w is None else w[rows]


def accumulate(total, part):
    """``total + part`` where ``total`` may still be None (first chunk).

    The first chunk's sums are taken as they are, not added to zeros, so a single
    chunk runs exactly the arithmetic of an unchunked pass (``0.0 + (-0.0)`` would
    not even keep the sign of a zero).
    """
    return part if total is None else total + part


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
    :math:`\log|\Sigma_g|` (G,), by the covariance type's own formula
    (:mod:`sk_deepgum._covariance`)."""
    return COVARIANCES[covariance_type].mahalanobis(
        XT, params.means, params.covariances, grouping, X2T, fit_mean
    )


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
    eps = dtype_eps(XT.dtype)
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
    for rows in row_chunks(n, chunk_size):
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


@dataclass
class GaussianMoments:
    r"""The inlier Gaussian's group-wide statistics at an M-step, from which a
    covariance type (:mod:`sk_deepgum._covariance`) estimates its covariances.

    Parameters
    ----------
    means : Tensor of shape (D,)
        The new means :math:`\mu`.
    mass, mass_col : Tensor of shape (G,) and (D,)
        Floored responsibility mass :math:`m_g` per group, and per column.
    first, second : Tensor of shape (D,) or None
        :math:`\sum_n s_n x_n` and :math:`\sum_n s_n x_n^2` (None where unused).
    scatter_mass_col : Tensor of shape (D,)
        :math:`\sum_n s_n` per column, floored.
    fit_mean : bool
        Whether the means were fitted (else they are the previous ones).
    summed_scatters : list of Tensor or None
        'full': the scatter matrices summed during the pass, when the means were
        known before it.
    scatter_pass : callable
        ``scatter_pass(means)``: this process's scatter matrices around ``means``,
        a second pass over the rows.
    """

    means: torch.Tensor
    mass: torch.Tensor
    mass_col: torch.Tensor
    first: torch.Tensor | None
    second: torch.Tensor | None
    scatter_mass_col: torch.Tensor
    fit_mean: bool
    summed_scatters: list[torch.Tensor] | None
    scatter_pass: object

    def centred_second(self) -> torch.Tensor:
        r""":math:`\sum_n s_n (x_n - \mu)^2 = \sum s x^2 - 2 \mu \sum s x + \mu^2
        \sum s`, from sums already at hand (per column)."""
        if not self.fit_mean:
            return self.second
        return (
            self.second
            - 2 * self.means * self.first
            + self.means * self.means * self.scatter_mass_col
        )

    def scatters(self) -> list[torch.Tensor]:
        """This process's 'full' scatter matrices around :attr:`means`."""
        if self.summed_scatters is not None:
            return self.summed_scatters
        return self.scatter_pass(self.means)


def scatter_weights(
    resp: torch.Tensor, w: torch.Tensor | None, scales: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    r""":math:`\tilde r = w r` and the scatter weights :math:`s = \tilde r u` (G, c)."""
    weighted_resp = resp if w is None else resp * w
    return weighted_resp, weighted_resp if scales is None else weighted_resp * scales


def full_scatters(
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


def needs_squares(covariance_type: str, uniform: str) -> bool:
    """Whether a pass needs :math:`x^2`: diag/spherical distances and scatters, or
    the moment-matched uniform."""
    return COVARIANCES[covariance_type].uses_squares or uniform == "moments"


def sum_chunk(
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
    ``resp`` (G, c); ``X2T`` = ``XT * XT`` when :func:`needs_squares`. Also returns
    the chunk's scatter weights :math:`s` (G, c) (see :func:`scatter_weights`).

    For 'full' covariances the scatter matrices around ``scatter_means`` are summed
    here when the means are known before the pass (``fit_mean=False``: the previous
    means); with a fitted mean pass None: they need this pass's means and come from a
    second pass (:func:`m_step_update`).
    """
    weighted_resp, scatter_resp = scatter_weights(resp, w, scales)
    uses_squares = COVARIANCES[covariance_type].uses_squares
    need_first = fit_mean or uniform == "moments"
    need_second = uses_squares or uniform == "moments"
    sums = _MStepSums(
        weighted_resp.sum(1),
        _sum_by_column(weighted_resp, XT, grouping) if need_first else None,
        _sum_by_column(weighted_resp, X2T, grouping) if need_second else None,
    )
    if scales is not None:
        # The Gaussian's sums: weighted by r·u for a Student-t inlier.
        if fit_mean:
            sums.scatter_first = _sum_by_column(scatter_resp, XT, grouping)
        if uses_squares:
            sums.scatter_second = _sum_by_column(scatter_resp, X2T, grouping)
        sums.scatter_mass = scatter_resp.sum(1)
    if not uses_squares and scatter_means is not None:
        sums.scatters = full_scatters(XT, scatter_resp, grouping, scatter_means)
    return sums, scatter_resp


def accumulate_scatters(total, part):
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

    The sums are first reduced by ``data.reducer`` (across the processes in a
    distributed EM), then the parameters are updated. ``scatter_pass(means)`` returns this process's 'full'
    scatter matrices around ``means`` when ``sums.scatters`` is None (a second pass
    over the rows once the new means are known).
    """
    XT = data.XT
    # Distributed EM: the sums so far cover this process's rows only.
    resp_mass, first, second = data.reducer.sum(
        [sums.resp_mass, sums.first, sums.second]
    )
    eps = dtype_eps(XT.dtype)
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
        scatter_first, scatter_second, scatter_mass = data.reducer.sum(
            [sums.scatter_first, sums.scatter_second, sums.scatter_mass]
        )
        scatter_mass_col = scatter_mass.clamp_min(data.mass_floor)
        scatter_mass_col = scatter_mass_col[grouping.col_group]
    means = scatter_first / scatter_mass_col if fit_mean else previous.means
    # reg_covar is in units of each column's variance (see prepare_data).
    reg = reg_covar * data.reg_scale

    covariance = COVARIANCES[covariance_type]
    moments = GaussianMoments(
        means,
        mass,
        mass_col,
        scatter_first,
        scatter_second,
        scatter_mass_col,
        fit_mean,
        sums.scatters,
        scatter_pass,
    )
    covariances = covariance.estimate(moments, data, grouping, reg)

    bounds, log_density = previous.uniform_bounds, previous.uniform_log_density
    if uniform == "moments":
        inlier_var = covariance.column_variances(covariances, grouping)
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

    The sums run over chunks of ``data.chunk_size`` rows (:func:`sum_chunk`), then
    :func:`m_step_update` finishes; 'full' covariances with a fitted mean take a
    second chunked pass for the scatter around the new means.

    Parameters
    ----------
    data : EMData
        Cached data and totals from :func:`~sk_deepgum._em.prepare_data`.
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
    chunks = row_chunks(data.XT.shape[1], data.chunk_size)

    def chunk_of(rows):
        XT, w = take_rows(data.XT, data.w, rows)
        return XT, w, None if scales is None else scales[:, rows]

    sums = None
    for rows in chunks:
        XT, w, scales_c = chunk_of(rows)
        X2T = (
            chunk_squares(data, XT) if needs_squares(covariance_type, uniform) else None
        )
        part, _ = sum_chunk(
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
        sums = accumulate(sums, part)

    def scatter_pass(means):
        scatters = None
        for rows in chunks:
            XT, w, scales_c = chunk_of(rows)
            _, scatter_resp = scatter_weights(resp[:, rows], w, scales_c)
            part = full_scatters(XT, scatter_resp, grouping, means)
            scatters = accumulate_scatters(scatters, part)
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
