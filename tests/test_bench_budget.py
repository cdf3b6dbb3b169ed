"""The benchmarks' equal-step budgets (benchmarks/_common.py), against counted
batches.

The closed form the helpers use is checked against the batches a fit actually
runs, recorded through a skorch callback.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from skorch.callbacks import Callback

from sk_deepgum.baselines import RobustNetRegressor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
bench = pytest.importorskip("_common")


class CountBatches(Callback):
    def initialize(self):
        self.count = 0
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        self.count += bool(training)


def counted_steps(n_rows, **params):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_rows, 2))
    model = RobustNetRegressor(
        callbacks=[("count", CountBatches())], random_state=0, **params
    ).fit(X, X.sum(axis=1))
    return dict(model.net_.callbacks_)["count"].count


@pytest.mark.parametrize(
    ("n_rows", "params"),
    [
        (20, {}),
        (600, {}),
        (1300, {}),
        (600, {"min_rows_per_epoch": 0}),
        (45, {"min_rows_per_epoch": 100, "batch_size": 16}),
        (3000, {}),
        (3000, {"batch_size": 32}),
    ],
)
def test_steps_per_epoch_counts_the_batches_a_fit_runs(n_rows, params):
    model = RobustNetRegressor(max_epochs=2, **params)
    expected = 2 * bench.steps_per_epoch(model.get_params(), n_rows)
    assert counted_steps(n_rows, max_epochs=2, **params) == expected


def test_clean_subset_within_the_floor_needs_no_scaling():
    # 1,000 rows against a 600-row clean subset: both epochs are 32 steps.
    assert bench.equal_step_params(RobustNetRegressor(), 1000, 600) == {}


def test_clean_subset_epochs_are_scaled_to_equal_steps():
    # One pass per epoch: 32 steps against 19, so 10 epochs become ceil(320 / 19).
    model = RobustNetRegressor(min_rows_per_epoch=0, max_epochs=10)
    scaled = bench.equal_step_params(model, 1000, 600)
    assert scaled == {"max_epochs": 17}
    steps = counted_steps(600, min_rows_per_epoch=0, max_epochs=17)
    assert 320 <= steps < 320 + 19
