"""``warm_up_loss``: the warm-up trains as the fixed-loss network estimator would.

With ``max_epochs == warm_up_epochs`` a DeepGUM fit is its warm-up plus one EM on the
final residuals, which does not move the network; its predictions must then equal
those of ``RobustNetRegressor(loss=warm_up_loss)`` with the same seed and epochs:
same initialisation, batches and weight averaging, and the same criterion.
"""

import numpy as np
import pytest

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor


@pytest.fixture(scope="module")
def contaminated():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=150)
    y[:20] += 8.0
    return X, y


@pytest.mark.parametrize("loss", ["l2", "huber", "tukey"])
def test_the_warm_up_trains_as_the_fixed_loss_estimator(loss, contaminated):
    X, y = contaminated
    deepgum = DeepGUMRegressor(
        warm_up_loss=loss, warm_up_epochs=4, max_epochs=4, random_state=0
    ).fit(X, y)
    fixed = RobustNetRegressor(loss=loss, max_epochs=4, random_state=0).fit(X, y)
    np.testing.assert_array_equal(deepgum.predict(X), fixed.predict(X))


def test_the_losses_differ_so_the_comparison_can_fail(contaminated):
    X, y = contaminated
    predictions = [
        RobustNetRegressor(loss=loss, max_epochs=4, random_state=0).fit(X, y).predict(X)
        for loss in ("l2", "huber", "tukey")
    ]
    assert not np.allclose(predictions[0], predictions[1])
    assert not np.allclose(predictions[1], predictions[2])


def test_the_rounds_after_a_robust_warm_up_use_the_quadratic_loss(contaminated):
    """Without a warm-up the setting changes nothing: every epoch is a round."""
    X, y = contaminated
    plain = DeepGUMRegressor(warm_up_epochs=0, max_epochs=6, random_state=0).fit(X, y)
    tukey = DeepGUMRegressor(
        warm_up_epochs=0, warm_up_loss="tukey", max_epochs=6, random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(plain.predict(X), tukey.predict(X))


def test_an_unknown_warm_up_loss_is_refused(contaminated):
    with pytest.raises(ValueError, match="warm_up_loss"):
        DeepGUMRegressor(warm_up_loss="l1").fit(*contaminated)
