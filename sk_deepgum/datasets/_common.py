"""Argument checks and small numerical helpers shared by the data generators."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

RandomStateLike = int | np.random.Generator | np.random.RandomState | None

_LOG_2PI = math.log(2.0 * math.pi)


def check_rng(random_state: RandomStateLike) -> np.random.Generator:
    if random_state is None or isinstance(random_state, Integral):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        "random_state must be None, an int, a numpy Generator or a RandomState; "
        f"got {random_state!r}."
    )


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")
    return int(value)


def check_rate(value, name: str, closed_right: bool = False) -> float:
    """A share in [0, 1) (or [0, 1] with ``closed_right``); booleans are rejected."""
    valid = (
        isinstance(value, Real)
        and not isinstance(value, bool)
        and 0.0 <= value
        and (value <= 1.0 if closed_right else value < 1.0)
    )
    if not valid:
        bracket = "]" if closed_right else ")"
        raise ValueError(f"{name} must be in [0, 1{bracket}; got {value!r}.")
    return float(value)


def check_nonnegative_float(value, name: str) -> float:
    """A finite real >= 0; booleans are rejected."""
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a finite float >= 0; got {value!r}.")
    return float(value)


def n_contaminated(rate: float, n: int) -> int:
    return int(round(rate * n))


def per_column(value, n_columns: int, name: str) -> np.ndarray:
    """Broadcast a scalar or per-column value to a float array of shape (n_columns,)."""
    arr = np.asarray(value, dtype=float)
    try:
        arr = np.broadcast_to(arr, (n_columns,)).astype(float)
    except ValueError:
        raise ValueError(
            f"{name} must be a scalar or have one value per column "
            f"({n_columns}); got shape {arr.shape}."
        ) from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    return arr


def gaussian_logpdf(r: np.ndarray, sd: float | np.ndarray) -> np.ndarray:
    """Sum over the last axis of log N(r; 0, sd^2); ``sd`` scalar or per column (> 0)."""
    # A tiny sd overflows (r / sd)^2 to inf: the log-density is then -inf, as it
    # should be, and the posterior below handles it.
    with np.errstate(over="ignore"):
        return np.sum(-0.5 * _LOG_2PI - np.log(sd) - 0.5 * (r / sd) ** 2, axis=-1)


def outlier_posterior(
    log_inlier: np.ndarray, log_outlier: np.ndarray, prior: float
) -> np.ndarray:
    """P(outlier | data) from the inlier and outlier log densities and the prior.

    .. math:: p = \\frac{\\rho\\, q_{out}}{\\rho\\, q_{out} + (1 - \\rho)\\, q_{in}}

    computed in the log domain. Where both densities are 0 (``-inf`` logs) the data
    say nothing beyond the prior, and ``p = rho``. ``prior`` is in [0, 1).
    """
    if prior == 0.0:
        return np.zeros(
            np.broadcast_shapes(np.shape(log_inlier), np.shape(log_outlier))
        )
    log_in = math.log1p(-prior) + log_inlier
    log_out = math.log(prior) + log_outlier
    with np.errstate(invalid="ignore"):
        proba = np.exp(log_out - np.logaddexp(log_in, log_out))
    return np.where(np.isnan(proba), prior, proba)
