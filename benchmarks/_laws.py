"""The benchmarks' data laws: ``tabular`` (``make_contaminated_regression``, 5
features, one target, noise 0.1, uniform or shifted outlier rows), ``linear``
(:func:`linear_law`), and their clean, noiseless test sets (:data:`TEST_SEED`)."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from sk_deepgum.datasets import make_contaminated_regression

TEST_SEED, TEST_ROWS = 1_000_003, 2000
TABULAR_LAW = {"n_features": 5, "n_targets": 1, "noise": 0.1}
LINEAR_BETA = (1.0, -0.5, 0.25, 2.0, -1.5)
LINEAR_INTERCEPT, LINEAR_NOISE, LINEAR_BOX_SPREADS = 1.0, 0.5, 5.0
LAWS = ("linear", "tabular")


def tabular(n: int, rate: float, seed: int, kind: str = "uniform") -> Bunch:
    """A training draw of the tabular law (``return_details=True``)."""
    return make_contaminated_regression(
        n_samples=n,
        outlier_rate=rate,
        outlier_kind=kind,
        random_state=seed,
        return_details=True,
        **TABULAR_LAW,
    )


def tabular_test(n_features: int = 5, n_targets: int = 1, n: int = TEST_ROWS) -> Bunch:
    """Clean, noiseless rows (``y_noiseless = f(X)``) of the package's law."""
    return make_contaminated_regression(
        n_samples=n,
        n_features=n_features,
        n_targets=n_targets,
        outlier_rate=0.0,
        noise=0.0,
        random_state=TEST_SEED,
        return_details=True,
    )


def linear_spread() -> float:
    """Standard deviation of the linear law's clean targets, ``sqrt(|beta|^2 +
    noise^2)``."""
    beta = np.asarray(LINEAR_BETA)
    return float(np.sqrt(beta @ beta + LINEAR_NOISE**2))


def linear_box() -> tuple[float, float]:
    """The outliers' uniform box: median ± 5 spreads of the clean targets."""
    half = LINEAR_BOX_SPREADS * linear_spread()
    return LINEAR_INTERCEPT - half, LINEAR_INTERCEPT + half


def linear_law(n: int, rate: float, seed: int, noise: float = LINEAR_NOISE) -> Bunch:
    """``X ~ N(0, I)``, ``y = X @ beta + 1 + noise``, ``round(rate n)`` rows'
    targets from ``U(*linear_box())``, all from ``default_rng(seed)``; a Bunch of
    ``X``, ``y``, ``y_noiseless``, ``outlier_mask``, ``law``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, len(LINEAR_BETA)))
    y_noiseless = X @ np.asarray(LINEAR_BETA) + LINEAR_INTERCEPT
    y = y_noiseless + noise * rng.standard_normal(n)
    mask = np.zeros(n, dtype=bool)
    m = round(rate * n)
    if m:
        rows = rng.choice(n, m, replace=False)
        mask[rows] = True
        y[rows] = rng.uniform(*linear_box(), size=m)
    low, high = linear_box()
    law = (
        f"X ~ N(0, 1)^{len(LINEAR_BETA)}; y = X @ {LINEAR_BETA} + {LINEAR_INTERCEPT:g}"
        f" + N(0, {noise:g}^2); {m} of {n} rows (round({rate:g} n)) replaced by "
        f"U({low:.2f}, {high:.2f}); default_rng({seed})"
    )
    return Bunch(X=X, y=y, y_noiseless=y_noiseless, outlier_mask=mask, law=law)


def draw(law: str, n: int, rate: float, seed: int) -> Bunch:
    """A training draw of ``law`` ('linear' or 'tabular', uniform outliers)."""
    return linear_law(n, rate, seed) if law == "linear" else tabular(n, rate, seed)


def clean_test_set(law: str) -> Bunch:
    """:data:`TEST_ROWS` clean, noiseless rows of ``law`` drawn with TEST_SEED."""
    if law == "linear":
        return linear_law(TEST_ROWS, 0.0, TEST_SEED, noise=0.0)
    return tabular_test()
