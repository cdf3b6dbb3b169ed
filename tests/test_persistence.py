"""Persistence: pickle, joblib, weights-only save_params/load_params, CUDA → CPU."""

import io
import json
import pickle

import joblib
import numpy as np
import pytest
import torch
from conftest import TinyNet, deepgum, robustnet
from sklearn.exceptions import NotFittedError
from skorch.exceptions import DeviceWarning

from sk_deepgum import DeepGUMRegressor, GaussianUniformMixture
from sk_deepgum.backbones import ConvNet
from sk_deepgum.baselines import RobustNetRegressor


def make_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=n)
    y[:8] = rng.uniform(-5, 5, size=8)
    return X, y


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def fitted_pair(data):
    """DeepGUM with per-output groups, fitted on a DataFrame; and a RobustNet."""
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    Y = np.c_[y, 2 * y]
    gum = deepgum(groups="each", outlier_threshold=0.4).fit(frame, Y)
    l2 = robustnet().fit(X, y)
    return frame, Y, gum, l2


def assert_same_model(restored, original, X, y=None):
    np.testing.assert_array_equal(restored.predict(X), original.predict(X))
    assert restored.get_params() == original.get_params()
    for name in ("n_features_in_", "input_shape_", "n_outputs_", "n_iter_"):
        assert getattr(restored, name) == getattr(original, name)
    for name in ("target_centre_", "target_scale_"):
        np.testing.assert_array_equal(getattr(restored, name), getattr(original, name))
    assert restored.history_ == original.history_
    if hasattr(original, "feature_names_in_"):
        np.testing.assert_array_equal(
            restored.feature_names_in_, original.feature_names_in_
        )
    if isinstance(original, DeepGUMRegressor):
        for name in ("outlier_scores_", "outliers_", "inlier_mask_"):
            np.testing.assert_array_equal(
                getattr(restored, name), getattr(original, name)
            )
        np.testing.assert_array_equal(
            restored.score_outliers(X, y), original.score_outliers(X, y)
        )
        residuals = y - original.predict(X)
        np.testing.assert_array_equal(
            restored.mixture_.predict_proba(residuals),
            original.mixture_.predict_proba(residuals),
        )


# ---------------------------------------------------------------------------
# pickle and joblib


def _joblib_round_trip(obj):
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


@pytest.mark.parametrize(
    "round_trip", [lambda m: pickle.loads(pickle.dumps(m)), _joblib_round_trip]
)
def test_pickle_and_joblib_round_trips(fitted_pair, round_trip):
    frame, Y, gum, l2 = fitted_pair
    assert_same_model(round_trip(gum), gum, frame, Y)
    assert_same_model(round_trip(l2), l2, frame.to_numpy(), Y[:, 0])
    mixture = GaussianUniformMixture().fit(Y - gum.predict(frame))
    restored = round_trip(mixture)
    np.testing.assert_array_equal(restored.predict_proba(Y), mixture.predict_proba(Y))


# ---------------------------------------------------------------------------
# save_params / load_params


def test_save_params_writes_weights_only_files(fitted_pair, tmp_path):
    _, _, gum, _ = fitted_pair
    gum.save_params(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "estimator.json",
        "module.pt",
    ]
    # Tensors only: loads with the safe unpickler.
    state = torch.load(tmp_path / "model" / "module.pt", weights_only=True)
    assert state.keys() == gum.net_.module_.state_dict().keys()
    document = json.loads((tmp_path / "model" / "estimator.json").read_text())
    assert document["estimator"] == "DeepGUMRegressor"
    assert document["module_class"] == "sk_deepgum.backbones.MLP"
    assert {"module", "optimizer"} <= set(document["unsaved_params"])
    assert "mixture_" in document["attributes"]
    assert "net_" not in document["attributes"]


@pytest.mark.parametrize("which", ["DeepGUM", "RobustNet"])
def test_load_params_restores_identical_predictions(fitted_pair, tmp_path, which):
    frame, Y, gum, l2 = fitted_pair
    original = gum if which == "DeepGUM" else l2
    X, y = (frame, Y) if which == "DeepGUM" else (frame.to_numpy(), Y[:, 0])
    original.save_params(tmp_path)
    # The JSON-able parameters come from the file, module__* ones included: those the
    # new estimator was built with are replaced, not merged.
    restored = type(original)(
        module__activation="tanh",
        module__hidden_layer_sizes=(3,),
        lr=0.5,
        optimizer__weight_decay=0.5,
    ).load_params(tmp_path)
    assert restored.optimizer__weight_decay == original.optimizer__weight_decay
    assert_same_model(restored, original, X, y)
    assert restored.device_ == "cpu"
    if which == "DeepGUM":
        assert restored.mixture_.groups == "each"
        for name in ("weights_", "uniform_bounds_", "uniform_log_density_"):
            np.testing.assert_array_equal(
                getattr(restored.mixture_, name), getattr(gum.mixture_, name)
            )
        # Lists of per-group arrays (groups='each'), restored array by array.
        for name in ("covariances_", "precisions_", "precisions_cholesky_"):
            saved, loaded = (
                getattr(gum.mixture_, name),
                getattr(restored.mixture_, name),
            )
            assert isinstance(loaded, list) and len(loaded) == len(saved)
            for a, b in zip(loaded, saved, strict=True):
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(
            restored.group_outlier_scores_, gum.group_outlier_scores_
        )


def test_load_params_with_a_module_instance_and_images(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(32, 1, 8, 8)).astype(np.float32)
    y = X[:, 0, :4].mean((1, 2))
    model = DeepGUMRegressor(
        module=ConvNet(input_shape=(1, 8, 8), n_outputs=1, channels=(4,), hidden=8),
        max_epochs=2,
        warm_up_epochs=1,
        batch_size=16,
        random_state=0,
    ).fit(X, y)
    model.save_params(tmp_path)
    # A fresh instance of the same architecture (other random weights, other BatchNorm
    # statistics) becomes the saved model.
    fresh = ConvNet(input_shape=(1, 8, 8), n_outputs=1, channels=(4,), hidden=8)
    restored = DeepGUMRegressor(module=fresh).load_params(tmp_path)
    assert restored.input_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    np.testing.assert_array_equal(
        restored.score_outliers(X, y), model.score_outliers(X, y)
    )


def test_load_params_rejects_a_mismatched_module(data, tmp_path):
    X, y = data
    deepgum(module=TinyNet, module__hidden=4).fit(X, y).save_params(tmp_path / "t")
    deepgum().fit(X, y).save_params(tmp_path / "mlp")
    with pytest.raises(ValueError, match="TinyNet backbone but this estimator builds"):
        DeepGUMRegressor().load_params(tmp_path / "t")
    with pytest.raises(ValueError, match="MLP backbone but this estimator builds"):
        DeepGUMRegressor(module=TinyNet).load_params(tmp_path / "mlp")
    deepgum(module=TinyNet(3, 1, hidden=4)).fit(X, y).save_params(tmp_path / "inst")
    with pytest.raises(ValueError, match=r"(?s)do not fit the TinyNet.*size mismatch"):
        DeepGUMRegressor(module=TinyNet(3, 1, hidden=6)).load_params(tmp_path / "inst")
    with pytest.raises(ValueError, match="holds a DeepGUMRegressor"):
        RobustNetRegressor().load_params(tmp_path / "t")
    with pytest.raises(FileNotFoundError, match="estimator.json not found"):
        DeepGUMRegressor().load_params(tmp_path / "missing")
    with pytest.raises(NotFittedError):
        DeepGUMRegressor().save_params(tmp_path / "unfitted")


def test_failed_load_leaves_the_estimator_unchanged(data, tmp_path):
    X, y = data
    deepgum().fit(X, y).save_params(tmp_path)
    model = deepgum(module=TinyNet, module__hidden=4).fit(X, y)
    before = model.predict(X)
    params = model.get_params()
    with pytest.raises(ValueError, match="MLP backbone"):
        model.load_params(tmp_path)
    assert model.get_params() == params
    np.testing.assert_array_equal(model.predict(X), before)


def test_load_params_puts_the_model_on_its_own_device(fitted_pair, tmp_path):
    frame, Y, gum, _ = fitted_pair
    gum.save_params(tmp_path)
    document = json.loads((tmp_path / "estimator.json").read_text())
    document["params"]["device"] = "cuda"  # as saved by a model trained on CUDA
    document["attributes"]["device_"] = "cuda"
    (tmp_path / "estimator.json").write_text(json.dumps(document))
    restored = DeepGUMRegressor(device="cpu").load_params(tmp_path)
    assert restored.device == "cpu" and restored.device_ == "cpu"
    np.testing.assert_array_equal(restored.predict(frame), gum.predict(frame))


# ---------------------------------------------------------------------------
# A model fitted on CUDA, unpickled where there is none


def test_cuda_pickle_unpickles_on_cpu_simulated(fitted_pair, monkeypatch):
    frame, Y, gum, _ = fitted_pair
    # What a CUDA fit leaves behind, as far as the pickled state is concerned; the
    # tensors themselves are on the CPU here.
    claims_cuda = pickle.loads(pickle.dumps(gum))
    claims_cuda.device_ = "cuda"
    claims_cuda.net_.device = "cuda"
    payload = pickle.dumps(claims_cuda)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning):
        restored = pickle.loads(payload)
    assert restored.device_ == "cpu"
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_array_equal(restored.predict(frame), gum.predict(frame))
    np.testing.assert_array_equal(
        restored.score_outliers(frame, Y), gum.score_outliers(frame, Y)
    )


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_unpickles_and_loads_on_cpu(data, tmp_path, monkeypatch):
    X, y = data
    model = deepgum(device="cuda").fit(X, y)
    assert model.device_.startswith("cuda")
    payload = pickle.dumps(model)
    model.save_params(tmp_path)
    expected = model.predict(X)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning):
        restored = pickle.loads(payload)
    assert restored.device_ == "cpu"
    assert next(restored.net_.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(restored.predict(X), expected, rtol=1e-5, atol=1e-6)
    loaded = DeepGUMRegressor().load_params(tmp_path)
    assert loaded.device_ == "cpu"
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-5, atol=1e-6)
