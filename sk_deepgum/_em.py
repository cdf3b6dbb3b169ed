"""The EM loop of the Gaussian-uniform mixture: cached data, start, iterations.

:func:`fit_gum` starts from robust quantiles of the data (:func:`initialize_params`)
and alternates the E-step and M-step of :mod:`sk_deepgum._gum_math`, each a pass
over row chunks, until the log-likelihood stops improving. Every sum over rows goes
through the data's row reducer (:mod:`sk_deepgum._distributed`): the identity when
every row is here, an all-reduce when the rows are sharded over a process group.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from sk_deepgum import _distributed
from sk_deepgum._covariance import COVARIANCES
from sk_deepgum._gum_math import (
    EMData,
    EMResult,
    Grouping,
    GUMParams,
    accumulate,
    accumulate_scatters,
    check_chunk_size,
    chunk_squares,
    dtype_eps,
    e_step,
    full_scatters,
    m_step_update,
    needs_squares,
    row_chunks,
    scatter_weights,
    sum_chunk,
    take_rows,
)

# |x| of a centred Gaussian has its 25 % quantile at Phi^{-1}(0.625) σ = 0.3186 σ.
_INIT_QUANTILE = 0.25
_INIT_QUANTILE_Z = 0.31863936396437515
# Rows used (a strided subsample) to compute the starting centre and scale.
_INIT_MAX_ROWS = 1 << 17


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
    reducer = _distributed.row_reducer(process_group)
    eps = dtype_eps(XT.dtype)
    n = XT.shape[1]
    sum_w = total_first = total_second = low = high = None
    for rows in row_chunks(n, chunk_size):
        chunk, w = take_rows(XT, sample_weight, rows)
        squares = chunk * chunk
        if w is None:
            first, second = chunk.sum(1), squares.sum(1)
        else:
            first, second = chunk @ w, squares @ w
            sum_w = accumulate(sum_w, w.sum())
        total_first = accumulate(total_first, first)
        total_second = accumulate(total_second, second)
        kept = chunk if w is None else chunk[:, w > 0]
        if kept.shape[1] > 0:
            # min and max are exact, so any chunking gives the unchunked range.
            chunk_low, chunk_high = kept.amin(1), kept.amax(1)
            low = chunk_low if low is None else torch.minimum(low, chunk_low)
            high = chunk_high if high is None else torch.maximum(high, chunk_high)
    if sample_weight is None:
        sum_w = XT.new_tensor(float(n))
    sum_w, total_first, total_second = reducer.sum([sum_w, total_first, total_second])
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
        if reducer.is_local:
            raise ValueError(
                "No row has a positive sample weight (or there are no rows): the "
                "mixture cannot be fitted. Give at least one row a positive weight."
            )
        # This shard has no weighted row: the identity of min/max, the other shards
        # supply the range.
        low = XT.new_full((XT.shape[0],), math.inf)
        high = XT.new_full((XT.shape[0],), -math.inf)
    # Group-wide min and max in one MAX reduction: min(a) = -max(-a), exactly.
    signed = reducer.max(torch.stack([-low, high], dim=1))
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
        reducer,
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
    n_rows = data.reducer.count_rows(data.XT.shape[1])
    step = max(1, n_rows // _INIT_MAX_ROWS)
    XT = data.XT[:, ::step]
    w = None if data.w is None else data.w[::step]
    XT, w = data.reducer.gather_rows([XT, w])
    centre, spread = _centre_and_spread(XT, w)
    var = (spread / _INIT_QUANTILE_Z) ** 2
    # Columns where most rows coincide have a zero quantile: use the weighted
    # variance instead, then the floor.
    mean_sq = data.total_second / data.sum_w - (data.total_first / data.sum_w) ** 2
    var = torch.where(var > data.var_floor, var, mean_sq)
    var = torch.maximum(var + reg_covar * data.reg_scale, data.var_floor)
    means = centre if fit_mean else torch.zeros_like(centre)
    covariances = COVARIANCES[covariance_type].initial(var, grouping)
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
    chunks = row_chunks(data.XT.shape[1], data.chunk_size)
    squares = needs_squares(covariance_type, uniform)
    total = sums = None
    for rows in chunks:
        XT, w = take_rows(data.XT, data.w, rows)
        X2T = chunk_squares(data, XT) if squares else None
        logit, outlier_term, scales = e_step(
            XT, params, grouping, covariance_type, X2T=X2T, fit_mean=fit_mean, df=df
        )
        log_lik = torch.nn.functional.softplus(logit).sum(0)
        total = accumulate(total, log_lik.sum() if w is None else log_lik @ w)
        part, scatter_resp = sum_chunk(
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
        sums = accumulate(sums, part)
    # One chunk: its rows and scatter weights, kept for the second pass.
    single = (XT, scatter_resp) if len(chunks) == 1 else None

    def scatter_pass(means):
        if single is not None:
            return full_scatters(*single, grouping, means)
        scatters = None
        for rows in chunks:
            # Recompute the chunk's E-step under the same parameters (bitwise the
            # same responsibilities) rather than keep (G, n) of them.
            XT, w = take_rows(data.XT, data.w, rows)
            logit, _, scales = e_step(
                XT, params, grouping, covariance_type, fit_mean=fit_mean, df=df
            )
            _, scatter_resp = scatter_weights(torch.sigmoid(logit), w, scales)
            part = full_scatters(XT, scatter_resp, grouping, means)
            scatters = accumulate_scatters(scatters, part)
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
        the diagonal of every covariance, so that rescaling a column leaves the
        posteriors and the inlier prior unchanged. See :ref:`model` in the user
        guide.
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
        include :math:`k \\sum_g \\log \\pi_g / \\sum_n w_n`). Its pull
        :math:`k / (\\sum_n w_n + k)` vanishes as the data grow. 0: maximum
        likelihood. See :ref:`small-tables` in the user guide.
    verbose : int, default=0
        1 prints a summary, 2 the log-likelihood of every iteration.
    process_group : torch.distributed.ProcessGroup or None, default=None
        Distributed EM. Every process of the group calls ``fit_gum`` with its own
        shard of the rows and the same other arguments, and returns the same
        mixture as a single process fitted on all the rows (up to floating-point
        summation order). Pass ``torch.distributed.group.WORLD`` for the default
        group. None: the single-process computation. See :ref:`distributed-em`.
    chunk_size : int or None, default=None
        Rows per chunk of every pass over ``XT`` (None: :data:`EM_CHUNK_ROWS` =
        65 536). Smaller chunks lower the peak memory (O(chunk_size · D) beyond
        ``XT``) at the cost of more, smaller products. For 'full' covariances with
        ``fit_mean=True`` and more than one chunk, each iteration takes a second
        pass to sum the scatter around the new means (centring before the product
        keeps float32 accurate when the mean is large against the spread).

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
        (total,) = data.reducer.sum([total])
        lower_bound = float(total / data.sum_w + outlier_term.sum())
        if inlier_pseudo_count:
            # The log-prior of π, per unit of weight like the log-likelihood, at the
            # π the E-step used (clamped as there: a starting prior may round to 0).
            eps = dtype_eps(params.inlier_prior.dtype)
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
