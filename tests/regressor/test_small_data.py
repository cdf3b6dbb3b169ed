"""Defaults on small tables: a clean table of 10-50 rows keeps (almost) every row.

Without a prior on the inlier share, the Gaussian-uniform mixture's maximum
likelihood on a handful of residuals is often "most rows are outliers": the
uniform's box, fitted to the same few rows, out-scores a narrow inlier component
holding the central ones. ``inlier_pseudo_count`` (k pseudo-rows of inlier evidence,
a Beta(k + 1, 1) prior on the inlier share) rules that out on small data and fades
as the data grow. The network must also get near its fit: ``min_rows_per_epoch``
(1,000 by default) cycles a small table so that an epoch is as many optimiser steps
as a 1,000-row one.
"""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_deepgum import DeepGUMRegressor, GaussianUniformMixture

# Clean linear tables: target spread ~15 against a noise sd of 1.2.
COEF = np.array([10.0, -8.0, 6.0])


def clean_table(n_rows, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 3))
    y = X @ COEF + 50.0 + 1.2 * rng.normal(size=n_rows)
    return X, y


def least_squares_residuals(X, y):
    design = np.column_stack([np.ones(len(y)), X])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return (y - design @ coef)[:, None]


@pytest.mark.parametrize("inlier_df", [None, 5.0])
@pytest.mark.parametrize("n_rows", [10, 20])
def test_mixture_keeps_a_clean_tables_least_squares_residuals(n_rows, inlier_df):
    # Residuals of the exact model: at most one of 10-20 rows may look outlying.
    # Without the prior (inlier_pseudo_count=0) some of these tables lose most rows.
    flagged = []
    for seed in range(10):
        residuals = least_squares_residuals(*clean_table(n_rows, seed))
        gum = GaussianUniformMixture(inlier_df=inlier_df).fit(residuals)
        flagged.append(int(gum.predict(residuals).sum()))
    assert max(flagged) <= 1, flagged


def test_without_the_prior_a_clean_table_loses_most_rows():
    # The failure the default guards against (why the test above can fail).
    worst = 0
    for seed in range(10):
        residuals = least_squares_residuals(*clean_table(20, seed))
        gum = GaussianUniformMixture(inlier_df=5.0, inlier_pseudo_count=0.0)
        worst = max(worst, int(gum.fit(residuals).predict(residuals).sum()))
    assert worst >= 10


def linear_deepgum(random_state, **params):
    return make_pipeline(
        StandardScaler(),
        DeepGUMRegressor(
            module__hidden_layer_sizes=(), random_state=random_state, **params
        ),
    )


@pytest.mark.parametrize(("n_rows", "data_seed"), [(20, 0), (20, 1), (50, 2)])
def test_regressor_flags_at_most_one_row_of_a_small_clean_table(n_rows, data_seed):
    X, y = clean_table(n_rows, 100 + data_seed)
    flagged = [
        np.flatnonzero(linear_deepgum(seed).fit(X, y)[-1].outliers_).tolist()
        for seed in range(3)
    ]
    assert all(len(rows) <= 1 for rows in flagged), flagged
    # The same answer whatever the seed.
    assert all(rows == flagged[0] for rows in flagged), flagged


def test_without_the_step_floor_the_50_row_table_loses_rows():
    # Why the test above can fail: with one pass per epoch, 50 rows are 2 batches,
    # 200 optimiser steps in all, and the network is still far from its fit.
    X, y = clean_table(50, 102)
    flagged = [
        int(linear_deepgum(seed, min_rows_per_epoch=0).fit(X, y)[-1].outliers_.sum())
        for seed in range(3)
    ]
    assert max(flagged) >= 2, flagged


def test_prior_fades_with_data_and_high_contamination_stays_reachable():
    # 1,000 residuals, 60 % of them uniform outliers: the MAP inlier share moves by
    # at most k / (n + k) ~ 1 % from the maximum-likelihood one.
    rng = np.random.default_rng(0)
    n_inliers, n_outliers = 400, 600
    inliers = rng.normal(0, 1, n_inliers)
    outliers = rng.uniform(-30, 30, n_outliers)
    X = np.concatenate([inliers, outliers])[:, None]
    share = n_inliers / (n_inliers + n_outliers)
    default = GaussianUniformMixture().fit(X)
    likelihood = GaussianUniformMixture(inlier_pseudo_count=0.0).fit(X)
    assert default.weights_[0] == pytest.approx(share, abs=0.03)
    assert default.weights_[0] - likelihood.weights_[0] == pytest.approx(
        0.0, abs=10 / 1010
    )
