"""The robust target scale (_target_scaling.py) the network estimators fit on: each
target column's median and 1.4826 MAD, the IQR / 1.349 then the standard deviation
where the MAD is 0, a constant column left unscaled with a warning; with integer
sample weights, the scale of the repeated rows.

Every expected value is computed here with numpy (on the repeated rows).
"""

import sys
import warnings

import numpy as np
import pytest

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor


def test_target_scale_is_the_median_and_mad_of_the_repeated_rows(weighted_rows):
    X, y, weights = weighted_rows
    y_rep = np.repeat(y, weights, axis=0)
    centre = np.median(y_rep, axis=0)
    scale = 1.4826 * np.median(np.abs(y_rep - centre), axis=0)
    for Model in (RobustNetRegressor, DeepGUMRegressor):
        model = Model(max_epochs=1, random_state=0).fit(X, y, sample_weight=weights)
        np.testing.assert_allclose(model.target_centre_, centre, rtol=1e-12)
        np.testing.assert_allclose(model.target_scale_, scale, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_quantiles_are_those_of_the_repeated_rows(seed):
    from sk_deepgum._target_scaling import weighted_quantiles

    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12))
    values = rng.normal(size=(n, 3)).round(1)  # ties included
    weights = rng.integers(0, 4, size=n)
    weights[0] = max(weights[0], 1)
    repeated = np.repeat(values, weights, axis=0)
    quantiles = [0.1, 0.25, 0.5, 0.75, 0.9]
    expected = np.quantile(repeated, quantiles, axis=0, method="averaged_inverted_cdf")
    np.testing.assert_allclose(
        weighted_quantiles(values, weights.astype(float), quantiles), expected
    )
    np.testing.assert_allclose(
        weighted_quantiles(repeated, None, 0.5)[0], np.median(repeated, axis=0)
    )


FALLBACK_TARGETS = {
    # 6 of 10 targets equal: MAD 0, so the IQR (averaged inverse CDF) / 1.349.
    "iqr": 10 + np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4.0]),
    # 8 of 10 equal: MAD and IQR 0, so the (population) standard deviation.
    "std": 10 + np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 5.0]),
}


# Weights that keep each fallback in force on the repeated rows.
FALLBACK_WEIGHTS = {
    "iqr": np.array([1, 1, 1, 1, 1, 2, 1, 2, 1, 1.0]),
    "std": np.array([2, 2, 2, 2, 2, 2, 2, 2, 1, 2.0]),
}


@pytest.mark.parametrize("case", sorted(FALLBACK_TARGETS))
def test_target_scale_falls_back_to_iqr_then_std(case):
    y = FALLBACK_TARGETS[case]
    X = np.arange(len(y), dtype=float)[:, None]
    q25, q75 = np.quantile(y, [0.25, 0.75], method="averaged_inverted_cdf")
    expected = (q75 - q25) / 1.349 if case == "iqr" else y.std()
    model = RobustNetRegressor(max_epochs=1, random_state=0).fit(X, y)
    assert model.target_centre_[0] == np.median(y)
    assert model.target_scale_[0] == pytest.approx(expected, rel=1e-12)
    # The same with weights: a row of weight 2 counts as two rows.
    weights = FALLBACK_WEIGHTS[case]
    repeated = np.repeat(y, weights.astype(int))
    q25, q75 = np.quantile(repeated, [0.25, 0.75], method="averaged_inverted_cdf")
    expected = (q75 - q25) / 1.349 if case == "iqr" else repeated.std()
    weighted = RobustNetRegressor(max_epochs=1, random_state=0).fit(
        X, y, sample_weight=weights
    )
    fallback = RobustNetRegressor(max_epochs=1, random_state=0).fit(
        np.repeat(X, weights.astype(int), axis=0), repeated
    )
    assert weighted.target_scale_[0] == pytest.approx(expected, rel=1e-12)
    assert fallback.target_scale_[0] == pytest.approx(expected, rel=1e-12)
    assert weighted.target_centre_[0] == np.median(repeated)


def test_a_constant_target_is_left_unscaled_with_a_warning():
    X = np.arange(6.0)[:, None]
    y = np.c_[np.full(6, 3.0), np.arange(6.0)]
    message = (
        r"Target column\(s\) \[0\] are constant; they are left unscaled \(scale 1\)\."
    )
    with pytest.warns(UserWarning, match=message):
        model = RobustNetRegressor(max_epochs=1, random_state=0).fit(X, y)
    assert model.target_scale_[0] == 1.0 and model.target_centre_[0] == 3.0
    assert model.target_scale_[1] == pytest.approx(1.4826 * 1.5)


@pytest.mark.skipif(
    "mutmut" in sys.modules,
    reason="under mutation testing, mutmut's trampoline is a frame between the "
    "package and the caller, so the warning names the trampoline",
)
@pytest.mark.parametrize("Model", [RobustNetRegressor, DeepGUMRegressor])
def test_the_constant_target_warning_points_at_the_callers_line(Model):
    """The warning names the user's ``fit`` call, not a line inside the package (or
    scikit-learn's fit wrapper), so ``-W error`` and warning filters by module work."""
    X = np.arange(6.0)[:, None]
    with pytest.warns(UserWarning, match="are constant") as record:
        Model(max_epochs=1, random_state=0).fit(X, np.full(6, 3.0))
    assert [w.filename for w in record if "constant" in str(w.message)] == [__file__]


def test_the_iqr_fallback_is_weighted():
    """More than half the repeated rows tied: MAD 0, so the scale is the IQR / 1.349
    of the repeated rows, which the weights move (2 unweighted, 3 weighted)."""
    y = 10 + np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4.0])
    weights = np.array([1, 1, 1, 1, 1, 2, 1, 1, 1, 3])
    X = np.arange(len(y), dtype=float)[:, None]
    repeated = np.repeat(y, weights)
    q25, q75 = np.quantile(repeated, [0.25, 0.75], method="averaged_inverted_cdf")
    assert np.median(np.abs(repeated - np.median(repeated))) == 0
    unweighted = np.quantile(y, [0.25, 0.75], method="averaged_inverted_cdf")
    assert unweighted[1] - unweighted[0] == 2.0
    model = RobustNetRegressor(max_epochs=1, random_state=0)
    model.fit(X, y, sample_weight=weights)
    assert model.target_scale_[0] == pytest.approx((q75 - q25) / 1.349, rel=1e-12)
    assert (q75 - q25) == 3.0


def test_a_spread_below_float32_tiny_counts_as_constant():
    """The network trains in float32: a column whose robust scale is below float32's
    smallest normal number (1.18e-38; 1 / scale would overflow float32) is left
    unscaled with the constant-column warning, not divided by that scale."""
    X = np.arange(6.0)[:, None]
    y = np.c_[np.arange(6.0) * 1e-39, np.arange(6.0)]
    with pytest.warns(UserWarning, match=r"Target column\(s\) \[0\] are constant"):
        model = RobustNetRegressor(max_epochs=1, random_state=0).fit(X, y)
    assert model.target_scale_[0] == 1.0


def test_a_spread_just_above_float32_tiny_is_scaled():
    """1.4826 x MAD = 2.2e-38, between float32's smallest normal (1.18e-38) and twice
    it, with a centre below 1: an ordinary column, scaled by 1.4826 x MAD."""
    X = np.arange(6.0)[:, None]
    y = np.arange(6.0) * 1e-38
    assert np.finfo(np.float32).tiny < 1.4826 * 1.5e-38 < 2 * np.finfo(np.float32).tiny
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = RobustNetRegressor(max_epochs=1, random_state=0).fit(X, y)
    expected = 1.4826 * np.median(np.abs(y - np.median(y)))
    # abs=0: pytest.approx's default absolute tolerance (1e-12) would accept any
    # number this small.
    assert model.target_scale_[0] == pytest.approx(expected, rel=1e-12, abs=0)
