"""``min_rows_per_epoch``: the optimiser-step budget does not shrink with the data.

Every batch a fit trains on is recorded through a skorch callback (the public
``callbacks`` parameter), and the counts are checked against the closed forms:
``ceil(max(n, m) / batch_size)`` batches per epoch, each row seen
``floor(m / n)`` or ``ceil(m / n)`` times in a cycled epoch.
"""

import math

import numpy as np
import pytest
import torch
from conftest import table
from skorch.callbacks import Callback

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor


class BatchRecorder(Callback):
    """The row positions of every training batch, grouped by epoch."""

    def initialize(self):
        self.epochs = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.epochs.append([])

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.epochs[-1].append(batch[0]["index"].cpu().numpy().copy())


def recorded_epochs(estimator_class, n_rows, **params):
    params = {"max_epochs": 3, "random_state": 0, **params}
    model = estimator_class(callbacks=[("record", BatchRecorder())], **params)
    return recorded(model.fit(*table(n_rows)))


def recorded(model):
    # fit trains a copy of the callbacks: read the fitted net's.
    return dict(model.net_.callbacks_)["record"].epochs


@pytest.mark.parametrize("estimator_class", [RobustNetRegressor, DeepGUMRegressor])
@pytest.mark.parametrize(
    ("n_rows", "floor", "batch_size"),
    [(20, 1000, 32), (70, 1000, 32), (70, 300, 16), (1500, 1000, 32), (20, 0, 32)],
)
def test_batches_per_epoch(estimator_class, n_rows, floor, batch_size):
    epochs = recorded_epochs(
        estimator_class, n_rows, min_rows_per_epoch=floor, batch_size=batch_size
    )
    assert len(epochs) == 3
    expected = math.ceil(max(n_rows, floor) / batch_size)
    assert [len(batches) for batches in epochs] == [expected] * 3


@pytest.mark.parametrize(("n_rows", "floor"), [(70, 1000), (300, 1000), (90, 450)])
def test_a_cycled_epoch_sees_every_row_evenly_in_fresh_shuffles(n_rows, floor):
    epochs = recorded_epochs(RobustNetRegressor, n_rows, min_rows_per_epoch=floor)
    for batches in epochs:
        visits = np.concatenate(batches)
        assert len(visits) == floor
        counts = np.bincount(visits, minlength=n_rows)
        assert set(counts) <= {floor // n_rows, math.ceil(floor / n_rows)}
        # Whole passes are permutations of the rows, each in a fresh order.
        passes = visits[: (floor // n_rows) * n_rows].reshape(-1, n_rows)
        for one_pass in passes:
            assert sorted(one_pass) == list(range(n_rows))
        assert len({tuple(p) for p in passes}) == len(passes)


@pytest.mark.parametrize(("n_rows", "floor"), [(20, 1000), (70, 1000), (1500, 1000)])
def test_the_batch_order_depends_on_random_state_not_on_the_backbone(n_rows, floor):
    """Batches are drawn from the fit's own generator, seeded by random_state:
    backbones that draw different numbers of initial weights (from torch's global
    generator) still train on the same batches, whole-set, cycled or one-pass."""
    orders = [
        recorded_epochs(
            RobustNetRegressor,
            n_rows,
            min_rows_per_epoch=floor,
            module__hidden_layer_sizes=hidden,
        )
        for hidden in [(64, 64), (8,)]
    ]
    for wide, narrow in zip(*orders, strict=True):
        for a, b in zip(wide, narrow, strict=True):
            np.testing.assert_array_equal(a, b)
    # The orders are shuffles, not the identity.
    assert any(not np.array_equal(b, np.sort(b)) for b in orders[0][0])


@pytest.mark.parametrize("n_rows", [20, 32])
def test_a_set_within_one_batch_trains_full_batch_steps(n_rows):
    # Batches of 32: every one of the 32 steps of an epoch uses all rows (not a
    # batch of 32 with 12 of 20 rows twice, nor batches of 31-32 rows straddling two
    # shuffles of a 32-row set).
    epochs = recorded_epochs(RobustNetRegressor, n_rows, min_rows_per_epoch=1000)
    for batches in epochs:
        assert len(batches) == 32
        for index in batches:
            assert sorted(index) == list(range(n_rows))


def test_without_a_floor_an_epoch_is_one_pass():
    epochs = recorded_epochs(RobustNetRegressor, 70, min_rows_per_epoch=0)
    for batches in epochs:
        assert sorted(np.concatenate(batches)) == list(range(70))


def test_the_floor_leaves_the_hold_out_and_predictions_alone():
    # A hold-out of 20 % of 100 rows: 80 training rows are cycled, the 20 held-out
    # rows are never trained on.
    X, y = table(100)
    model = RobustNetRegressor(
        callbacks=[("record", BatchRecorder())],
        validation_fraction=0.2,
        n_iter_no_change=50,
        max_epochs=2,
        random_state=0,
    ).fit(X, y)
    for batches in recorded(model):
        visits = np.concatenate(batches)
        assert len(visits) == 1000
        assert len(np.unique(visits)) == 80
    assert model.predict(X).shape == (100,)


@pytest.mark.parametrize("estimator_class", [RobustNetRegressor, DeepGUMRegressor])
@pytest.mark.parametrize("bad", [-1, 1.5, "1000"])
def test_min_rows_per_epoch_is_validated(estimator_class, bad):
    with pytest.raises((ValueError, TypeError), match="min_rows_per_epoch"):
        estimator_class(min_rows_per_epoch=bad).fit(*table(20))


# -- batch_size='auto': an epoch stays 32 steps as the data grow ----------------------


@pytest.mark.parametrize("estimator_class", [RobustNetRegressor, DeepGUMRegressor])
@pytest.mark.parametrize("n_rows", [20, 1000, 1024, 1025, 3000, 9001])
def test_auto_batch_size_gives_32_steps_per_epoch_at_every_size(
    estimator_class, n_rows
):
    """Whatever n, an epoch is 32 optimiser steps (below 1,024 rows through 32-row
    batches and the 1,000-row floor, above through batches of about n / 32), and a
    set larger than the floor is one pass: every row exactly once."""
    model = estimator_class(
        callbacks=[("record", BatchRecorder())], max_epochs=2, random_state=0
    ).fit(*table(n_rows))
    epochs = recorded(model)
    assert [len(batches) for batches in epochs] == [32, 32]
    assert model.batch_size_ == max(32, math.ceil(n_rows / 32))
    if n_rows >= 1000:
        for batches in epochs:
            assert sorted(np.concatenate(batches)) == list(range(n_rows))
            assert max(len(b) for b in batches) <= model.batch_size_


def test_auto_batch_size_is_capped_at_4096_rows():
    """Past 131,072 rows the batch stops growing and an epoch has more steps."""
    n_rows = 140_000
    model = RobustNetRegressor(
        callbacks=[("record", BatchRecorder())], max_epochs=1, random_state=0
    ).fit(*table(n_rows))
    assert model.batch_size_ == 4096
    assert len(recorded(model)[0]) == math.ceil(n_rows / 4096)


def test_auto_batch_size_is_32_for_a_dataset_input():
    """A torch Dataset (read batch by batch, e.g. images) keeps 32-row batches: a
    batch that grew with the data could exhaust the device's memory."""
    X, y = table(2000)
    dataset = torch.utils.data.TensorDataset(
        torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y).float()
    )
    model = RobustNetRegressor(
        callbacks=[("record", BatchRecorder())], max_epochs=1, random_state=0
    ).fit(dataset)
    assert model.batch_size_ == 32
    assert len(recorded(model)[0]) == math.ceil(2000 / 32)


def test_an_integer_batch_size_is_used_as_given():
    model = RobustNetRegressor(batch_size=500, max_epochs=1, random_state=0)
    assert model.fit(*table(3000)).batch_size_ == 500
