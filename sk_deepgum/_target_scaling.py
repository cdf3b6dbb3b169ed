"""Robust per-output standardisation of the targets (median and MAD).

The network and the mixture work on targets standardised per output; every fitted
quantity is mapped back to the original units after ``fit``.
"""

from __future__ import annotations

import warnings

import numpy as np

from sk_deepgum._validation import (
    MAD_TO_SD,
)
from sk_deepgum._warnings import user_stacklevel

_IQR_TO_SD = 1.0 / 1.349


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
