"""Behaviour of the contaminated-data generators through their public functions."""

import numpy as np
import pandas as pd
import pytest
from scipy.interpolate import LinearNDInterpolator
from sklearn.metrics import roc_auc_score

from sk_deepgum.datasets import contaminate, make_contaminated_regression

# ---------------------------------------------------------------------------
# make_contaminated_regression


@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("kind", ["uniform", "shift"])
def test_regression_shapes_and_exact_rate(n_targets, kind):
    n, rate = 301, 0.23
    X, y, mask = make_contaminated_regression(
        n, 4, n_targets, outlier_rate=rate, outlier_kind=kind, random_state=0
    )
    assert X.shape == (n, 4)
    assert y.shape == ((n,) if n_targets == 1 else (n, n_targets))
    assert mask.shape == (n,) and mask.dtype == bool
    assert mask.sum() == round(rate * n)
    assert np.all((X >= -1) & (X <= 1))

    d = make_contaminated_regression(
        n,
        4,
        n_targets,
        outlier_rate=rate,
        outlier_kind=kind,
        random_state=0,
        return_details=True,
    )
    np.testing.assert_array_equal(d.X, X)
    np.testing.assert_array_equal(d.y, y)
    np.testing.assert_array_equal(d.outlier_mask, mask)
    for key in ("y_clean", "y_noiseless"):
        assert d[key].shape == y.shape
    assert d.outlier_proba_bayes.shape == (n,)
    assert isinstance(d.law, str)
    assert f"{round(rate * n)}/{n} rows" in d.law


@pytest.mark.parametrize("kind", ["uniform", "shift"])
def test_regression_changes_exactly_the_outlier_rows(kind):
    d = make_contaminated_regression(
        200,
        3,
        2,
        outlier_rate=0.3,
        outlier_kind=kind,
        shift=[2.0, -5.0],
        random_state=1,
        return_details=True,
    )
    changed = np.any(d.y != d.y_clean, axis=1)
    np.testing.assert_array_equal(changed, d.outlier_mask)
    if kind == "uniform":
        assert np.all(np.abs(d.y[d.outlier_mask]) <= 6.0)
    else:
        np.testing.assert_allclose(
            d.y[d.outlier_mask] - d.y_clean[d.outlier_mask],
            np.broadcast_to([2.0, -5.0], (60, 2)),
        )


def test_regression_noise_level_of_inliers():
    d = make_contaminated_regression(
        20_000, 2, 1, outlier_rate=0.1, noise=0.3, random_state=2, return_details=True
    )
    resid = (d.y - d.y_noiseless)[~d.outlier_mask]
    assert abs(resid.std() - 0.3) < 0.01
    np.testing.assert_array_equal(d.y_clean[~d.outlier_mask], d.y[~d.outlier_mask])


def test_regression_is_deterministic_per_seed():
    a = make_contaminated_regression(100, 3, 2, random_state=7)
    b = make_contaminated_regression(100, 3, 2, random_state=7)
    c = make_contaminated_regression(100, 3, 2, random_state=8)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[1], c[1])
    assert not np.array_equal(a[2], c[2])


@pytest.mark.parametrize("n_features", [1, 2])
def test_clean_function_is_shared_across_random_states(n_features):
    # Noise-free, uncontaminated: y is exactly the clean function f(X).
    ref = make_contaminated_regression(
        4000,
        n_features,
        2,
        outlier_rate=0.0,
        noise=0.0,
        random_state=0,
        return_details=True,
    )
    np.testing.assert_array_equal(ref.y, ref.y_noiseless)
    np.testing.assert_array_equal(ref.y, ref.y_clean)
    assert not ref.outlier_mask.any()
    # Another seed draws other inputs, yet its targets lie on the same f: an
    # interpolant of the first draw predicts them (a seed-dependent f would not).
    X, y, _ = make_contaminated_regression(
        200, n_features, 2, outlier_rate=0.0, noise=0.0, random_state=1
    )
    if n_features == 1:
        order = np.argsort(ref.X[:, 0])
        pred = np.column_stack(
            [np.interp(X[:, 0], ref.X[order, 0], ref.y[order, k]) for k in range(2)]
        )
        tol = 1e-3
    else:
        pred = LinearNDInterpolator(ref.X, ref.y)(X)
        tol = 0.05
    inside = np.all(np.isfinite(pred), axis=1)
    assert inside.mean() > 0.9
    assert np.max(np.abs(pred[inside] - y[inside])) < tol


def test_first_target_does_not_depend_on_n_targets():
    a = make_contaminated_regression(
        50, 3, 1, outlier_rate=0.0, noise=0.0, random_state=0
    )
    b = make_contaminated_regression(
        50, 3, 4, outlier_rate=0.0, noise=0.0, random_state=0
    )
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1][:, 0])


@pytest.mark.parametrize("n_features", [1, 5, 12])
def test_clean_targets_are_standardised(n_features):
    _, y, _ = make_contaminated_regression(
        100_000, n_features, 2, outlier_rate=0.0, noise=0.0, random_state=0
    )
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=0.02)
    np.testing.assert_allclose(y.std(axis=0), 1.0, atol=0.02)


@pytest.mark.parametrize("n_targets", [1, 2])
@pytest.mark.parametrize("kind", ["uniform", "shift"])
def test_bayes_proba_is_a_near_perfect_outlier_score(kind, n_targets):
    d = make_contaminated_regression(
        2000,
        5,
        n_targets,
        outlier_rate=0.3,
        outlier_kind=kind,
        noise=0.1,
        random_state=4,
        return_details=True,
    )
    p = d.outlier_proba_bayes
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    assert roc_auc_score(d.outlier_mask, p) > 0.95
    # Calibrated: the mean posterior is close to the realised rate.
    assert abs(p.mean() - 0.3) < 0.03


def test_bayes_proba_edge_cases_stay_finite():
    d0 = make_contaminated_regression(
        100, 2, outlier_rate=0.0, random_state=0, return_details=True
    )
    np.testing.assert_array_equal(d0.outlier_proba_bayes, 0.0)

    # Noise-free: inliers sit exactly on f, so the posterior is 0/1 and exact.
    d1 = make_contaminated_regression(
        100, 2, outlier_rate=0.4, noise=0.0, random_state=0, return_details=True
    )
    np.testing.assert_array_equal(d1.outlier_proba_bayes, d1.outlier_mask)
    d1s = make_contaminated_regression(
        100,
        2,
        outlier_rate=0.4,
        outlier_kind="shift",
        noise=0.0,
        random_state=0,
        return_details=True,
    )
    np.testing.assert_array_equal(d1s.outlier_proba_bayes, d1s.outlier_mask)

    # Tiny noise, far outliers: densities underflow, but never give NaN.
    d2 = make_contaminated_regression(
        500,
        2,
        3,
        outlier_rate=0.5,
        outlier_kind="shift",
        noise=1e-160,
        random_state=0,
        return_details=True,
    )
    np.testing.assert_array_equal(d2.outlier_proba_bayes, d2.outlier_mask)

    # A zero shift makes outliers indistinguishable: the posterior is the prior.
    d3 = make_contaminated_regression(
        100,
        2,
        outlier_rate=0.2,
        outlier_kind="shift",
        shift=0.0,
        random_state=0,
        return_details=True,
    )
    np.testing.assert_allclose(d3.outlier_proba_bayes, 0.2)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_regression_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match=rf"outlier_rate must be in \[0, 1\).*{rate}"):
        make_contaminated_regression(outlier_rate=rate)


def test_regression_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"outlier_kind must be one of.*'uniform'"):
        make_contaminated_regression(outlier_kind="swap")
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1"):
        make_contaminated_regression(n_samples=0)
    with pytest.raises(ValueError, match="n_features must be an integer >= 1"):
        make_contaminated_regression(n_features=0)
    with pytest.raises(ValueError, match="n_targets must be an integer >= 1"):
        make_contaminated_regression(n_targets=1.5)
    with pytest.raises(ValueError, match="noise must be"):
        make_contaminated_regression(noise=-1.0)
    with pytest.raises(ValueError, match="shift must be a scalar or have one value"):
        make_contaminated_regression(n_targets=2, outlier_kind="shift", shift=[1, 2, 3])


# ---------------------------------------------------------------------------
# contaminate


def _targets(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("kind", ["uniform", "shift", "swap"])
@pytest.mark.parametrize("shape", [(97,), (97, 3)])
def test_contaminate_rows_changes_exactly_the_mask(kind, shape):
    y = _targets(shape)
    y_before = y.copy()
    rate = 0.33
    y_bad, mask = contaminate(y, rate, kind=kind, random_state=0)
    np.testing.assert_array_equal(y, y_before)  # input untouched
    assert y_bad.shape == y.shape and y_bad.dtype == float
    assert mask.shape == (97,) and mask.dtype == bool
    assert mask.sum() == round(rate * 97)
    changed = (y_bad != y).reshape(97, -1)
    # Whole rows change, and only the masked ones.
    np.testing.assert_array_equal(changed.all(axis=1), mask)
    np.testing.assert_array_equal(changed.any(axis=1), mask)


@pytest.mark.parametrize("kind", ["uniform", "shift", "swap"])
@pytest.mark.parametrize(
    "groups, n_groups", [("each", 4), ([[0, 1], [2, 3]], 2), ([[3], [0, 2, 1]], 2)]
)
def test_contaminate_groups_changes_exactly_the_mask(kind, groups, n_groups):
    n, rate = 120, 0.25
    y = _targets((n, 4))
    y_before = y.copy()
    y_bad, mask = contaminate(y, rate, kind=kind, groups=groups, random_state=1)
    np.testing.assert_array_equal(y, y_before)
    assert mask.shape == (n, n_groups) and mask.dtype == bool
    np.testing.assert_array_equal(mask.sum(axis=0), round(rate * n))
    cols = [[j] for j in range(4)] if groups == "each" else groups
    for g, c in enumerate(cols):
        changed = y_bad[:, c] != y[:, c]
        np.testing.assert_array_equal(changed.all(axis=1), mask[:, g])
        np.testing.assert_array_equal(changed.any(axis=1), mask[:, g])


def test_contaminate_group_masks_are_independent():
    n = 2000
    _, mask = contaminate(
        _targets((n, 6)), 0.5, groups=[[0, 1], [2, 3], [4, 5]], random_state=0
    )
    assert mask.shape == (n, 3)
    assert not np.array_equal(mask[:, 0], mask[:, 1])
    # Independent selections: each pair of groups overlaps on about rate^2 of rows.
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        overlap = np.mean(mask[:, a] & mask[:, b])
        assert abs(overlap - 0.25) < 0.04


def test_contaminate_uniform_default_and_explicit_box():
    y = np.column_stack([np.linspace(0, 10, 50), np.linspace(-1, 1, 50)])
    y_bad, mask = contaminate(y, 0.8, random_state=0)
    out = y_bad[mask]
    assert np.all((out[:, 0] >= -5) & (out[:, 0] <= 15))
    assert np.all((out[:, 1] >= -2) & (out[:, 1] <= 2))
    # The extended box is used, not only the data range.
    assert np.any(out[:, 0] < 0) or np.any(out[:, 0] > 10)

    y_bad, mask = contaminate(y, 0.5, low=[100, -300], high=[101, -200], random_state=0)
    out = y_bad[mask]
    assert np.all((out[:, 0] >= 100) & (out[:, 0] <= 101))
    assert np.all((out[:, 1] >= -300) & (out[:, 1] <= -200))


def test_contaminate_shift_default_is_three_robust_sd():
    y = np.column_stack([_targets(1001, 0), 5.0 * _targets(1001, 1)])
    y_bad, mask = contaminate(y, 0.1, kind="shift", random_state=0)
    delta = (y_bad - y)[mask]
    mad = np.median(np.abs(y - np.median(y, axis=0)), axis=0)
    np.testing.assert_allclose(delta, np.broadcast_to(3 * 1.4826 * mad, delta.shape))

    y_bad, mask = contaminate(y, 0.1, kind="shift", shift=[1.0, -2.0], random_state=0)
    np.testing.assert_allclose(
        (y_bad - y)[mask], np.broadcast_to([1.0, -2.0], (100, 2))
    )


def test_contaminate_swap_takes_another_samples_target():
    y = _targets((60, 4))
    y_bad, mask = contaminate(
        y, 0.5, kind="swap", groups=[[0, 1], [2, 3]], random_state=0
    )
    for g, cols in enumerate([[0, 1], [2, 3]]):
        for i in np.flatnonzero(mask[:, g]):
            match = np.flatnonzero(np.all(y[:, cols] == y_bad[i, cols], axis=1))
            assert len(match) == 1 and match[0] != i
    # Two samples: a swap exchanges for the only other one.
    y_bad, mask = contaminate([1.0, 2.0], 1.0, kind="swap", random_state=0)
    np.testing.assert_array_equal(y_bad, [2.0, 1.0])
    assert mask.all()


def test_contaminate_accepts_lists_and_pandas():
    y_list = [[1, 2], [3, 4], [5, 6], [7, 8]]
    y_bad, mask = contaminate(y_list, 0.5, kind="shift", shift=10, random_state=0)
    assert y_bad.shape == (4, 2) and y_bad.dtype == float
    assert y_list == [[1, 2], [3, 4], [5, 6], [7, 8]]

    df = pd.DataFrame(_targets((30, 2)), columns=["a", "b"])
    df_before = df.copy()
    y_bad, mask = contaminate(df, 0.2, random_state=0)
    pd.testing.assert_frame_equal(df, df_before)
    assert isinstance(y_bad, np.ndarray) and y_bad.shape == (30, 2)

    s = pd.Series(np.arange(20.0))
    y_bad, mask = contaminate(s, 0.25, groups="each", random_state=0)
    assert y_bad.shape == (20,) and mask.shape == (20, 1)
    assert mask.sum() == 5


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_contaminate_extreme_rates(rate):
    y = _targets((10, 2))
    y_bad, mask = contaminate(y, rate, kind="shift", random_state=0)
    assert mask.sum() == round(rate * 10)
    if rate == 0.0:
        np.testing.assert_array_equal(y_bad, y)
        assert y_bad is not y


def test_contaminate_is_deterministic_per_seed():
    y = _targets((50, 4))
    for kind in ["uniform", "shift", "swap"]:
        a = contaminate(y, 0.4, kind=kind, groups="each", random_state=3)
        b = contaminate(y, 0.4, kind=kind, groups="each", random_state=3)
        c = contaminate(y, 0.4, kind=kind, groups="each", random_state=4)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("rate", [-0.01, 1.01])
def test_contaminate_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match=rf"rate must be in \[0, 1\].*{rate}"):
        contaminate(np.zeros(5), rate)


def test_contaminate_rejects_bad_kind():
    with pytest.raises(ValueError, match=r"kind must be one of.*'uniform'.*'shift'"):
        contaminate(np.zeros(5), 0.2, kind="gaussian")


@pytest.mark.parametrize(
    "groups, message",
    [
        ([[0, 1], [2]], r"columns \[3\] are in no group"),
        ([[0, 1], [1, 2, 3]], r"columns \[1\] appear more than once"),
        ([[0, 1], [2, 5]], r"groups name columns \[5\]"),
        ([[0, 1, 2, 3], []], "non-empty"),
        ("all", "groups must be None, 'each'"),
        ([["a"], [1]], "integer column indices"),
    ],
)
def test_contaminate_rejects_bad_groups(groups, message):
    # The same validator as the estimators': TypeError for non-integer indices.
    with pytest.raises((ValueError, TypeError), match=message):
        contaminate(np.zeros((5, 4)), 0.2, groups=groups)


def test_contaminate_rejects_bad_targets_and_boxes():
    with pytest.raises(ValueError, match="1-D or 2-D"):
        contaminate(np.zeros((3, 2, 2)), 0.2)
    with pytest.raises(ValueError, match="NaN or infinite"):
        contaminate([1.0, np.nan], 0.5)
    with pytest.raises(ValueError, match="non-empty"):
        contaminate(np.zeros(0), 0.5)
    with pytest.raises(ValueError, match="low must be <= high"):
        contaminate(np.zeros(5), 0.2, low=1.0, high=0.0)
    with pytest.raises(ValueError, match="at least 2 samples"):
        contaminate([1.0], 1.0, kind="swap")


def test_outlier_posterior_is_bayes_rule():
    # The generators' (and the benchmarks') posterior against Bayes' rule written
    # out with densities, and its two edge cases.
    import warnings

    from sk_deepgum.datasets._common import outlier_posterior

    q_in = np.array([0.4, 1e-3, 2.0, 0.0])
    q_out = np.array([0.05, 0.05, 0.0, 0.0])
    rho = 0.2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # both densities 0 must not warn
        with np.errstate(divide="ignore"):
            p = outlier_posterior(np.log(q_in), np.log(q_out), rho)
    expected = rho * q_out[:3] / (rho * q_out[:3] + (1 - rho) * q_in[:3])
    assert p[:3] == pytest.approx(expected, rel=1e-12)
    # Both densities 0: the data say nothing, the posterior is the prior.
    assert p[3] == rho
    # No outliers in the law: zeros of the broadcast shape of the two inputs.
    zero = outlier_posterior(np.zeros((4, 1)), np.zeros(3), 0.0)
    assert zero.shape == (4, 3) and not zero.any()
