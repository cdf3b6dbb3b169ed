"""DeepGUMRegressor and RobustNetRegressor through their public API."""

import json
import pickle

import numpy as np
import pytest
import torch
from conftest import CountingNet, TinyNet, make_data
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import EarlyStopping, EpochScoring

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.backbones import ConvNet
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import make_contaminated_regression

FAST = dict(max_epochs=40, warm_up_epochs=10, epochs_per_round=5, random_state=0)


@pytest.fixture(scope="module")
def contaminated():
    X, y, mask = make_contaminated_regression(
        400, 3, outlier_rate=0.25, noise=0.1, random_state=0
    )
    return X, y, mask


@pytest.fixture(scope="module")
def fitted(contaminated):
    X, y, _ = contaminated
    return DeepGUMRegressor(**FAST).fit(X, y)


def test_finds_the_outliers_and_beats_l2(contaminated, fitted):
    X, y, mask = contaminated
    X_test, y_test, _ = make_contaminated_regression(
        1000, 3, outlier_rate=0.0, noise=0.0, random_state=1
    )
    assert roc_auc_score(mask, fitted.outlier_scores_) > 0.95
    l2 = RobustNetRegressor(max_epochs=40, random_state=0).fit(X, y)
    rmse_gum = np.sqrt(np.mean((fitted.predict(X_test) - y_test) ** 2))
    rmse_l2 = np.sqrt(np.mean((l2.predict(X_test) - y_test) ** 2))
    assert rmse_gum < rmse_l2
    assert fitted.mixture_.weights_[0] == pytest.approx(0.75, abs=0.06)


def test_outlier_scores_match_the_mixture_on_residuals(contaminated, fitted):
    X, y, _ = contaminated
    residuals = y - fitted.predict(X)
    np.testing.assert_allclose(
        fitted.mixture_.predict_proba(residuals)[:, 1],
        fitted.outlier_scores_,
        atol=1e-4,
    )
    np.testing.assert_allclose(
        fitted.score_outliers(X, y), fitted.outlier_scores_, atol=1e-4
    )
    np.testing.assert_array_equal(fitted.outliers_, fitted.outlier_scores_ > 0.5)
    np.testing.assert_array_equal(fitted.inlier_mask_, ~fitted.outliers_)
    np.testing.assert_array_equal(
        fitted.predict_outliers(X, y), fitted.score_outliers(X, y) > 0.5
    )


def test_fitted_attributes_and_history(fitted):
    assert fitted.n_iter_ == 40
    assert fitted.device_ == "cpu"
    assert fitted.outlier_scores_.shape == (400,)
    assert not hasattr(fitted, "group_outlier_scores_")
    json.dumps(fitted.history_)
    assert fitted.history_[-1]["epoch"] == 40
    y_pred, y_std = fitted.predict(np.zeros((2, 3)), return_std=True)
    assert y_std.shape == y_pred.shape
    assert np.all(y_std > 0)


def test_same_seed_same_predictions_and_global_rng_untouched(contaminated):
    X, y, _ = contaminated
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = DeepGUMRegressor(**FAST).fit(X, y).predict(X)
    assert torch.equal(torch.rand(3), expected_next)
    second = DeepGUMRegressor(**FAST).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)
    other = DeepGUMRegressor(**{**FAST, "random_state": 1}).fit(X, y).predict(X)
    assert not np.array_equal(first, other)


def test_pickle_and_clone(fitted, contaminated):
    X, _, _ = contaminated
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))
    fresh = clone(fitted)
    assert not hasattr(fresh, "net_")
    assert fresh.get_params() == fitted.get_params()


def test_pipeline_and_cross_val_score(contaminated):
    X, y, _ = contaminated
    pipe = make_pipeline(StandardScaler(), DeepGUMRegressor(**FAST))
    pipe.fit(X * 100 + 5, y)
    assert pipe.predict(X[:5] * 100 + 5).shape == (5,)
    scores = cross_val_score(
        RobustNetRegressor(max_epochs=5, random_state=0), X, y, cv=3
    )
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


def test_grid_search_over_lr_and_module_argument(contaminated):
    X, y, _ = contaminated
    search = GridSearchCV(
        DeepGUMRegressor(
            module=TinyNet,
            max_epochs=6,
            warm_up_epochs=2,
            epochs_per_round=2,
            random_state=0,
        ),
        {"lr": [1e-3, 1e-2], "module__hidden": [4, 16]},
        cv=2,
        n_jobs=2,
    )
    search.fit(X, y)
    assert set(search.best_params_) == {"lr", "module__hidden"}
    assert search.best_estimator_.module__hidden in (4, 16)
    hidden = search.best_estimator_.net_.module_.body[0].out_features
    assert hidden == search.best_estimator_.module__hidden


def test_module_instance_is_copied_not_trained_in_place(contaminated):
    X, y, _ = contaminated
    torch.manual_seed(0)
    net = TinyNet(3, 1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    model = DeepGUMRegressor(module=net, **FAST).fit(X, y)
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])
    assert model.net_.module_ is not net


def test_pandas_keeps_feature_names(contaminated):
    pd = pytest.importorskip("pandas")
    X, y, _ = contaminated
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = RobustNetRegressor(max_epochs=3, random_state=0).fit(frame, pd.Series(y))
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b", "c"])
    assert model.predict(frame).shape == (400,)


def test_multi_output_with_per_column_groups():
    X, y, _ = make_contaminated_regression(
        400, 3, n_targets=2, outlier_rate=0.0, noise=0.05, random_state=0
    )
    rng = np.random.default_rng(0)
    bad = rng.uniform(size=(400, 2)) < 0.2  # outputs corrupted independently
    y_bad = np.where(bad, rng.uniform(-6, 6, size=y.shape), y)
    model = DeepGUMRegressor(groups="each", **FAST).fit(X, y_bad)
    assert model.predict(X).shape == (400, 2)
    assert model.group_outlier_scores_.shape == (400, 2)
    assert model.group_outliers_.shape == (400, 2)
    for d in range(2):
        assert roc_auc_score(bad[:, d], model.group_outlier_scores_[:, d]) > 0.9
    row_inlier = np.prod(1 - model.group_outlier_scores_, axis=1)
    np.testing.assert_allclose(model.outlier_scores_, 1 - row_inlier, atol=1e-6)


def test_image_input_with_a_convnet():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 1, 8, 8)).astype(np.float32)
    y = np.stack([X[:, 0, :4].mean((1, 2)), X[:, 0, 4:].mean((1, 2))], axis=1)
    model = DeepGUMRegressor(
        module=ConvNet,
        module__channels=(4,),
        module__hidden=8,
        max_epochs=4,
        warm_up_epochs=2,
        epochs_per_round=1,
        batch_size=16,
        random_state=0,
    ).fit(X, y)
    assert model.input_shape_ == (1, 8, 8)
    assert model.predict(X).shape == (64, 2)
    with pytest.raises(ValueError, match="sample shape"):
        model.predict(X[:, :, :4, :4])


def test_rows_with_zero_weight_have_no_influence(contaminated):
    X, y, _ = contaminated
    y_broken = y.copy()
    y_broken[:100] = 1e3  # absurd targets, weighted out
    weights = np.ones(len(y))
    weights[:100] = 0.0
    for Model in (RobustNetRegressor, DeepGUMRegressor):
        model = Model(max_epochs=12, random_state=0)
        broken = model.fit(X, y_broken, sample_weight=weights).predict(X)
        intact = model.fit(X, y, sample_weight=weights).predict(X)
        np.testing.assert_allclose(broken, intact, rtol=1e-5, atol=1e-6)


def test_validation_fraction_early_stopping(contaminated):
    X, y, _ = contaminated
    model = DeepGUMRegressor(
        max_epochs=200,
        warm_up_epochs=5,
        epochs_per_round=5,
        validation_fraction=0.2,
        n_iter_no_change=2,
        random_state=0,
    ).fit(X, y)
    assert all("valid_nll" in record for record in model.history_)
    assert model.outlier_scores_.shape == (400,)
    l2 = RobustNetRegressor(
        max_epochs=200, validation_fraction=0.2, n_iter_no_change=2, random_state=0
    ).fit(X, y)
    assert l2.n_iter_ < 200


def test_skorch_callbacks_pass_through_but_early_stopping_is_rejected(contaminated):
    X, y, _ = contaminated
    scoring = EpochScoring(lambda net, X, y: 0.0, name="zero", on_train=True)
    model = DeepGUMRegressor(callbacks=[scoring], **FAST).fit(X, y)
    assert "zero" in model.net_.history[-1]
    with pytest.raises(ValueError, match="KeyboardInterrupt"):
        DeepGUMRegressor(callbacks=[EarlyStopping()], **FAST).fit(X, y)


def test_devices(contaminated):
    X, y, _ = contaminated
    model = RobustNetRegressor(max_epochs=2, device="auto", random_state=0).fit(X, y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert model.device_.startswith(expected)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            RobustNetRegressor(max_epochs=2, device="cuda").fit(X, y)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_matches_cpu_quality(contaminated):
    X, y, mask = contaminated
    model = DeepGUMRegressor(device="cuda", **FAST).fit(X, y)
    assert model.device_.startswith("cuda")
    assert roc_auc_score(mask, model.outlier_scores_) > 0.95
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict(X), model.predict(X), rtol=1e-5)


def test_bad_inputs_are_named(contaminated):
    X, y, _ = contaminated
    with pytest.raises(ValueError, match="n_samples=1"):
        DeepGUMRegressor().fit(X[:1], y[:1])
    with pytest.raises(TypeError, match="unexpected keyword"):
        DeepGUMRegressor(hidden=3).fit(X, y)
    with pytest.raises(ValueError, match=r"columns \[1\] are in no group"):
        DeepGUMRegressor(groups=[[0]], **FAST).fit(X, np.c_[y, y])


def test_inputs_not_modified(contaminated):
    X, y, _ = contaminated
    X32 = X.astype(np.float32)
    w = np.linspace(0.5, 1.5, len(y))
    copies = (X32.copy(), y.copy(), w.copy())
    DeepGUMRegressor(**{**FAST, "max_epochs": 12}).fit(X32, y, sample_weight=w)
    for before, after in zip(copies, (X32, y, w), strict=True):
        np.testing.assert_array_equal(before, after)


def test_without_a_hold_out_each_round_makes_one_pass_over_the_rows():
    # One EM round per residual pass: the scores of the returned network reuse its
    # last round's residuals instead of a second, identical pass.
    X, y = make_data(64)
    CountingNet.calls.update(train=0, eval=0)
    model = DeepGUMRegressor(
        module=CountingNet,
        max_epochs=5,
        warm_up_epochs=2,
        epochs_per_round=1,
        batch_size=1024,
        random_state=0,
    ).fit(X, y)
    assert CountingNet.calls["eval"] == len(model.history_) == 4


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("groups", [None, "each"])
def test_mixture_follows_the_targets_units(covariance_type, groups):
    # Scaling each target column by a power of two is exact in floating point, and
    # so is the robust target scaling: the network trains on the same numbers, and
    # mixture_ must be the same law in the new units (closed form: means and box
    # times c, covariances times c_i c_j, log densities and bounds minus sum log c).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3)).astype(np.float32)
    y = np.stack([X @ [1.0, -1.0, 0.5], X @ [0.5, 2.0, -1.0]], axis=1)
    y[:8] += rng.uniform(-6, 6, size=(8, 2))
    c = np.array([0.5, 4.0])
    params = dict(
        max_epochs=4,
        warm_up_epochs=2,
        covariance_type=covariance_type,
        groups=groups,
        random_state=0,
    )
    unit = DeepGUMRegressor(**params).fit(X, y).mixture_
    scaled = DeepGUMRegressor(**params).fit(X, y * c).mixture_
    assert scaled.n_features_in_ == 2
    assert scaled.get_params()["groups"] == groups
    column_groups = [np.asarray(g) for g in unit.groups_]
    # A spherical group with unequal scales comes back per column ('diag').
    assert unit.covariance_type == (
        "diag" if covariance_type == "spherical" else covariance_type
    )
    assert np.allclose(scaled.weights_, unit.weights_, rtol=1e-12, atol=0)
    unit_cov = unit.covariances_ if groups else [unit.covariances_]
    scaled_cov = scaled.covariances_ if groups else [scaled.covariances_]
    unit_means = unit.means_ if groups else [unit.means_]
    scaled_means = scaled.means_ if groups else [scaled.means_]
    for cols, a, b, ma, mb in zip(
        column_groups, unit_cov, scaled_cov, unit_means, scaled_means, strict=True
    ):
        a, b = np.asarray(a), np.asarray(b)
        factor = np.outer(c[cols], c[cols]) if a.ndim == 2 else c[cols] ** 2
        assert np.allclose(b, a * factor, rtol=1e-12, atol=0)
        assert np.allclose(mb, np.asarray(ma) * c[cols], rtol=1e-12, atol=1e-300)
    # precisions_ and precisions_cholesky_ in target units too: the inverse of the
    # covariances, S^-1 P S^-1, and sklearn's factor U = L^-T becomes S^-1 U.
    for mixture in (unit, scaled):
        covs = mixture.covariances_ if groups else [mixture.covariances_]
        precisions = mixture.precisions_ if groups else [mixture.precisions_]
        for cov, precision in zip(covs, precisions, strict=True):
            inverse = np.linalg.inv(cov) if np.ndim(cov) == 2 else 1.0 / cov
            assert np.allclose(precision, inverse, rtol=1e-10, atol=0)
    unit_chol = unit.precisions_cholesky_ if groups else [unit.precisions_cholesky_]
    scaled_chol = (
        scaled.precisions_cholesky_ if groups else [scaled.precisions_cholesky_]
    )
    for cols, a, b in zip(column_groups, unit_chol, scaled_chol, strict=True):
        a, b = np.asarray(a), np.asarray(b)
        rows = c[cols][:, None] if a.ndim == 2 else c[cols]
        assert np.allclose(b, a / rows, rtol=1e-12, atol=0)
    assert np.allclose(
        scaled.uniform_bounds_, unit.uniform_bounds_ * c[:, None], rtol=1e-12, atol=0
    )
    shift = np.array([np.log(c[cols]).sum() for cols in column_groups])
    expected = np.asarray(unit.uniform_log_density_) - (shift if groups else shift[0])
    assert np.allclose(scaled.uniform_log_density_, expected, rtol=1e-12, atol=0)
    assert np.allclose(
        scaled.lower_bounds_,
        np.asarray(unit.lower_bounds_) - np.log(c).sum(),
        rtol=1e-12,
        atol=0,
    )
    assert scaled.n_iter_ == unit.n_iter_ and scaled.converged_ == unit.converged_
