"""Robust scorers for model selection on contaminated data."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.datasets import make_contaminated_regression
from sk_deepgum.metrics import ROBUST_SCORERS, gum_log_likelihood, inlier_mse


def test_scores_prefer_tight_inlier_residuals():
    rng = np.random.default_rng(0)
    y = rng.normal(size=1000)
    y[:200] = rng.uniform(-20, 20, size=200)
    good = y.copy()
    good[200:] -= rng.normal(0, 0.1, size=800)  # inliers fitted closely
    good[:200] = 0.0
    bad = 0.7 * good  # shrunk towards the outliers' mean, as L2 would
    assert gum_log_likelihood(y, good) > gum_log_likelihood(y, bad)
    assert inlier_mse(y, good) < inlier_mse(y, bad)
    assert inlier_mse(y, good) == pytest.approx(0.01, rel=0.3)


def test_sample_weight_enters_the_scores():
    rng = np.random.default_rng(1)
    y, y_pred = rng.normal(size=300), np.zeros(300)
    weights = rng.integers(0, 3, size=300)
    repeated = np.repeat(np.arange(300), weights)
    assert gum_log_likelihood(y, y_pred, sample_weight=weights) == pytest.approx(
        gum_log_likelihood(y[repeated], y_pred[repeated]), rel=1e-6
    )


def test_grid_search_picks_the_robust_setting_where_r2_does_not():
    # 30 % of targets shifted by +3: identifiable, but plain R² on contaminated folds
    # rewards a model that moves towards the shifted targets.
    X, y, _ = make_contaminated_regression(
        300, 3, outlier_rate=0.3, outlier_kind="shift", noise=0.1, random_state=0
    )
    X_test, y_test, _ = make_contaminated_regression(
        1000, 3, outlier_rate=0.0, noise=0.0, random_state=1
    )
    base = DeepGUMRegressor(max_epochs=30, epochs_per_round=2, random_state=0)
    # warm_up_epochs=max_epochs never leaves the L2 warm-up: the non-robust setting.
    grid = {"warm_up_epochs": [30, 4]}
    cv = KFold(3, shuffle=True, random_state=0)
    by_r2 = GridSearchCV(base, grid, cv=cv, scoring="r2").fit(X, y)
    by_gum = GridSearchCV(
        base, grid, cv=cv, scoring=ROBUST_SCORERS["gum_log_likelihood"]
    ).fit(X, y)
    assert by_r2.best_params_ == {"warm_up_epochs": 30}
    assert by_gum.best_params_ == {"warm_up_epochs": 4}

    def clean_rmse(search):
        return np.sqrt(np.mean((search.predict(X_test) - y_test) ** 2))

    assert clean_rmse(by_gum) < 0.5 * clean_rmse(by_r2)
