"""The fitted skorch attributes at the top level, as on a skorch net: ``module_``,
``optimizer_`` and skorch's per-epoch ``history`` (``history_`` stays the package's
own record)."""

import json
import pickle

import numpy as np
import pytest
import torch
from conftest import FACTORIES, NET_NAMES
from skorch.history import History

NAMES = ("module_", "optimizer_", "history")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return X, X[:, 0] - X[:, 1]


def fit(name, data, **kw):
    # One pass of 3 batches of 20 rows per epoch: what each history entry holds.
    kw = {"max_epochs": 3, "min_rows_per_epoch": 0, "batch_size": 20, **kw}
    return FACTORIES[name](**kw).fit(*data)


@pytest.mark.parametrize("name", NET_NAMES)
def test_unfitted_has_none_of_them(name):
    model = FACTORIES[name]()
    for attribute in NAMES:
        assert not hasattr(model, attribute)
        with pytest.raises(AttributeError, match=f"{attribute!r} before fit"):
            getattr(model, attribute)


@pytest.mark.parametrize("name", NET_NAMES)
def test_they_are_the_inner_nets(name, data):
    model = fit(name, data)
    assert model.module_ is model.net_.module_
    assert model.optimizer_ is model.net_.optimizer_
    assert model.history is model.net_.history
    assert isinstance(model.optimizer_, torch.optim.Adam)
    # The optimizer holds the trained parameters and their Adam state.
    trained = {id(p) for p in model.module_.parameters()}
    assert {id(p) for g in model.optimizer_.param_groups for p in g["params"]} == (
        trained
    )
    assert all(
        model.optimizer_.state[p]["step"] == 9 for p in model.module_.parameters()
    )
    for attribute in NAMES:
        with pytest.raises(AttributeError):
            setattr(model, attribute, None)


@pytest.mark.parametrize("name", NET_NAMES)
def test_history_is_skorchs_per_epoch_record(name, data):
    model = fit(name, data)
    history = model.history
    assert isinstance(history, History)
    assert history[:, "epoch"] == [1, 2, 3]
    for epoch in history:
        sizes = [batch["train_batch_size"] for batch in epoch["batches"]]
        assert sizes == [20, 20, 20]
        # The epoch's loss is the size-weighted mean of its batches' (skorch's).
        losses = [batch["train_loss"] for batch in epoch["batches"]]
        assert epoch["train_loss"] == pytest.approx(np.mean(losses))
    # history_ is still the package's per-round record, a list of plain dicts.
    assert isinstance(model.history_, list)
    json.dumps(model.history_)
    if name == "DeepGUM":
        assert [r["epoch"] for r in model.history_] == [1, 2, 3]
        assert [r["train_loss"] for r in model.history_] == history[:, "train_loss"]


@pytest.mark.parametrize("name", NET_NAMES)
def test_pickling_and_save_params_are_unaffected(name, data, tmp_path):
    model = fit(name, data)
    restored = pickle.loads(pickle.dumps(model))
    assert not set(NAMES) & set(vars(restored))
    assert restored.history[:, "train_loss"] == model.history[:, "train_loss"]
    for p, q in zip(
        restored.module_.parameters(), model.module_.parameters(), strict=True
    ):
        assert torch.equal(p, q)

    model.save_params(tmp_path)
    document = json.loads((tmp_path / "estimator.json").read_text())
    assert not set(NAMES) & set(document["attributes"])
    loaded = type(model)(module__hidden_layer_sizes=(8,)).load_params(tmp_path)
    np.testing.assert_array_equal(
        loaded.module_(torch.ones(2, 3)).detach(),
        model.module_(torch.ones(2, 3)).detach(),
    )
    assert len(loaded.history) == 0  # skorch's History is not saved
    assert loaded.history_ == model.history_


@pytest.mark.parametrize("name", NET_NAMES)
def test_history_goes_on_when_a_fit_is_continued(name, data):
    # As on a skorch net: warm_start and partial_fit append epochs, numbered on.
    model = fit(name, data, warm_start=True)
    first = model.history[:, "train_loss"]
    model.fit(*data)
    assert model.history[:, "epoch"] == [1, 2, 3, 4, 5, 6]
    assert model.history[:3, "train_loss"] == first
    streamed = FACTORIES[name](batch_size=20)
    for _ in range(2):
        streamed.partial_fit(*data)
    assert streamed.history[:, "epoch"] == [1, 2]
