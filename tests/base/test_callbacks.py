"""Named callbacks and their parameters, skorch's way: ``callbacks=[(name, cb)]``
and ``callbacks__<name>__<param>`` as ordinary, grid-searchable parameters."""

import numpy as np
import pytest
import torch
from conftest import FACTORIES, NET_NAMES
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    GradientNormClipping,
    TrainEndCheckpoint,
)


class Record(Callback):
    """Records the value it holds when training begins."""

    def __init__(self, value=None):
        self.value = value

    def on_train_begin(self, net, **kwargs):
        self.seen_ = self.value


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    return X, X[:, 0] - X[:, 1]


def net_callback(model, name):
    """The callback the fitted net trained with."""
    return dict(model.net_.callbacks_)[name]


def seen(model, X, y):
    """A scorer: the value the 'rec' callback held during fit."""
    return net_callback(model, "rec").seen_


@pytest.mark.parametrize("name", NET_NAMES)
def test_grid_search_over_a_callback_parameter(name, data):
    model = FACTORIES[name](callbacks=[("rec", Record(0.0))], min_rows_per_epoch=0)
    grid = {"callbacks__rec__value": [1.0, 2.0, 3.0]}
    search = GridSearchCV(model, grid, cv=2, scoring=seen).fit(*data)
    # Each candidate's fits trained with its own value; the best is the largest.
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], [1, 2, 3])
    assert search.best_params_ == {"callbacks__rec__value": 3.0}
    assert net_callback(search.best_estimator_, "rec").seen_ == 3.0
    assert model.callbacks[0][1].value == 0.0  # the searched estimator's own


def test_set_params_reaches_the_nets_copy_only(data):
    clip = GradientNormClipping(gradient_clip_value=1.0)
    model = FACTORIES["RobustNet"](callbacks=[("clip", clip)])
    assert model.get_params()["callbacks__clip"] is clip
    assert model.get_params()["callbacks__clip__gradient_clip_value"] == 1.0
    model.set_params(callbacks__clip__gradient_clip_value=0.5)
    assert model.get_params()["callbacks__clip__gradient_clip_value"] == 0.5
    twin = clone(model)
    assert twin.callbacks[0][1] is not clip
    assert twin.get_params(deep=False)["callbacks__clip__gradient_clip_value"] == 0.5
    for fitted in (model.fit(*data), twin.fit(*data)):
        assert net_callback(fitted, "clip").gradient_clip_value == 0.5
    # Nothing the user passed is changed: the net trains on a copy.
    assert clip.gradient_clip_value == 1.0
    assert net_callback(model, "clip") is not clip


def test_unnamed_callbacks_get_skorchs_names(data):
    model = FACTORIES["RobustNet"](
        callbacks=[Record(1.0), GradientNormClipping(), GradientNormClipping]
    )
    params = model.get_params()
    assert params["callbacks__Record__value"] == 1.0
    assert "callbacks__GradientNormClipping_1__gradient_clip_value" in params
    model.set_params(
        callbacks__Record__value=4.0,
        callbacks__GradientNormClipping_2__gradient_clip_value=0.25,
    ).fit(*data)
    assert net_callback(model, "Record").seen_ == 4.0
    assert net_callback(model, "GradientNormClipping_2").gradient_clip_value == 0.25
    assert net_callback(model, "GradientNormClipping_1").gradient_clip_value is None


def test_a_callback_replaced_or_removed_by_name(data):
    model = FACTORIES["RobustNet"](callbacks=[("rec", Record(1.0))])
    replacement = Record(7.0)
    model.set_params(callbacks__rec=replacement).fit(*data)
    assert net_callback(model, "rec").seen_ == 7.0
    assert not hasattr(replacement, "seen_")  # the net trained with a copy
    model.set_params(callbacks__rec=None).fit(*data)
    assert "rec" not in dict(model.net_.callbacks_)


@pytest.mark.parametrize(
    "params, match",
    [
        (
            dict(callbacks=[("a", Record()), ("a", Record())]),
            "duplicate user-set callback name 'a'",
        ),
        (
            dict(callbacks=[("train_loss", Record())]),
            "duplicate user-set callback name 'train_loss'",
        ),
        (
            dict(callbacks=[Record()], callbacks__rec__value=1.0),
            r"callbacks__rec__value names no callback.*\['Record'\]",
        ),
        (
            dict(callbacks=None, callbacks__rec=Record()),
            r"callbacks__rec names no callback.*\[\]",
        ),
        (
            dict(callbacks=[("rec", Record())], callbacks__rec=EarlyStopping()),
            "EarlyStopping",
        ),
    ],
)
def test_bad_callback_names_are_refused_at_fit(params, match, data):
    model = FACTORIES["RobustNet"](**params)
    model.get_params()  # never raises
    with pytest.raises(ValueError, match=match):
        model.fit(*data)


class TrainingEvents(Callback):
    """Logs skorch's training events, and the weights the net holds when training
    ends."""

    def initialize(self):
        self.events = []
        return self

    def on_train_begin(self, net, X=None, **kwargs):
        self.events.append("begin")
        self.X_at_begin = X

    def on_epoch_end(self, net, **kwargs):
        self.events.append("epoch")

    def on_train_end(self, net, X=None, **kwargs):
        self.events.append("end")
        self.X_at_end = X
        self.weights_at_end = [p.detach().clone() for p in net.module_.parameters()]


@pytest.mark.parametrize("name", NET_NAMES)
@pytest.mark.parametrize("swa_start", [None, 0.5])
def test_a_fit_ends_training_as_skorch_does(name, swa_start, data):
    """skorch's ``fit`` notifies ``on_train_end`` once, after the last epoch: the
    hook where its logging callbacks close their writers and its checkpoints save.
    It sees the network that ``fit`` returns (weight averaging done)."""
    model = FACTORIES[name](
        callbacks=[("events", TrainingEvents())], swa_start=swa_start
    ).fit(*data)
    events = net_callback(model, "events")
    assert events.events == ["begin", *["epoch"] * model.n_iter_, "end"]
    # Both get the training rows, as skorch passes fit's X to both.
    assert events.X_at_end is events.X_at_begin
    assert len(events.X_at_begin) == len(data[0])
    for at_end, fitted in zip(
        events.weights_at_end, model.net_.module_.parameters(), strict=True
    ):
        np.testing.assert_array_equal(at_end.numpy(), fitted.detach().numpy())


@pytest.mark.parametrize("name", NET_NAMES)
def test_each_partial_fit_call_ends_training_as_skorch_does(name, data):
    """skorch's ``partial_fit`` notifies ``on_train_begin`` and ``on_train_end``
    around each call's epoch; the callbacks live on from call to call."""
    X, y = data
    model = FACTORIES[name](callbacks=[("events", TrainingEvents())])
    for calls, chunk in enumerate(np.array_split(np.arange(len(X)), 2), start=1):
        model.partial_fit(X[chunk], y[chunk])
        events = net_callback(model, "events").events
        assert events == ["begin", "epoch", "end"] * calls


@pytest.mark.parametrize("name", NET_NAMES)
def test_skorchs_train_end_checkpoint_saves_the_fitted_network(name, data, tmp_path):
    """skorch's ``TrainEndCheckpoint`` saves in ``on_train_end``: the file holds the
    weights of the network ``fit`` returns."""
    checkpoint = TrainEndCheckpoint(dirname=str(tmp_path))
    model = FACTORIES[name](callbacks=[("end", checkpoint)]).fit(*data)
    saved = torch.load(tmp_path / "train_end_params.pt")
    fitted = model.module_.state_dict()
    assert saved.keys() == fitted.keys()
    for key, value in fitted.items():
        np.testing.assert_array_equal(saved[key].numpy(), value.numpy())
