"""``fit_seconds_``: the phase timer of sk_deepgum/_timing.py, through both network
estimators."""

import time

import pytest
from conftest import CountingNet, make_data

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor

DELAY = 0.01


@pytest.mark.parametrize(
    "estimator",
    [
        DeepGUMRegressor(
            module=CountingNet,
            max_epochs=4,
            warm_up_epochs=2,
            epochs_per_round=1,
            random_state=0,
        ),
        RobustNetRegressor(
            module=CountingNet,
            max_epochs=4,
            validation_fraction=0.25,
            random_state=0,
        ),
    ],
    ids=["DeepGUMRegressor", "RobustNetRegressor"],
)
def test_fit_seconds_charges_each_phase_its_forward_calls(estimator, monkeypatch):
    X, y = make_data(64)
    monkeypatch.setattr(CountingNet, "delay", DELAY)
    CountingNet.calls.update(train=0, eval=0)
    start = time.perf_counter()
    estimator.fit(X, y)
    elapsed = time.perf_counter() - start
    seconds = estimator.fit_seconds_
    calls = CountingNet.calls
    assert set(seconds) == {"sgd", "residual_pass", "em", "total"}
    # Every training-mode forward runs inside an SGD epoch and every eval-mode
    # forward during fit is a residual pass: each phase holds at least its sleeps.
    assert calls["train"] > 0 and calls["eval"] > 0
    assert seconds["sgd"] >= calls["train"] * DELAY
    assert seconds["residual_pass"] >= calls["eval"] * DELAY
    # ... and no more than the sleeps of the other phase besides its own work:
    # the SGD phase does not hold the residual passes, nor the reverse.
    assert seconds["sgd"] < seconds["total"] - calls["eval"] * DELAY
    assert seconds["residual_pass"] < seconds["total"] - calls["train"] * DELAY
    assert seconds["em"] >= 0.0
    if isinstance(estimator, RobustNetRegressor):
        assert seconds["em"] == 0.0
    else:
        assert seconds["em"] > 0.0
    assert sum(seconds[p] for p in ("sgd", "residual_pass", "em")) <= seconds["total"]
    # "total" is the fit call itself: no longer than the call as timed outside it.
    assert seconds["total"] <= elapsed
