"""Behaviour of GaussianUniformMixture through its public API."""

import copy
import re
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

from sk_deepgum import GaussianUniformMixture

N_LARGE = 20_000


def draw_gum(n, groups, covariances, priors, bounds, seed):
    """Rows from a known GUM; returns X, the per-group outlier mask and the true log
    posterior odds per row (for the Bayes-optimal AUC)."""
    rng = np.random.default_rng(seed)
    n_features = bounds.shape[0]
    X = np.empty((n, n_features))
    group_outlier = np.zeros((n, len(groups)), dtype=bool)
    log_inlier = np.zeros(n)
    for g, cols in enumerate(groups):
        cov = covariances[g]
        out = rng.uniform(size=n) >= priors[g]
        gauss = rng.multivariate_normal(np.zeros(len(cols)), cov, size=n)
        unif = rng.uniform(bounds[cols, 0], bounds[cols, 1], size=(n, len(cols)))
        X[:, cols] = np.where(out[:, None], unif, gauss)
        group_outlier[:, g] = out
    for g, cols in enumerate(groups):
        cov = covariances[g]
        x = X[:, cols]
        prec = np.linalg.inv(cov)
        logn = -0.5 * (
            np.einsum("ni,ij,nj->n", x, prec, x)
            + np.linalg.slogdet(cov)[1]
            + len(cols) * np.log(2 * np.pi)
        )
        inside = np.all((x >= bounds[cols, 0]) & (x <= bounds[cols, 1]), axis=1)
        log_u = -np.sum(np.log(bounds[cols, 1] - bounds[cols, 0]))
        a = np.log(priors[g]) + logn
        b = np.where(inside, np.log1p(-priors[g]) + log_u, -np.inf)
        log_inlier += a - np.logaddexp(a, b)
    return X, group_outlier, log_inlier


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_recovers_known_mixture_per_row(covariance_type):
    if covariance_type == "full":
        cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    elif covariance_type == "diag":
        cov = np.diag([1.0, 2.5])
    else:
        cov = 1.5 * np.eye(2)
    bounds = np.array([[-12.0, 12.0], [-15.0, 9.0]])
    X, outlier, log_inlier = draw_gum(N_LARGE, [[0, 1]], [cov], [0.7], bounds, seed=0)
    gum = GaussianUniformMixture(covariance_type=covariance_type, tol=1e-6).fit(X)

    assert gum.weights_.shape == (2,)
    assert gum.weights_[0] == pytest.approx(0.7, abs=0.01)
    estimated = gum.covariances_
    if covariance_type == "full":
        np.testing.assert_allclose(np.diag(estimated), np.diag(cov), rtol=0.05)
    elif covariance_type == "diag":
        np.testing.assert_allclose(estimated, np.diag(cov), rtol=0.05)
    else:
        assert np.ndim(estimated) == 0
        assert float(estimated) == pytest.approx(1.5, rel=0.05)
    volume = np.exp(-gum.uniform_log_density_)
    assert volume == pytest.approx(24.0 * 24.0, rel=0.15)

    bayes_auc = roc_auc_score(outlier[:, 0], -log_inlier)
    auc = roc_auc_score(outlier[:, 0], gum.predict_proba(X)[:, 1])
    assert auc >= bayes_auc - 0.005


def test_recovers_each_column_and_unequal_groups():
    bounds = np.array([[-10.0, 10.0], [-8.0, 8.0], [-8.0, 8.0], [-20.0, 20.0]])
    # Unequal groups: a singleton, and a landmark-like triple.
    groups = [[0], [1, 2, 3]]
    covs = [np.array([[0.5]]), np.diag([1.0, 2.0, 4.0])]
    X, outlier, log_inlier = draw_gum(N_LARGE, groups, covs, [0.8, 0.6], bounds, seed=1)
    gum = GaussianUniformMixture(groups=groups, tol=1e-6).fit(X)
    assert gum.weights_.shape == (2, 2)
    np.testing.assert_allclose(gum.weights_[:, 0], [0.8, 0.6], atol=0.01)
    np.testing.assert_allclose(gum.covariances_[0], [0.5], rtol=0.05)
    np.testing.assert_allclose(gum.covariances_[1], [1.0, 2.0, 4.0], rtol=0.05)
    volumes = np.exp(-gum.uniform_log_density_)
    np.testing.assert_allclose(volumes, [20.0, 16 * 16 * 40.0], rtol=0.15)
    assert gum.predict_group_proba(X).shape == (N_LARGE, 2)

    row_outlier = outlier.any(axis=1)
    bayes_auc = roc_auc_score(row_outlier, -log_inlier)
    auc = roc_auc_score(row_outlier, gum.predict_proba(X)[:, 1])
    assert auc >= bayes_auc - 0.005

    each_groups = [[0], [1], [2], [3]]
    covs = [np.array([[v]]) for v in (0.5, 1.0, 2.0, 4.0)]
    priors = [0.9, 0.8, 0.7, 0.6]
    X, outlier, _ = draw_gum(N_LARGE, each_groups, covs, priors, bounds, seed=2)
    gum = GaussianUniformMixture(groups="each", tol=1e-6).fit(X)
    np.testing.assert_allclose(gum.weights_[:, 0], priors, atol=0.01)
    np.testing.assert_allclose(
        np.concatenate(gum.covariances_), [0.5, 1.0, 2.0, 4.0], rtol=0.05
    )
    np.testing.assert_allclose(
        np.exp(-gum.uniform_log_density_), np.diff(bounds, axis=1).ravel(), rtol=0.15
    )


def test_outlier_column_and_predict_agree():
    X, _, _ = draw_gum(2000, [[0]], [np.eye(1)], [0.8], np.array([[-20.0, 20.0]]), 3)
    gum = GaussianUniformMixture().fit(X)
    proba = gum.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(gum.predict(X), proba.argmax(1))
    np.testing.assert_array_equal(gum.fit_predict(X), gum.predict(X))
    # Higher outlier probability for a far point than for a near one.
    far, near = gum.predict_proba([[15.0], [0.0]])[:, 1]
    assert far > 0.99 and near < 0.05


def test_row_probability_is_product_of_groups():
    bounds = np.array([[-10.0, 10.0]] * 3)
    X, _, _ = draw_gum(
        3000, [[0], [1, 2]], [np.eye(1), np.eye(2)], [0.8, 0.7], bounds, 4
    )
    gum = GaussianUniformMixture(groups=[[0], [1, 2]]).fit(X)
    np.testing.assert_allclose(
        gum.predict_proba(X)[:, 0], gum.predict_group_proba(X).prod(1), rtol=1e-10
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(20, 400),
    n_features=st.integers(1, 3),
    scale=st.floats(1e-3, 1e3),
    outlier_share=st.floats(0.0, 0.6),
    covariance_type=st.sampled_from(["full", "diag", "spherical"]),
    inlier_df=st.sampled_from([None, 3.0]),
)
def test_em_never_decreases_log_likelihood_with_fixed_uniform(
    seed, n, n_features, scale, outlier_share, covariance_type, inlier_df
):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, scale, size=(n, n_features))
    n_out = int(outlier_share * n)
    X[:n_out] = rng.uniform(-20 * scale, 20 * scale, size=(n_out, n_features))
    bounds = np.tile([-25 * scale, 25 * scale], (n_features, 1))
    gum = GaussianUniformMixture(
        covariance_type=covariance_type,
        uniform=bounds,
        reg_covar=0.0,
        tol=0,
        max_iter=30,
    )
    with pytest.warns(ConvergenceWarning):
        gum.fit(X)
    lower_bounds = np.array(gum.lower_bounds_)
    assert np.all(np.isfinite(lower_bounds))
    gains = np.diff(lower_bounds)
    assert np.all(gains >= -1e-9 * (1 + np.abs(lower_bounds[1:])))
    proba = gum.predict_group_proba(X)
    assert np.all((proba >= 0) & (proba <= 1))


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
def test_student_t_inlier_recovers_a_heavy_tailed_mixture(covariance_type):
    rng = np.random.default_rng(15)
    n, df, scale = N_LARGE, 3.0, np.array([1.0, 2.0])
    chi = np.sqrt(rng.chisquare(df, size=(n, 1)) / df)
    X = rng.normal(size=(n, 2)) * scale / chi
    outlier = rng.uniform(size=n) < 0.2
    X[outlier] = rng.uniform(-60, 60, size=(outlier.sum(), 2))
    t_fit = GaussianUniformMixture(
        covariance_type=covariance_type, inlier_df=df, tol=1e-6
    ).fit(X)
    assert t_fit.weights_[0] == pytest.approx(0.8, abs=0.01)
    variances = (
        np.diag(t_fit.covariances_) if covariance_type == "full" else t_fit.covariances_
    )
    np.testing.assert_allclose(variances, scale**2, rtol=0.05)
    # A Gaussian inlier takes the t's tails for outliers.
    gauss_fit = GaussianUniformMixture(covariance_type=covariance_type, tol=1e-6).fit(X)
    assert gauss_fit.weights_[0] < t_fit.weights_[0] - 0.02
    sample, labels = t_fit.sample(1000)
    assert sample.shape == (1000, 2) and set(np.unique(labels)) <= {0, 1}


def test_range_uniform_is_min_max_box():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(500, 2))
    gum = GaussianUniformMixture(uniform="range").fit(X)
    np.testing.assert_allclose(gum.uniform_bounds_, np.c_[X.min(0), X.max(0)])
    assert gum.uniform_log_density_ == pytest.approx(-np.log(np.ptp(X, axis=0)).sum())


def test_sample_weight_equals_repetition():
    rng = np.random.default_rng(6)
    X = np.vstack([rng.normal(size=(300, 2)), rng.uniform(-9, 9, size=(60, 2))])
    reps = rng.integers(0, 3, size=len(X))
    weighted = GaussianUniformMixture(tol=1e-8).fit(X, sample_weight=reps)
    repeated = GaussianUniformMixture(tol=1e-8).fit(np.repeat(X, reps, axis=0))
    np.testing.assert_allclose(weighted.weights_, repeated.weights_, rtol=1e-6)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-6)
    np.testing.assert_allclose(
        weighted.uniform_bounds_, repeated.uniform_bounds_, rtol=1e-6, atol=1e-9
    )


def test_float32_preserved_and_agrees_with_float64():
    X, _, _ = draw_gum(5000, [[0, 1]], [np.eye(2)], [0.8], np.array([[-9.0, 9]] * 2), 7)
    gum64 = GaussianUniformMixture().fit(X)
    gum32 = GaussianUniformMixture().fit(X.astype(np.float32))
    assert gum32.covariances_.dtype == np.float32
    assert gum32.predict_proba(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(gum32.weights_, gum64.weights_, rtol=1e-4)
    np.testing.assert_allclose(gum32.covariances_, gum64.covariances_, rtol=1e-4)
    np.testing.assert_allclose(
        gum32.predict_proba(X.astype(np.float32)), gum64.predict_proba(X), atol=1e-4
    )


def test_speaks_gaussian_mixture_api():
    X, _, _ = draw_gum(3000, [[0, 1]], [np.eye(2)], [0.8], np.array([[-9.0, 9]] * 2), 8)
    gum = GaussianUniformMixture(random_state=0).fit(X)
    gm = GaussianMixture(2, random_state=0).fit(X)
    for method in ("score_samples", "predict", "predict_proba"):
        assert getattr(gum, method)(X).shape == getattr(gm, method)(X).shape
    assert gum.score(X) == pytest.approx(gum.score_samples(X).mean())
    assert gum.bic(X) > gum.aic(X)  # log(3000) > 2
    sample, labels = gum.sample(20_000)
    assert sample.shape == (20_000, 2)
    assert labels.mean() == pytest.approx(gum.weights_[1], abs=0.02)
    assert gum.converged_ and gum.n_iter_ == len(gum.lower_bounds_)
    assert gum.lower_bound_ == gum.lower_bounds_[-1]


# ---------------------------------------------------------------------------
# precisions_ and precisions_cholesky_, as sklearn's GaussianMixture has them

PRECISION_GROUPS = [None, [[0, 1], [2]], "each"]


# Per covariance type, a mixing matrix whose Gaussian that type describes exactly.
MIXING = {
    "full": np.array([[1.0, 0.6, 0.0], [0.0, 0.8, -0.5], [0.0, 0.0, 0.7]]),
    "diag": np.diag([1.0, 0.8, 0.5]),
    "spherical": 0.8 * np.eye(3),
}


def _gaussian_rows(n, seed, mixing=MIXING["full"], outliers=True):
    """Rows of the 3-D Gaussian ``z @ mixing`` with a non-zero mean; 15 % of them
    replaced by a uniform draw unless ``outliers`` is False."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) @ mixing + [1.0, -2.0, 0.5]
    if outliers:
        out = rng.uniform(size=n) < 0.15
        X[out] = rng.uniform(-10, 10, size=(out.sum(), 3))
    return X


def _with_component_axis(value):
    """One group's attribute as one component of GaussianMixture (axis 0 added)."""
    return np.asarray(value)[np.newaxis]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("groups", PRECISION_GROUPS)
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_precisions_are_the_inverse_covariances_in_their_layout(
    covariance_type, groups, dtype
):
    gum = GaussianUniformMixture(
        covariance_type=covariance_type, groups=groups, fit_mean=True
    ).fit(_gaussian_rows(400, seed=1).astype(dtype))
    covs = _as_list(gum.covariances_, groups)
    precisions = _as_list(gum.precisions_, groups)
    factors = _as_list(gum.precisions_cholesky_, groups)
    # Same container as covariances_: a list with groups, else one array.
    assert isinstance(gum.precisions_, list) == (groups is not None)
    assert isinstance(gum.precisions_cholesky_, list) == (groups is not None)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    for cov, precision, factor in zip(covs, precisions, factors, strict=True):
        cov64 = np.asarray(cov, dtype=np.float64)
        assert np.shape(precision) == np.shape(factor) == np.shape(cov)
        assert np.asarray(precision).dtype == np.asarray(factor).dtype == dtype
        if covariance_type == "full":
            np.testing.assert_allclose(precision, np.linalg.inv(cov64), rtol=rtol)
            np.testing.assert_allclose(factor @ factor.T, precision, rtol=rtol)
            # Upper triangular with a positive diagonal, as sklearn orients it.
            assert np.array_equal(factor, np.triu(factor))
            assert np.all(np.diag(factor) > 0)
        else:
            np.testing.assert_allclose(precision, 1.0 / cov64, rtol=rtol)
            np.testing.assert_allclose(np.square(factor), precision, rtol=rtol)
        # sklearn's own factor of our covariance, seen as one component.
        reference = _compute_precision_cholesky(
            _with_component_axis(cov64), covariance_type
        )[0]
        np.testing.assert_allclose(factor, reference, rtol=rtol, atol=0)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_precisions_are_oriented_as_gaussian_mixtures(covariance_type):
    # On clean rows of a Gaussian of this covariance type, the GUM's inlier Gaussian
    # is the one-component GaussianMixture's up to the few tail rows the uniform
    # takes (0.1-0.7 % of the weight here; entries then differ by at most 1.7 %):
    # the attributes must match entry by entry, zero triangle and signs included.
    X = _gaussian_rows(4000, seed=2, mixing=MIXING[covariance_type], outliers=False)
    gum = GaussianUniformMixture(covariance_type=covariance_type, fit_mean=True).fit(X)
    gm = GaussianMixture(1, covariance_type=covariance_type, random_state=0).fit(X)
    for name in ("precisions_", "precisions_cholesky_"):
        ours = _with_component_axis(getattr(gum, name))
        assert ours.shape == getattr(gm, name).shape
        np.testing.assert_allclose(ours, getattr(gm, name), rtol=0.03, atol=0)


@pytest.mark.parametrize("groups", PRECISION_GROUPS)
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_gaussian_mixture_code_scores_with_our_precisions(covariance_type, groups):
    # Code written for GaussianMixture reads means_ and precisions_cholesky_: a
    # one-component GaussianMixture given a group's attributes must score that
    # group's columns with the Gaussian log-density of means_ and covariances_.
    X = _gaussian_rows(400, seed=3)
    gum = GaussianUniformMixture(
        covariance_type=covariance_type, groups=groups, fit_mean=True
    ).fit(X)
    means = _as_list(gum.means_, groups)
    covs = _as_list(gum.covariances_, groups)
    factors = _as_list(gum.precisions_cholesky_, groups)
    for cols, mean, cov, factor in zip(gum.groups_, means, covs, factors, strict=True):
        gm = GaussianMixture(1, covariance_type=covariance_type)
        gm.weights_ = np.ones(1)
        gm.means_ = _with_component_axis(mean)
        gm.precisions_cholesky_ = _with_component_axis(factor)
        gm.n_features_in_ = len(cols)
        cov = np.asarray(cov)
        # A (d,) vector or a scalar times the identity: the diagonal matrix.
        matrix = cov if cov.ndim == 2 else cov * np.eye(len(cols))
        expected = multivariate_normal(mean, matrix).logpdf(X[:, cols])
        np.testing.assert_allclose(gm.score_samples(X[:, cols]), expected, rtol=1e-10)


def test_warm_start_continues_from_previous_fit():
    X, _, _ = draw_gum(3000, [[0]], [np.eye(1)], [0.8], np.array([[-9.0, 9]]), 9)
    gum = GaussianUniformMixture(warm_start=True, max_iter=1, tol=0)
    with pytest.warns(ConvergenceWarning):
        gum.fit(X)
    first = gum.lower_bound_
    with pytest.warns(ConvergenceWarning):
        gum.fit(X)
    assert gum.lower_bound_ >= first


def test_pandas_keeps_feature_names():
    pd = pytest.importorskip("pandas")
    X, _, _ = draw_gum(500, [[0, 1]], [np.eye(2)], [0.8], np.array([[-9.0, 9]] * 2), 10)
    frame = pd.DataFrame(X, columns=["dx", "dy"])
    gum = GaussianUniformMixture().fit(frame)
    np.testing.assert_array_equal(gum.feature_names_in_, ["dx", "dy"])


# -- degenerate inputs --------------------------------------------------------


def test_single_sample_is_a_clear_error():
    with pytest.raises(ValueError, match="n_samples=1"):
        GaussianUniformMixture().fit([[1.0, 2.0]])


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize(
    "case",
    [
        "no_outliers",
        "all_outliers",
        "zero_variance",
        "one_repeated_outlier",
        "two_rows",
    ],
)
def test_degenerate_states_end_finite(case, covariance_type):
    rng = np.random.default_rng(11)
    if case == "no_outliers":
        X = rng.normal(size=(400, 2))
    elif case == "all_outliers":
        X = rng.uniform(-5, 5, size=(400, 2))
    elif case == "zero_variance":
        X = np.zeros((50, 2))
    elif case == "one_repeated_outlier":
        # Every outlier at the same place: C2 - C1^2 = 0 for the uniform.
        X = np.vstack([rng.normal(size=(300, 2)), np.full((100, 2), 40.0)])
    else:
        X = np.array([[0.0, 1.0], [2.0, 3.0]])
    gum = GaussianUniformMixture(covariance_type=covariance_type).fit(X)
    for value in (gum.weights_, gum.uniform_log_density_, gum.uniform_bounds_):
        assert np.all(np.isfinite(value))
    assert np.all(np.isfinite(gum.score_samples(X)))
    assert np.all(np.isfinite(gum.predict_proba(X)))


def test_no_outliers_drives_the_inlier_prior_to_one():
    X = np.random.default_rng(14).normal(size=(20_000, 2))
    gum = GaussianUniformMixture(tol=1e-6, max_iter=500).fit(X)
    assert gum.weights_[0] > 0.99
    assert np.all(np.isfinite(gum.uniform_bounds_))
    assert gum.predict(X).mean() < 0.005


def test_outliers_far_from_everything_are_flagged():
    rng = np.random.default_rng(12)
    X = np.vstack([rng.normal(size=(300, 2)), np.full((30, 2), 40.0)])
    labels = GaussianUniformMixture().fit_predict(X)
    assert labels[:300].mean() < 0.02
    assert labels[300:].all()


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([[0], [0, 1]], r"columns \[0\] appear more than once"),
        ([[0]], r"columns \[1, 2\] are in no group"),
        ([[0, 1, 7]], r"groups name columns \[7\]"),
        ([[]], r"non-empty"),
        ("every", r"'groups' parameter"),
    ],
)
def test_groups_must_partition_columns(groups, message):
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises((ValueError, TypeError), match=message):
        GaussianUniformMixture(groups=groups).fit(X)


def test_bad_uniform_bounds_are_named():
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=r"shape \(n_features, 2\)"):
        GaussianUniformMixture(uniform=[[0, 1]]).fit(X)
    with pytest.raises(ValueError, match="low < high"):
        GaussianUniformMixture(uniform=[[0, 1], [2, 1]]).fit(X)


def test_input_is_not_modified():
    rng = np.random.default_rng(13)
    X = rng.normal(size=(100, 2)).astype(np.float32)
    w = rng.uniform(size=100)
    X_before, w_before = X.copy(), w.copy()
    GaussianUniformMixture().fit(X, sample_weight=w)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(w, w_before)


# -- scale equivariance -------------------------------------------------------
#
# Every quantity of the model is relative to the data's scale (the uniform's box,
# the variance floors, reg_covar in units of each column's variance), so rescaling
# column d by c_d must leave the posteriors and the prior unchanged and scale the
# Gaussian's covariance by c_d c_e: the fit of the rescaled data is the rescaled fit.


def _contaminated(n, n_features, seed):
    """Standard-normal inliers, 20 % of the rows uniform on [-20, 20] per column;
    returns the rows and the outlier mask."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    outlier = rng.uniform(size=n) < 0.2
    X[outlier] = rng.uniform(-20, 20, size=(outlier.sum(), n_features))
    return X, outlier


EQUIVARIANCE_DATA, _ = _contaminated(300, 2, seed=21)
# Common factor for both columns: a spherical Gaussian with one latent per row stays
# spherical only under a common rescaling.
EQUIVARIANCE_CASES = [
    ("diag", None, False),
    ("full", None, False),
    ("spherical", "each", False),
    ("spherical", None, True),
    ("diag", [[0, 1]], False),
]


def _expected_covariances(reference, factors, covariance_type, groups):
    """The reference fit's covariances rescaled by the column factors."""
    cov = reference.covariances_
    if groups is None:
        if covariance_type == "full":
            return [cov * np.outer(factors, factors)]
        if covariance_type == "diag":
            return [cov * factors**2]
        return [cov * factors[0] ** 2]
    out = []
    for g, cols in enumerate(reference.groups_):
        f = factors[cols]
        if covariance_type == "full":
            out.append(cov[g] * np.outer(f, f))
        elif covariance_type == "diag":
            out.append(cov[g] * f**2)
        else:
            out.append(cov[g] * f[0] ** 2)
    return out


def _as_list(covariances, groups):
    return [covariances] if groups is None else list(covariances)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("covariance_type", "groups", "common"), EQUIVARIANCE_CASES)
@settings(max_examples=6, deadline=None, derandomize=True)
@given(exponents=st.lists(st.floats(-6.0, 6.0), min_size=2, max_size=2))
def test_fit_is_equivariant_under_column_rescaling(
    exponents, covariance_type, groups, common, dtype
):
    factors = 10.0 ** np.asarray(exponents)
    if common:
        factors[:] = factors[0]
    X = EQUIVARIANCE_DATA.astype(dtype)
    X_scaled = (EQUIVARIANCE_DATA * factors).astype(dtype)
    params = dict(covariance_type=covariance_type, groups=groups)
    reference = GaussianUniformMixture(**params).fit(X)
    scaled = GaussianUniformMixture(**params).fit(X_scaled)
    # float64: the two fits differ by rounding only (measured below 1e-15). float32
    # rounding (6e-8 relative) grows to at most 1.4e-6 through the EM iterations.
    atol, rtol = (1e-12, 1e-12) if dtype == np.float64 else (1e-5, 1e-5)
    np.testing.assert_allclose(
        scaled.predict_proba(X_scaled), reference.predict_proba(X), atol=atol
    )
    np.testing.assert_allclose(scaled.weights_, reference.weights_, atol=atol)
    expected = _expected_covariances(reference, factors, covariance_type, groups)
    for got, want in zip(_as_list(scaled.covariances_, groups), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0)
    np.testing.assert_allclose(
        scaled.uniform_bounds_, reference.uniform_bounds_ * factors[:, None], rtol=rtol
    )


def test_near_constant_column_does_not_turn_every_row_into_an_outlier():
    X, outlier = _contaminated(1000, 1, seed=0)
    rng = np.random.default_rng(1)
    true_inlier_share = 1 - outlier.mean()  # 0.777
    one_column = GaussianUniformMixture().fit(X).weights_[0]
    assert one_column == pytest.approx(true_inlier_share, abs=0.03)
    # A column of N(0, 1e-5²) noise, the same for inliers and outliers, carries no
    # information about which rows are outliers. It is not exactly neutral (the
    # uniform box is a misspecified model of its Gaussian noise): over 8 seeds it
    # moved the prior by 0.004 to 0.016, the same as a column of N(0, 1) noise does,
    # whereas an absolute reg_covar of 1e-6 (100 times its variance) sent the prior
    # to 0 (every row an outlier).
    with_noise = np.c_[X, rng.normal(0, 1e-5, size=len(X))]
    two_columns = GaussianUniformMixture().fit(with_noise).weights_[0]
    assert two_columns == pytest.approx(one_column, abs=0.02)
    assert two_columns == pytest.approx(true_inlier_share, abs=0.03)


# -- model selection and the uniform's box in closed form -----------------------


def _log_likelihood_by_hand(gum, X):
    """Σ_n Σ_g log(π_g N(x_g; μ_g, Σ_g) + (1 - π_g) γ_g), with scipy's density."""
    from scipy.stats import multivariate_normal

    weights = np.atleast_2d(gum.weights_)
    log_gamma = np.atleast_1d(gum.uniform_log_density_)
    grouped = gum.groups is not None
    total = 0.0
    for g, cols in enumerate(gum.groups_):
        mean = gum.means_[g] if grouped else gum.means_
        cov = gum.covariances_[g] if grouped else gum.covariances_
        if gum.covariance_type == "diag":
            cov = np.diag(cov)
        elif gum.covariance_type == "spherical":
            cov = float(cov) * np.eye(len(cols))
        log_n = multivariate_normal(mean, cov).logpdf(X[:, cols]).reshape(-1)
        total += np.logaddexp(
            np.log(weights[g, 0]) + log_n, np.log(weights[g, 1]) + log_gamma[g]
        ).sum()
    return total


@pytest.mark.parametrize(
    ("params", "n_free"),
    [
        # prior 1 + variances 3 + box (low, high) per column 6
        (dict(covariance_type="diag"), 1 + 3 + 6),
        # prior 1 + one variance 1 + box 6
        (dict(covariance_type="spherical"), 1 + 1 + 6),
        # prior 1 + symmetric 3x3 matrix 6 + box 6
        (dict(covariance_type="full"), 1 + 6 + 6),
        # priors 2 + (1 + 3) matrix entries + means 3 + box 6
        (dict(covariance_type="full", groups=[[0], [1, 2]], fit_mean=True), 2 + 4 + 3 + 6),
        # priors 3 + variances 3, a given box has no free parameter
        (dict(groups="each", uniform=[[-30, 30]] * 3), 3 + 3),
        # priors 2 + one variance per group 2 + means 3 + the min-max box 6
        (dict(covariance_type="spherical", groups=[[0, 2], [1]], fit_mean=True,
              uniform="range"), 2 + 2 + 3 + 6),
    ],
)  # fmt: skip
def test_bic_and_aic_count_the_free_parameters(params, n_free):
    X, _ = _contaminated(400, 3, seed=22)
    gum = GaussianUniformMixture(**params).fit(X)
    log_lik = _log_likelihood_by_hand(gum, X)
    assert gum.score(X) * len(X) == pytest.approx(log_lik, rel=1e-10)
    assert gum.bic(X) == pytest.approx(-2 * log_lik + n_free * np.log(400), rel=1e-10)
    assert gum.aic(X) == pytest.approx(-2 * log_lik + 2 * n_free, rel=1e-10)
    # bic and aic take any array-like
    assert gum.bic(X.tolist()) == pytest.approx(gum.bic(X), rel=1e-12)


def test_clean_data_gets_the_min_max_box():
    # Without outliers the moment-matched box would settle on the Gaussian's
    # shoulders; the floor of 5 inlier sd takes over, but never beyond half the
    # data's range on either side: here 5 sd > half the range, so the box's width
    # is exactly the range.
    X = np.random.default_rng(0).normal(size=(300, 2))
    gum = GaussianUniformMixture().fit(X)
    assert np.all(5 * np.sqrt(gum.covariances_) > np.ptp(X, axis=0) / 2)
    np.testing.assert_allclose(np.diff(gum.uniform_bounds_, axis=1)[:, 0], np.ptp(X, 0))
    assert gum.uniform_log_density_ == pytest.approx(-np.log(np.ptp(X, 0)).sum())


@pytest.mark.parametrize("init_inlier_prior", [1e-50, 1 - 1e-9])
def test_starting_prior_that_float32_rounds_to_0_or_1_still_fits(init_inlier_prior):
    # In float32, 1e-50 rounds to 0 and 1 - 1e-9 to 1: a prior of exactly 0 would
    # make every row an outlier for good, one of exactly 1 an infinite
    # log-likelihood. The E-step keeps the prior within [eps, 1 - eps].
    X, outlier = _contaminated(1000, 2, seed=0)
    gum = GaussianUniformMixture(init_inlier_prior=init_inlier_prior)
    gum.fit(X.astype(np.float32))
    assert gum.weights_[0] == pytest.approx(1 - outlier.mean(), abs=0.02)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_grouped_fit_is_one_fit_per_group(covariance_type):
    # One latent per group and a box per column: the groups share nothing, so the
    # grouped mixture must be the mixtures fitted to each group's columns alone.
    rng = np.random.default_rng(8)
    X = rng.normal(size=(400, 3)) * [1.0, 3.0, 0.5]
    X[:80, :2] = rng.uniform(-20, 20, size=(80, 2))
    X[300:, 2] = rng.uniform(-5, 5, size=100)
    groups = [[0, 1], [2]]
    grouped = GaussianUniformMixture(
        covariance_type=covariance_type, groups=groups, tol=1e-8, max_iter=500
    ).fit(X)
    for g, cols in enumerate(groups):
        alone = GaussianUniformMixture(
            covariance_type=covariance_type, tol=1e-8, max_iter=500
        ).fit(X[:, cols])
        np.testing.assert_allclose(grouped.weights_[g], alone.weights_, rtol=1e-4)
        np.testing.assert_allclose(
            np.squeeze(grouped.covariances_[g]),
            np.squeeze(alone.covariances_),
            rtol=1e-4,
        )
        np.testing.assert_allclose(
            grouped.uniform_bounds_[cols], alone.uniform_bounds_, rtol=1e-4
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spherical_floor_on_constant_columns_is_the_mean_of_the_diag_floors(dtype):
    # Constant columns: every variance sits at its floor. 'spherical' is one
    # variance per group, the mean over its columns, so it must be the mean of the
    # per-column variances that 'diag' reports for the same data.
    X = np.tile([3.0, 40.0], (50, 1)).astype(dtype)
    diag = GaussianUniformMixture(covariance_type="diag").fit(X)
    spherical = GaussianUniformMixture(covariance_type="spherical").fit(X)
    assert spherical.covariances_ == pytest.approx(np.mean(diag.covariances_), rel=1e-5)


def test_em_stopped_by_max_iter_is_not_converged():
    X, _ = _contaminated(300, 2, seed=4)
    with pytest.warns(ConvergenceWarning):
        gum = GaussianUniformMixture(max_iter=1, tol=0.0).fit(X)
    assert gum.converged_ is False
    assert GaussianUniformMixture().fit(X).converged_ is True


def test_a_fit_on_more_rows_than_the_starting_subsample():
    """Above 131,072 rows the starting centre and scale come from a strided
    subsample (to bound memory); the fit still recovers the generating law."""
    rng = np.random.default_rng(0)
    n = 150_000
    X = rng.normal(0.0, 2.0, size=(n, 1))
    wrong = rng.random(n) < 0.2
    X[wrong, 0] = rng.uniform(-40.0, 40.0, size=wrong.sum())
    gum = GaussianUniformMixture().fit(X)
    assert gum.weights_[0] == pytest.approx(1 - wrong.mean(), abs=0.005)
    assert gum.covariances_[0] == pytest.approx(4.0, rel=0.02)


@pytest.mark.skipif(
    "mutmut" in sys.modules,
    reason="under mutation testing, mutmut's trampoline is a frame between the "
    "package and the caller, so the warning names the trampoline",
)
def test_the_convergence_warning_points_at_the_callers_line():
    """The warning names the user's ``fit`` call, not scikit-learn's fit wrapper
    (``stacklevel=2`` stopped in sklearn/base.py), so filters by module work."""
    X, _ = _contaminated(300, 2, seed=4)
    with pytest.warns(ConvergenceWarning) as record:
        GaussianUniformMixture(max_iter=1, tol=0.0).fit(X)
    assert [w.filename for w in record] == [__file__]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inlier_prior_stays_inside_0_1_when_every_row_is_an_inlier(dtype):
    # A tight cloud in a box a million times wider: every responsibility rounds to
    # exactly 1, so the plain M-step (no pseudo-count) would give a prior of 1 and
    # an outlier weight of 0, whose log is -inf. Like GaussianMixture's weights,
    # both components keep a weight of at least the dtype's eps.
    X = np.random.default_rng(3).normal(size=(200, 1)).astype(dtype) * 1e-3
    gum = GaussianUniformMixture(
        inlier_pseudo_count=0.0, uniform=np.array([[-1e3, 1e3]])
    ).fit(X)
    eps = np.finfo(dtype).eps
    assert gum.weights_[1] >= eps * (1 - 1e-6)
    assert gum.weights_[0] <= 1 - eps * (1 - 1e-6)
    assert np.all(np.isfinite(np.log(gum.weights_)))


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_fit_mean_recovers_a_shifted_mixture(covariance_type):
    # The known mixture of test_recovers_known_mixture_per_row moved to mean (3, -2):
    # with fit_mean the fit is the shifted one (same prior and covariance).
    cov = {
        "full": np.array([[1.0, 0.6], [0.6, 2.0]]),
        "diag": np.diag([1.0, 2.5]),
        "spherical": 1.5 * np.eye(2),
    }[covariance_type]
    bounds = np.array([[-12.0, 12.0], [-15.0, 9.0]])
    X, _, _ = draw_gum(N_LARGE, [[0, 1]], [cov], [0.7], bounds, seed=16)
    mean = np.array([3.0, -2.0])
    gum = GaussianUniformMixture(
        covariance_type=covariance_type, fit_mean=True, tol=1e-6
    ).fit(X + mean)
    assert gum.weights_[0] == pytest.approx(0.7, abs=0.01)
    np.testing.assert_allclose(gum.means_, mean, atol=0.05)
    if covariance_type == "full":
        np.testing.assert_allclose(gum.covariances_, cov, rtol=0.05, atol=0.05)
    elif covariance_type == "diag":
        np.testing.assert_allclose(gum.covariances_, np.diag(cov), rtol=0.05)
    else:
        assert float(gum.covariances_) == pytest.approx(1.5, rel=0.05)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "full"])
def test_reg_covar_is_in_units_of_each_column_weighted_variance(covariance_type):
    # Inliers only and a huge fixed box: every responsibility is 1 to rounding, so
    # the zero-mean Gaussian's covariance is the weighted second moment plus
    # reg_covar times each column's weighted variance (about its weighted mean).
    rng = np.random.default_rng(17)
    X = rng.normal(loc=[2.0, -5.0], scale=[1.0, 3.0], size=(500, 2))
    w = rng.uniform(0.2, 3.0, size=500)
    reg = 0.5
    gum = GaussianUniformMixture(
        covariance_type=covariance_type,
        uniform=[[-1e6, 1e6]] * 2,
        reg_covar=reg,
        tol=1e-10,
    ).fit(X, sample_weight=w)
    second = np.einsum("n,ni,nj->ij", w, X, X) / w.sum()
    variance = np.cov(X.T, aweights=w, bias=True).diagonal()
    expected = second + np.diag(reg * variance)
    if covariance_type == "diag":
        expected = expected.diagonal()
    elif covariance_type == "spherical":
        expected = expected.diagonal().mean()
    np.testing.assert_allclose(gum.covariances_, expected, rtol=1e-9)
    assert gum.weights_[0] == pytest.approx(1.0)


def test_range_box_ignores_rows_of_zero_weight():
    rng = np.random.default_rng(18)
    X = rng.normal(size=(200, 2))
    X[:3] = [[50.0, -60.0], [-70.0, 40.0], [0.0, 90.0]]
    w = np.ones(200)
    w[:3] = 0.0
    gum = GaussianUniformMixture(uniform="range").fit(X, sample_weight=w)
    kept = X[3:]
    np.testing.assert_array_equal(gum.uniform_bounds_, np.c_[kept.min(0), kept.max(0)])
    assert gum.uniform_log_density_ == pytest.approx(-np.log(np.ptp(kept, 0)).sum())


# -- EM's fixed point is a stationary point of the likelihood -------------------
#
# With the uniform's box fixed and no regularisation, every M-step update (prior,
# mean, covariance, for a Gaussian or a Student-t inlier with known ν) maximises
# the expected complete-data log-likelihood, so at convergence the weighted mean
# log-likelihood has a zero gradient in every parameter. Central differences of
# score_samples around the fitted attributes check that, independently of the
# M-step's formulas: a wrong weight, sum or denominator moves the fixed point off
# the maximum and leaves gradients of order 1e-2.


def _stationarity_data():
    rng = np.random.default_rng(19)
    n = 1000
    mixing = np.array([[1.0, 0.3, 0.0], [0.0, 1.2, 0.4], [0.0, 0.0, 0.8]])
    X = rng.normal(size=(n, 3)) @ mixing + [1.0, -2.0, 0.5]
    outlier = rng.uniform(size=n) < 0.25
    X[outlier] = rng.uniform(-12, 12, size=(outlier.sum(), 3))
    return X, rng.uniform(0.5, 2.0, size=n)


def _perturbed(gum, attribute, group, index, step):
    """A copy of ``gum`` with one entry of a fitted attribute moved by ``step`` (and
    its mirror, for an off-diagonal entry of a symmetric matrix)."""
    moved = copy.deepcopy(gum)
    value = getattr(moved, attribute)
    grouped = isinstance(value, list)
    array = np.array(value[group] if grouped else value, dtype=float)
    array[index] += step
    if array.ndim == 2 and index[0] != index[1]:
        array[index[::-1]] += step
    if grouped:
        value[group] = array
    else:
        setattr(moved, attribute, array)
    return moved


def _parameter_entries(gum):
    """(attribute, group, index) of every free entry of the mean and covariance."""
    grouped = gum.groups is not None
    entries = []
    for g, cols in enumerate(gum.groups_):
        group = g if grouped else None
        # Without groups the attributes span all columns: index by column.
        at = range(len(cols)) if grouped else cols
        entries += [("means_", group, (i,)) for i in at]
        if gum.covariance_type == "full":
            entries += [
                ("covariances_", group, (i, j)) for i in at for j in at if j >= i
            ]
        elif gum.covariance_type == "diag":
            entries += [("covariances_", group, (i,)) for i in at]
        else:
            entries.append(("covariances_", group, ()))
    return entries


STATIONARITY_CASES = [
    ("diag", None, None),
    ("diag", 4.0, None),
    ("spherical", None, "each"),
    ("spherical", 4.0, None),
    ("full", None, [[0, 1], [2]]),
    ("full", 4.0, None),
]


@pytest.mark.parametrize("pseudo_count", [0.0, 7.0])
@pytest.mark.parametrize(("covariance_type", "inlier_df", "groups"), STATIONARITY_CASES)
def test_em_converges_to_a_stationary_point_of_the_likelihood(
    covariance_type, inlier_df, groups, pseudo_count
):
    """With k pseudo-rows the fixed point is the log-posterior's: the weighted mean
    log-likelihood plus k Σ_g log π_g / Σ w (a Beta(k + 1, 1) prior on each π_g)."""
    X, w = _stationarity_data()
    gum = GaussianUniformMixture(
        covariance_type=covariance_type,
        inlier_df=inlier_df,
        groups=groups,
        fit_mean=True,
        uniform=[[-13.0, 13.0]] * 3,
        reg_covar=0.0,
        inlier_pseudo_count=pseudo_count,
        tol=1e-13,
        max_iter=1000,
    ).fit(X, sample_weight=w)

    def objective(model):
        inlier_priors = np.atleast_2d(model.weights_)[:, 0]
        log_prior = pseudo_count * np.log(inlier_priors).sum() / w.sum()
        return np.average(model.score_samples(X), weights=w) + log_prior

    # lower_bound_ is the objective entering the last iteration, the converged
    # parameters' to within tol.
    assert gum.lower_bound_ == pytest.approx(objective(gum), rel=1e-10)

    def gradient(moved_up, moved_down):
        return (objective(moved_up) - objective(moved_down)) / (2 * step)

    # Central differences: truncation ~ step², rounding ~ 1e-16 / step, both far
    # below the 1e-5 tolerance.
    step = 1e-5
    for attribute, group, index in _parameter_entries(gum):
        slope = gradient(
            _perturbed(gum, attribute, group, index, step),
            _perturbed(gum, attribute, group, index, -step),
        )
        assert abs(slope) < 1e-5, (attribute, group, index, slope)
    # The prior: weight moved from the uniform to the Gaussian of one group.
    for g in range(len(gum.groups_)):
        shift = np.zeros_like(np.atleast_2d(gum.weights_))
        shift[g] = [step, -step]
        up, down = copy.deepcopy(gum), copy.deepcopy(gum)
        up.weights_ = gum.weights_ + shift.reshape(gum.weights_.shape)
        down.weights_ = gum.weights_ - shift.reshape(gum.weights_.shape)
        slope = gradient(up, down)
        assert abs(slope) < 1e-5, ("weights_", g, slope)


def test_box_is_kept_when_no_row_is_an_outlier():
    # Integer-valued Gaussian-like data over 30 columns, started at a prior of
    # 1 - 1e-15: every responsibility rounds to exactly 1 and the integer sums are
    # exact, so the outlier mass is exactly 0. The moment-matched box then has
    # nothing to be estimated from and stays the starting one, the min-max box.
    X = np.round(np.random.default_rng(20).normal(0, 10, size=(200, 30)))
    gum = GaussianUniformMixture(init_inlier_prior=1 - 1e-15).fit(X)
    assert gum.weights_[1] < 1e-15
    np.testing.assert_array_equal(gum.uniform_bounds_, np.c_[X.min(0), X.max(0)])
    assert gum.uniform_log_density_ == pytest.approx(-np.log(np.ptp(X, 0)).sum())


def test_verbose_reports_every_iteration_and_the_outcome(capsys):
    X, _ = _contaminated(300, 1, seed=23)
    gum = GaussianUniformMixture(verbose=2).fit(X)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == gum.n_iter_ + 1
    for k, (line, bound) in enumerate(zip(lines, gum.lower_bounds_, strict=False)):
        assert line == f"  EM iteration {k + 1}: mean log-likelihood {bound:.6f}"
    assert lines[-1] == f"GUM EM converged after {gum.n_iter_} iterations."
    GaussianUniformMixture(verbose=1).fit(X)
    assert capsys.readouterr().out.splitlines() == lines[-1:]
    with pytest.warns(ConvergenceWarning):
        GaussianUniformMixture(verbose=1, max_iter=1, tol=0).fit(X)
    assert capsys.readouterr().out == "GUM EM did not converge after 1 iterations.\n"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_too_large_for_the_dtype_are_a_clear_error(dtype):
    scale = 1e200 if dtype == np.float64 else 1e30  # squares overflow
    X = np.random.default_rng(24).normal(size=(50, 1)) * scale
    # The whole message: what went wrong and both remedies.
    message = (
        "The GUM log-likelihood became non-finite; the data may hold values too "
        "large for its dtype (rescale it) or reg_covar may be too small."
    )
    with pytest.raises(FloatingPointError, match=re.escape(message)):
        GaussianUniformMixture().fit(X.astype(dtype))


def test_warm_start_with_range_box_takes_the_new_data_range():
    X, _ = _contaminated(300, 2, seed=25)
    gum = GaussianUniformMixture(uniform="range", warm_start=True).fit(X)
    wider = 3 * X
    gum.fit(wider)
    np.testing.assert_array_equal(
        gum.uniform_bounds_, np.c_[wider.min(0), wider.max(0)]
    )
    assert gum.uniform_log_density_ == pytest.approx(-np.log(np.ptp(wider, 0)).sum())


@pytest.mark.parametrize("value", [0.0, 3.0])
def test_range_box_of_a_constant_column_is_as_wide_as_the_variance_floor(value):
    """A constant column has a min-max box of width 0, whose density would be
    infinite: it is widened to the box whose uniform has the Gaussian's variance
    floor as its variance, width sqrt(12 var) (a uniform on [a, b] has variance
    (b - a)^2 / 12).

    The Gaussian of a constant column sits at that same floor, so the two components
    stay comparable: neither the box nor the Gaussian swallows the other.
    """
    X = np.full((50, 1), value)
    gum = GaussianUniformMixture(uniform="range", fit_mean=True).fit(X)
    np.testing.assert_array_equal(gum.uniform_bounds_, [[value, value]])
    (variance,) = gum.covariances_
    assert variance > 0
    assert gum.uniform_log_density_ == pytest.approx(
        -0.5 * np.log(12 * variance), rel=1e-12
    )


def _hand_set_mixture(covariance_type, groups, inlier_df=None):
    """A fitted mixture whose attributes are then set by hand to known values."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(300, 3)), rng.uniform(-9, 9, (60, 3))])
    gum = GaussianUniformMixture(
        covariance_type=covariance_type,
        groups=groups,
        inlier_df=inlier_df,
        fit_mean=True,
        random_state=0,
    ).fit(X)
    return gum


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("groups", [None, [[0, 1], [2]]])
@pytest.mark.parametrize("inlier_df", [None, 6.0])
def test_sample_draws_the_fitted_law(covariance_type, groups, inlier_df):
    # Independent check of sample(): the drawn rows' outlier share, inlier mean and
    # covariance, and outlier box against the fitted attributes (a Student-t's
    # covariance is its scale times nu / (nu - 2)).
    gum = _hand_set_mixture(covariance_type, groups, inlier_df)
    n = 40_000
    X, y = gum.sample(n)
    assert X.shape == (n, 3) and y.dtype == np.int64
    column_groups = gum.groups_
    weights = np.atleast_2d(gum.weights_)
    covs = gum.covariances_ if groups is not None else [gum.covariances_]
    means = gum.means_ if groups is not None else [gum.means_]
    # A row is an outlier when any of its groups is: P = 1 - prod_g pi_g.
    inlier_share = np.prod(weights[:, 0])
    assert y.mean() == pytest.approx(1 - inlier_share, abs=4 * np.sqrt(0.25 / n))
    clean = X[y == 0]
    inflation = 1.0 if inlier_df is None else inlier_df / (inlier_df - 2)
    for cols, mean, cov in zip(column_groups, means, covs, strict=True):
        cov = np.asarray(cov, dtype=float)
        if cov.ndim == 0:
            cov = float(cov) * np.eye(len(cols))
        elif cov.ndim == 1:
            cov = np.diag(cov)
        sd = np.sqrt(np.diag(cov))
        assert clean[:, cols].mean(0) == pytest.approx(mean, abs=0.05 * sd.max())
        drawn = np.atleast_2d(np.cov(clean[:, cols], rowvar=False))
        assert drawn == pytest.approx(
            inflation * cov, abs=0.08 * inflation * sd.max() ** 2
        )
    if inlier_df is None:
        # Far from the Gaussian (> 6 sd here) only the uniform draws: those values
        # fill the fitted box, and none falls outside it.
        low, high = gum.uniform_bounds_[:, 0], gum.uniform_bounds_[:, 1]
        far = np.abs(X - np.concatenate(means)) > 6
        assert np.all(y[np.any(far, axis=1)] == 1)
        assert np.all((X >= low) | ~far) and np.all((X <= high) | ~far)
        assert X.min(0) == pytest.approx(low, abs=0.1)
        assert X.max(0) == pytest.approx(high, abs=0.1)


def test_sample_is_reproducible_and_checks_its_size():
    gum = _hand_set_mixture("diag", None)
    first, second = gum.sample(5), gum.sample(5)
    assert np.array_equal(first[0], second[0])
    assert gum.sample(1)[0].shape == (1, 3)
    assert gum.sample()[0].shape == (1, 3)  # GaussianMixture's default: one row
    for bad in (0, -1, 2.0):
        with pytest.raises(ValueError, match="n_samples must be a positive integer"):
            gum.sample(bad)


def test_range_box_is_the_data_range_and_moments_move_it():
    # uniform='range' keeps the box at [min, max] of the data; 'moments' re-fits it
    # at every M-step from the outliers' moments, so it ends elsewhere.
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(size=4000), rng.uniform(10, 30, 1000)])[:, None]
    data_range = GaussianUniformMixture(uniform="range", fit_mean=True).fit(X)
    assert data_range.uniform_bounds_[0] == pytest.approx([X.min(), X.max()])
    moments = GaussianUniformMixture(uniform="moments", fit_mean=True).fit(X)
    assert np.all(np.abs(moments.uniform_bounds_[0] - [X.min(), X.max()]) > 1.0)


def test_scoring_runs_in_the_inputs_precision():
    # A float64 fit scores float32 rows in float32 (as they were given) and the
    # probabilities agree with the float64 scoring to float32 precision.
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(300, 2)), rng.uniform(-9, 9, (60, 2))])
    gum = GaussianUniformMixture().fit(X)
    proba32 = gum.predict_proba(X.astype(np.float32))
    assert proba32.dtype == np.float32
    assert proba32 == pytest.approx(gum.predict_proba(X), abs=1e-5)
