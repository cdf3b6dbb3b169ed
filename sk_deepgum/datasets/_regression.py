"""Synthetic regression data from a published law, and outlier injection.

:func:`make_contaminated_regression` draws the law and its Bayes-optimal outlier
posterior; :func:`contaminate` corrupts any target array.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.utils import Bunch

from sk_deepgum._validation import MAD_TO_SD, check_groups
from sk_deepgum.datasets._common import (
    RandomStateLike,
    check_nonnegative_float,
    check_positive_int,
    check_rate,
    check_rng,
    gaussian_logpdf,
    n_contaminated,
    outlier_posterior,
    per_column,
)

__all__ = ["contaminate", "make_contaminated_regression"]

_COEF_SEED = 12345
_UNIFORM_BOX = (-6.0, 6.0)
_DEFAULT_SHIFT = 3.0
_LOG_2PI = math.log(2.0 * math.pi)

_REGRESSION_KINDS = ("uniform", "shift")
_CONTAMINATE_KINDS = ("uniform", "shift", "swap")


# ---------------------------------------------------------------------------
# Helpers


# ---------------------------------------------------------------------------
# The published law


def _law_coefficients(n_features: int, n_targets: int):
    """Fixed unit vectors ``u, v, w`` (K, p) and exact standardisation constants.

    Under ``X ~ U(-1, 1)^p`` with ``h = sin(pi u.x) + 0.5 (v.x)^2 + w.x`` and unit
    vectors: ``E[sin(pi u.x)] = 0`` and ``E[(v.x)^2] = 1/3`` so ``E[h] = 1/6``; the odd
    and even parts are uncorrelated, so
    ``Var h = Var S + Var(Q) / 4 + 1/3 + 2 Cov(S, L)`` with, using
    ``E[cos(a x)] = sin(a)/a`` and ``E[x sin(a x)] = (sin a - a cos a) / a^2``:
    ``Var S = (1 - prod_j sinc(2 u_j)) / 2``,
    ``Var Q = 2/9 - (2/15) sum_j v_j^4``,
    ``Cov(S, L) = sum_j w_j E[x sin(pi u_j x)] prod_{l != j} sinc(u_l)``
    (``sinc(t) = sin(pi t) / (pi t)``, numpy's convention).
    """
    u = np.empty((n_targets, n_features))
    v = np.empty_like(u)
    w = np.empty_like(u)
    mean = np.full(n_targets, 1.0 / 6.0)
    scale = np.empty(n_targets)
    for k in range(n_targets):
        # Seeded per target (and per p) so f_k does not depend on n_targets.
        g = np.random.default_rng([_COEF_SEED, n_features, k]).standard_normal(
            (3, n_features)
        )
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        u[k], v[k], w[k] = g

        var_s = 0.5 * (1.0 - np.prod(np.sinc(2.0 * u[k])))
        var_q = 2.0 / 9.0 - (2.0 / 15.0) * np.sum(v[k] ** 4)
        a = np.pi * u[k]
        small = np.abs(a) < 1e-4
        a_safe = np.where(small, 1.0, a)
        e_xsin = np.where(
            small,
            a / 3.0 - a**3 / 30.0,
            (np.sin(a_safe) - a_safe * np.cos(a_safe)) / a_safe**2,
        )
        sinc_u = np.sinc(u[k])
        others = np.array(
            [np.prod(np.delete(sinc_u, j)) for j in range(n_features)], dtype=float
        )
        cov_sl = np.sum(w[k] * e_xsin * others)
        scale[k] = math.sqrt(var_s + 0.25 * var_q + 1.0 / 3.0 + 2.0 * cov_sl)
    return u, v, w, mean, scale


def _clean_function(X: np.ndarray, n_targets: int) -> np.ndarray:
    """f(X) of shape (n, n_targets), standardised to mean 0 and variance 1."""
    u, v, w, mean, scale = _law_coefficients(X.shape[1], n_targets)
    h = np.sin(np.pi * X @ u.T) + 0.5 * (X @ v.T) ** 2 + X @ w.T
    return (h - mean) / scale


def _bayes_outlier_proba(
    y: np.ndarray,
    f: np.ndarray,
    prior: float,
    kind: str,
    noise: float,
    shift: np.ndarray,
) -> np.ndarray:
    """P(outlier | x, y) for each row, from the true law (y, f of shape (n, K))."""
    n, n_targets = y.shape
    if prior == 0.0:
        return np.zeros(n)
    resid = y - f
    if noise == 0.0:
        # Inliers sit exactly on f; the float residual of an inlier is exactly 0.
        on_f = np.all(resid == 0.0, axis=1)
        if kind == "shift" and np.all(shift == 0.0):
            return np.full(n, prior)
        return np.where(on_f, 0.0, 1.0)

    if kind == "uniform":
        low, high = _UNIFORM_BOX
        inside = np.all((y >= low) & (y <= high), axis=1)
        log_out = np.where(inside, -n_targets * math.log(high - low), -np.inf)
    else:
        log_out = gaussian_logpdf(resid - shift, noise)
    return outlier_posterior(gaussian_logpdf(resid, noise), log_out, prior)


def make_contaminated_regression(
    n_samples: int = 1000,
    n_features: int = 5,
    n_targets: int = 1,
    *,
    outlier_rate: float = 0.2,
    outlier_kind: str = "uniform",
    noise: float = 0.1,
    shift: float | Sequence[float] | np.ndarray | None = None,
    random_state: RandomStateLike = None,
    return_details: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | Bunch:
    r"""Nonlinear regression data with an exact fraction of wrong targets.

    The law (published: benchmarks quote it next to every number):

    - ``X ~ Uniform(-1, 1)^p`` i.i.d., ``p = n_features``.
    - For each target ``k = 0..K-1`` (``K = n_targets``), three unit vectors
      ``u_k, v_k, w_k`` are the rows of
      ``numpy.random.default_rng([12345, p, k]).standard_normal((3, p))``, each
      divided by its Euclidean norm. They are fixed: they do not depend on
      ``random_state`` (nor on ``K``), so every draw with the same ``p`` shares the
      same clean function ``f``.
    - ``h_k(x) = sin(pi <u_k, x>) + 0.5 <v_k, x>^2 + <w_k, x>`` and
      ``f_k(x) = (h_k(x) - m_k) / s_k`` where ``m_k = 1/6`` and ``s_k`` are the exact
      mean and standard deviation of ``h_k(X)`` under the law of ``X`` (computed in
      closed form from the fixed vectors, not from the data): ``f_k(X)`` has mean 0
      and variance 1.
    - Clean targets: ``y_clean = f(X) + eps``, ``eps ~ N(0, noise^2)`` i.i.d. per
      target.
    - Contamination: exactly ``m = round(outlier_rate * n_samples)`` rows, drawn
      uniformly without replacement, are outliers (the rate is exact, not Bernoulli).

      * ``"uniform"``: the whole target row is replaced by independent
        ``Uniform(-6, 6)`` draws, one per target (outlier density ``12^-K`` on the box
        ``[-6, 6]^K``, 0 outside).
      * ``"shift"``: ``y = y_clean + shift`` (a systematic error; outlier density
        ``N(f(x) + shift, noise^2 I)``).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows, >= 1.
    n_features : int, default=5
        Number of input features ``p``, >= 1.
    n_targets : int, default=1
        Number of targets ``K``, >= 1.
    outlier_rate : float in [0, 1), default=0.2
        Fraction of rows that are outliers (rounded to a count with Python's
        ``round``).
    outlier_kind : {"uniform", "shift"}, default="uniform"
        Outlier distribution, see above.
    noise : float >= 0, default=0.1
        Standard deviation of the Gaussian inlier noise, per target.
    shift : float or array-like of shape (n_targets,), default=None
        Offset of the ``"shift"`` outliers; None means 3.0 for every target. Ignored
        for ``"uniform"``.
    random_state : int, numpy Generator, RandomState or None, default=None
        Seeds ``X``, the noise, the outlier rows and the outlier values (not ``f``).
    return_details : bool, default=False
        Return a :class:`~sklearn.utils.Bunch` instead of a tuple.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Inputs.
    y : ndarray of shape (n_samples,) if n_targets == 1 else (n_samples, n_targets)
        Contaminated targets.
    outlier_mask : ndarray of bool, shape (n_samples,)
        True for the contaminated rows.

    details : Bunch
        Only when ``return_details=True`` (then returned alone), with keys ``X``,
        ``y``, ``outlier_mask`` as above and

        - ``y_clean``: the targets before contamination, ``f(X) + eps`` (shape of
          ``y``);
        - ``y_noiseless``: ``f(X)`` (shape of ``y``): the regression function, the
          target of a perfect regressor;
        - ``outlier_proba_bayes``: ndarray of shape (n_samples,), the Bayes-optimal
          posterior ``P(outlier | x_i, y_i)`` under the true law, with prior
          ``m / n_samples`` (the exact marginal probability that a row is an
          outlier). Computed in the log domain; always finite, in [0, 1]. Its
          ROC-AUC / F1 against ``outlier_mask`` is the best any outlier score can
          reach on this draw.
        - ``law``: a one-line description of the law with the parameters used.

    Raises
    ------
    ValueError
        On a count < 1, ``outlier_rate`` outside [0, 1), an unknown
        ``outlier_kind``, a negative ``noise`` or a badly shaped ``shift``.

    Examples
    --------
    >>> from sk_deepgum.datasets import make_contaminated_regression
    >>> X, y, mask = make_contaminated_regression(
    ...     n_samples=200, n_features=3, outlier_rate=0.25, random_state=0
    ... )
    >>> X.shape, y.shape, int(mask.sum())
    ((200, 3), (200,), 50)
    >>> d = make_contaminated_regression(
    ...     n_samples=50, n_targets=2, random_state=0, return_details=True
    ... )
    >>> d.y.shape, d.outlier_proba_bayes.shape
    ((50, 2), (50,))
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    n_features = check_positive_int(n_features, "n_features")
    n_targets = check_positive_int(n_targets, "n_targets")
    check_rate(outlier_rate, "outlier_rate")
    if outlier_kind not in _REGRESSION_KINDS:
        raise ValueError(
            f"outlier_kind must be one of {list(_REGRESSION_KINDS)}; "
            f"got {outlier_kind!r}."
        )
    noise = check_nonnegative_float(noise, "noise")
    shift_arr = per_column(
        _DEFAULT_SHIFT if shift is None else shift, n_targets, "shift"
    )

    rng = check_rng(random_state)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, n_features))
    f = _clean_function(X, n_targets)
    y_clean = f + noise * rng.standard_normal((n_samples, n_targets))

    n_out = n_contaminated(float(outlier_rate), n_samples)
    rows = rng.choice(n_samples, size=n_out, replace=False)
    outlier_mask = np.zeros(n_samples, dtype=bool)
    outlier_mask[rows] = True
    y = y_clean.copy()
    if outlier_kind == "uniform":
        y[rows] = rng.uniform(*_UNIFORM_BOX, size=(n_out, n_targets))
    else:
        y[rows] += shift_arr

    def _shape(a: np.ndarray) -> np.ndarray:
        return a[:, 0] if n_targets == 1 else a

    if not return_details:
        return X, _shape(y), outlier_mask

    prior = n_out / n_samples
    proba = _bayes_outlier_proba(y, f, prior, outlier_kind, noise, shift_arr)
    if outlier_kind == "uniform":
        out_law = f"U({_UNIFORM_BOX[0]:g}, {_UNIFORM_BOX[1]:g})^{n_targets}"
    else:
        out_law = f"y_clean + shift, shift={np.array2string(shift_arr, precision=4)}"
    law = (
        f"X ~ U(-1, 1)^{n_features}; y_k = f_k(X) + N(0, {noise:g}^2), "
        "f_k = standardised sin(pi u_k.x) + 0.5 (v_k.x)^2 + w_k.x with unit "
        f"u_k, v_k, w_k = rows of default_rng([{_COEF_SEED}, {n_features}, k])"
        f".standard_normal((3, {n_features})), k = 0..{n_targets - 1}; "
        f"{n_out}/{n_samples} rows (rate {outlier_rate:g}) are outliers: {out_law}"
    )
    return Bunch(
        X=X,
        y=_shape(y),
        y_clean=_shape(y_clean),
        y_noiseless=_shape(f),
        outlier_mask=outlier_mask,
        outlier_proba_bayes=proba,
        law=law,
    )


# ---------------------------------------------------------------------------
# Contaminating existing targets


def contaminate(
    y,
    rate: float,
    kind: str = "uniform",
    groups: str | Sequence[Sequence[int]] | None = None,
    random_state: RandomStateLike = None,
    *,
    low: float | Sequence[float] | np.ndarray | None = None,
    high: float | Sequence[float] | np.ndarray | None = None,
    shift: float | Sequence[float] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt an exact fraction of an existing target array.

    The input is never modified. A *unit* of contamination is a whole row
    (``groups=None``) or one group of columns of one row. For each group,
    exactly ``round(rate * n_samples)`` rows (Python's ``round``) are drawn uniformly
    without replacement, independently across groups, and their entries in that
    group's columns are replaced according to ``kind``:

    - ``"uniform"``: independent ``Uniform(low[j], high[j])`` draws per column ``j``.
      Default box: the per-column ``[min, max]`` of ``y`` extended by 50 % of its
      range on each side, ``[min - 0.5 (max - min), max + 0.5 (max - min)]``.
    - ``"shift"``: ``y[i, j] + shift[j]``. Default ``shift[j] = 3 * 1.4826 *
      MAD_j`` (three robust standard deviations of column ``j``; the standard
      deviation replaces ``1.4826 * MAD`` where the MAD is 0, and 1 where both are 0).
    - ``"swap"``: the unit's values are replaced by those of another sample, drawn
      uniformly among the other ``n_samples - 1`` rows (never itself), taken from
      the uncontaminated ``y`` (swaps do not chain). A swapped value equals the
      original only where two samples share a target.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Finite targets; lists and pandas objects are accepted.
    rate : float in [0, 1]
        Fraction of rows contaminated (per group when ``groups`` is given).
    kind : {"uniform", "shift", "swap"}, default="uniform"
        How contaminated entries are replaced, see above.
    groups : None, "each" or list of lists of int, default=None
        None: whole rows are contaminated. ``"each"``: every column is its own group.
        A list of lists of column indices must partition the columns, e.g.
        ``[[0, 1], [2, 3]]`` for the (x, y) pairs of two landmarks; each group of
        each row is contaminated independently. For 1-D ``y`` there is one column.
    random_state : int, numpy Generator, RandomState or None, default=None
        Seeds the chosen rows and the replacement values.
    low, high : float or array-like of shape (n_targets,), default=None
        Box of the ``"uniform"`` kind, scalar or per column; None uses the default
        above. Ignored for the other kinds.
    shift : float or array-like of shape (n_targets,), default=None
        Offset of the ``"shift"`` kind, scalar or per column; None uses the default
        above. Ignored for the other kinds.

    Returns
    -------
    y_contaminated : ndarray of float, same shape as ``y``
        A new array.
    outlier_mask : ndarray of bool
        Shape (n_samples,) when ``groups`` is None, else (n_samples, n_groups) with
        ``outlier_mask[i, g]`` True when group ``g`` of row ``i`` was contaminated.

    Raises
    ------
    ValueError
        On ``rate`` outside [0, 1], an unknown ``kind``, ``groups`` that do not
        partition the columns, a ``y`` that is not 1-D or 2-D, empty or non-finite,
        ``low > high``, or ``"swap"`` with fewer than 2 rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_deepgum.datasets import contaminate
    >>> y = np.arange(10.0)
    >>> y_bad, mask = contaminate(y, 0.3, kind="shift", shift=100.0, random_state=0)
    >>> int(mask.sum()), bool(np.all(y_bad[mask] == y[mask] + 100.0))
    (3, True)
    >>> Y = np.zeros((6, 4))
    >>> Y_bad, mask = contaminate(Y, 0.5, groups=[[0, 1], [2, 3]], random_state=0)
    >>> mask.shape, mask.sum(axis=0).tolist()
    ((6, 2), [3, 3])
    """
    check_rate(rate, "rate", closed_right=True)
    if kind not in _CONTAMINATE_KINDS:
        raise ValueError(
            f"kind must be one of {list(_CONTAMINATE_KINDS)}; got {kind!r}."
        )
    y_in = np.asarray(y, dtype=float)
    if y_in.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D; got {y_in.ndim} dimensions.")
    if y_in.shape[0] < 1 or y_in.size == 0:
        raise ValueError(f"y must be non-empty; got shape {y_in.shape}.")
    if not np.all(np.isfinite(y_in)):
        raise ValueError("y contains NaN or infinite values.")
    Y = y_in.reshape(y_in.shape[0], -1)
    n_samples, n_columns = Y.shape
    group_cols = check_groups(groups, n_columns)
    n_out = n_contaminated(float(rate), n_samples)
    if kind == "swap" and n_out > 0 and n_samples < 2:
        raise ValueError("kind='swap' needs at least 2 samples.")

    if kind == "uniform":
        col_min, col_max = Y.min(axis=0), Y.max(axis=0)
        half_range = 0.5 * (col_max - col_min)
        lo = col_min - half_range if low is None else per_column(low, n_columns, "low")
        hi = (
            col_max + half_range
            if high is None
            else per_column(high, n_columns, "high")
        )
        if np.any(lo > hi):
            raise ValueError(f"low must be <= high; got low={lo}, high={hi}.")
    elif kind == "shift":
        if shift is None:
            mad = np.median(np.abs(Y - np.median(Y, axis=0)), axis=0)
            scale = MAD_TO_SD * mad
            std = Y.std(axis=0)
            scale = np.where(scale > 0, scale, np.where(std > 0, std, 1.0))
            offset = 3.0 * scale
        else:
            offset = per_column(shift, n_columns, "shift")

    rng = check_rng(random_state)
    out = Y.copy()
    mask = np.zeros((n_samples, len(group_cols)), dtype=bool)
    for g, cols in enumerate(group_cols):
        rows = rng.choice(n_samples, size=n_out, replace=False)
        mask[rows, g] = True
        sel = np.ix_(rows, cols)
        if kind == "uniform":
            out[sel] = rng.uniform(lo[cols], hi[cols], size=(n_out, len(cols)))
        elif kind == "shift":
            out[sel] = Y[sel] + offset[cols]
        else:
            donors = rng.integers(n_samples - 1, size=n_out) if n_out else rows
            donors = donors + (donors >= rows)  # skip the row itself
            out[sel] = Y[np.ix_(donors, cols)]

    if groups is None:
        mask = mask[:, 0]
    return out.reshape(y_in.shape), mask
