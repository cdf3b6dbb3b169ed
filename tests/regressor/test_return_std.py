"""``predict(return_std=True)`` is the standard deviation of the fitted inlier law:
clean test residuals fall within it as often as that law says, when the label noise
follows it (Gaussian noise for the Gaussian inlier, t noise for the t)."""

import numpy as np
import pytest
from scipy import stats

from sk_deepgum import DeepGUMRegressor

SCALE = 0.5
NOISE = {
    None: stats.norm(scale=SCALE),
    5.0: stats.t(df=5.0, scale=SCALE),
}


def draw(n, noise, rng):
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, X @ np.array([2.0, -1.0]) + noise.rvs(size=n, random_state=rng)


@pytest.mark.parametrize("inlier_df", [5.0, None])
def test_clean_residuals_fall_within_one_and_two_std_as_the_law_says(inlier_df):
    rng = np.random.default_rng(0)
    noise = NOISE[inlier_df]
    X, y = draw(1000, noise, rng)
    y[:100] = rng.uniform(-8, 8, size=100)  # 10 % wrong targets
    X_test, y_test = draw(20000, noise, rng)
    model = DeepGUMRegressor(
        inlier_df=inlier_df, max_epochs=30, warm_up_epochs=5, random_state=0
    ).fit(X, y)
    y_pred, y_std = model.predict(X_test, return_std=True)
    assert y_std.shape == y_pred.shape
    assert y_std[0] == pytest.approx(noise.std(), rel=0.08)
    z = np.abs(y_test - y_pred) / y_std
    # Coverage of +-1 and +-2 standard deviations under the noise's own law (the
    # 20,000 test rows give a sampling sd of 0.003; the rest is the fit's error).
    for k, tol in ((1, 0.04), (2, 0.02)):
        expected = noise.cdf(k * noise.std()) - noise.cdf(-k * noise.std())
        assert np.mean(z < k) == pytest.approx(expected, abs=tol)


def test_gaussian_noise_under_the_default_t_inlier_is_overstated_a_little():
    # What the return_std docstring states: a t fitted to Gaussian noise has a
    # larger standard deviation than the noise, about 1.1 times at nu = 5.
    rng = np.random.default_rng(0)
    X, y = draw(1000, NOISE[None], rng)
    y[:100] = rng.uniform(-8, 8, size=100)
    model = DeepGUMRegressor(max_epochs=30, warm_up_epochs=5, random_state=0)
    _, y_std = model.fit(X, y).predict(X[:1], return_std=True)
    assert 1.0 < y_std[0] / SCALE < 1.2


def test_a_t_inlier_without_variance_refuses_return_std():
    rng = np.random.default_rng(0)
    X, y = draw(200, NOISE[None], rng)
    model = DeepGUMRegressor(inlier_df=2.0, max_epochs=3, random_state=0).fit(X, y)
    model.predict(X[:3])  # predictions alone are fine
    with pytest.raises(ValueError, match="inlier_df > 2"):
        model.predict(X[:3], return_std=True)
