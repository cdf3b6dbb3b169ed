"""The swa_start parameter (stochastic weight averaging) of the network estimators."""

import numpy as np
import pytest
import torch
from conftest import BatchNormNet
from skorch.callbacks import Callback

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import make_contaminated_regression

ESTIMATORS = [DeepGUMRegressor, RobustNetRegressor]


class RecordWeights(Callback):
    """Keeps a copy of the backbone's state after every epoch."""

    def initialize(self):
        self.states = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.states.append(
            {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
        )


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_contaminated_regression(80, 3, outlier_rate=0.2, random_state=0)
    return X, y


def fit_recording(Estimator, data, **params):
    recorder = RecordWeights()
    model = Estimator(
        callbacks=[("record", recorder)], random_state=0, batch_size=16, **params
    ).fit(*data)
    # The net holds a (deep) copy of the callback.
    return model, dict(model.net_.callbacks_)["record"].states


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("module", [None, BatchNormNet])
def test_final_weights_are_the_mean_of_the_last_epochs(Estimator, module, data):
    model, states = fit_recording(
        Estimator, data, module=module, max_epochs=8, swa_start=0.5
    )
    assert len(states) == 8
    final = model.net_.module_.state_dict()
    for name, value in final.items():
        if not value.is_floating_point():
            continue
        expected = torch.stack([s[name] for s in states[4:]]).mean(0)
        torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6)
        # ... and not simply the last epoch's weights.
        assert not torch.equal(value, states[-1][name])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_none_keeps_the_last_epochs_weights(Estimator, data):
    model, states = fit_recording(Estimator, data, max_epochs=5, swa_start=None)
    for name, value in model.net_.module_.state_dict().items():
        torch.testing.assert_close(value, states[-1][name], rtol=0, atol=1e-30)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_averaging_window_rounds_down(Estimator, data):
    # floor(0.75 * 6) = 4: epochs 5 and 6 are averaged.
    model, states = fit_recording(Estimator, data, max_epochs=6, swa_start=0.75)
    for name, weight in model.net_.module_.state_dict().items():
        expected = (states[4][name] + states[5][name]) / 2
        torch.testing.assert_close(weight, expected, rtol=1e-5, atol=1e-6)


def test_scores_describe_the_averaged_network(data):
    X, y = data
    model = DeepGUMRegressor(max_epochs=8, swa_start=0.5, random_state=0).fit(X, y)
    expected = model.mixture_.predict_proba(y - model.predict(X))[:, 1]
    np.testing.assert_allclose(model.outlier_scores_, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_early_stop_keeps_the_restored_best_weights(Estimator, data):
    # Averaging from the first epoch, but patience 1 with a hold-out stops long
    # before max_epochs: the best epoch's own weights come back, not an average.
    model, states = fit_recording(
        Estimator,
        data,
        max_epochs=200,
        swa_start=0.0,
        validation_fraction=0.25,
        n_iter_no_change=1,
    )
    assert model.n_iter_ < 200
    final = model.net_.module_.state_dict()
    assert any(
        all(torch.equal(final[name], state[name]) for name in final) for state in states
    )


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, "late"])
def test_bad_swa_start_is_refused(Estimator, value, data):
    with pytest.raises((ValueError, TypeError), match="swa_start"):
        Estimator(swa_start=value, max_epochs=2).fit(*data)
