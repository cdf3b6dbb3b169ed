"""Integer sample weights are repeated rows in whole fits (sets within one batch, so
SGD takes the same full-batch steps; ``min_rows_per_epoch`` repeats them, as many for
both), and the training loss is the weighted mean loss.

The same holds in the robust target scale (tests/test_target_scaling.py) and in the
Huber/Tukey batch scale (tests/test_losses.py); the rows with their weights are
conftest's ``weighted_rows``.
"""

import numpy as np
import pytest

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor


@pytest.mark.parametrize("loss", ["l2", "huber", "tukey"])
def test_weighted_fit_equals_repeated_rows_fit(loss, weighted_rows):
    X, y, weights = weighted_rows
    params = dict(loss=loss, max_epochs=5, batch_size=64, random_state=0)
    weighted = RobustNetRegressor(**params).fit(X, y, sample_weight=weights)
    repeated = RobustNetRegressor(**params).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights, axis=0)
    )
    np.testing.assert_allclose(
        weighted.predict(X), repeated.predict(X), rtol=1e-5, atol=1e-6
    )


def test_weighted_deepgum_fit_equals_repeated_rows_fit(weighted_rows):
    # Default min_rows_per_epoch: 13 and 22 rows within a batch of 32, so both fits
    # take 32 full-batch steps per epoch.
    X, y, weights = weighted_rows
    params = dict(max_epochs=4, warm_up_epochs=2, random_state=0)
    weighted = DeepGUMRegressor(**params).fit(X, y, sample_weight=weights)
    repeated = DeepGUMRegressor(**params).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights, axis=0)
    )
    np.testing.assert_allclose(
        weighted.predict(X), repeated.predict(X), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        weighted.mixture_.weights_, repeated.mixture_.weights_, rtol=1e-5
    )


def test_the_training_loss_is_the_weighted_mean_loss():
    # One batch and a step too small to move the network: the recorded epoch loss
    # is sum_n w_n 1/2 e_n^2 / sum_n w_n on the standardised residuals of the
    # (unchanged) network, whatever the scale of the weights.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 2)), rng.normal(size=20)
    weights = rng.uniform(0.5, 3.0, size=20)
    for scale in (1.0, 100.0):
        model = RobustNetRegressor(
            max_epochs=1, batch_size=20, lr=1e-12, swa_start=None, random_state=0
        ).fit(X, y, sample_weight=scale * weights)
        e = (y - model.predict(X)) / model.target_scale_[0]
        expected = np.sum(weights * 0.5 * e**2) / np.sum(weights)
        assert model.net_.history[-1, "train_loss"] == pytest.approx(expected, rel=1e-5)
