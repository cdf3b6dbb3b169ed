"""A torch Dataset of (x, y) pairs as X for the network estimators (issue 7): the
Dataset input of _data.py, through the estimators."""

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, IterableDataset

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.backbones import ConvNet
from sk_deepgum.baselines import RobustNetRegressor

QUICK = dict(max_epochs=3, warm_up_epochs=1, batch_size=16, random_state=0)


class PairDataset(Dataset):
    """In-memory (x, y) pairs, the Dataset twin of the arrays ``X``, ``y``."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


class LazyDataset(Dataset):
    """Generates each x from its index on request and counts the requests."""

    def __init__(self, n, n_features=3):
        self.n, self.n_features = n, n_features
        self.calls = np.zeros(n, dtype=int)

    def x(self, i):
        return np.random.default_rng(i).normal(size=self.n_features)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.calls[i] += 1
        x = self.x(i)
        y = x[0] - x[1] + (4.0 if i % 10 == 0 else 0.0)  # every 10th target wrong
        return torch.as_tensor(x, dtype=torch.float32), float(y)


class ListDataset(Dataset):
    """Items given verbatim (for malformed data)."""

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


class Stream(IterableDataset):
    def __iter__(self):
        yield np.zeros(2), 0.0


@pytest.fixture(scope="module")
def tabular():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    y = np.c_[X[:, 0] - X[:, 1], X[:, 2]]
    y[:9] += 5.0
    return X, y


def test_dataset_fit_equals_array_fit(tabular):
    X, y = tabular
    params = dict(QUICK, validation_fraction=0.2)
    on_arrays = DeepGUMRegressor(**params).fit(X, y)
    on_dataset = DeepGUMRegressor(**params).fit(PairDataset(X, y))
    np.testing.assert_array_equal(on_dataset.predict(X), on_arrays.predict(X))
    np.testing.assert_array_equal(on_dataset.outlier_scores_, on_arrays.outlier_scores_)
    np.testing.assert_array_equal(on_dataset.target_scale_, on_arrays.target_scale_)
    np.testing.assert_array_equal(
        on_dataset.mixture_.covariances_, on_arrays.mixture_.covariances_
    )
    assert on_dataset.n_features_in_ == 3
    assert on_dataset.input_shape_ == (3,)
    assert on_dataset.n_iter_ == on_arrays.n_iter_


def test_predict_on_a_dataset_ignores_its_targets(tabular):
    X, y = tabular
    model = DeepGUMRegressor(**QUICK).fit(PairDataset(X, y))
    garbage = np.full_like(y, np.nan)  # y of a predict Dataset is never read
    np.testing.assert_array_equal(
        model.predict(PairDataset(X, garbage)), model.predict(X)
    )
    assert model.predict(PairDataset(X, garbage)).shape == (90, 2)


def test_baseline_dataset_fit_equals_array_fit_with_sample_weight(tabular):
    X, y = tabular
    weight = np.linspace(0.5, 1.5, len(X))
    params = dict(loss="huber", max_epochs=2, batch_size=16, random_state=0)
    on_arrays = RobustNetRegressor(**params).fit(X, y[:, 0], sample_weight=weight)
    on_dataset = RobustNetRegressor(**params).fit(
        PairDataset(X, y[:, 0]), sample_weight=weight
    )
    np.testing.assert_array_equal(on_dataset.predict(X), on_arrays.predict(X))
    assert on_dataset.predict(X).shape == (90,)  # scalar y -> 1-D predictions


def test_one_element_targets_give_2d_predictions(tabular):
    X, y = tabular
    model = RobustNetRegressor(max_epochs=1, random_state=0)
    model.fit(PairDataset(X, y[:, :1]))
    assert model.predict(X).shape == (90, 1)


def test_image_dataset_with_convnet():
    rng = np.random.default_rng(1)
    images = torch.as_tensor(rng.normal(size=(64, 1, 8, 8)), dtype=torch.float32)
    y = images.mean(dim=(1, 2, 3)) * 10
    y[:6] = 3.0  # wrong targets
    params = dict(
        QUICK, module=ConvNet, module__channels=(4,), module__hidden=8, max_epochs=2
    )
    on_dataset = DeepGUMRegressor(**params).fit(PairDataset(images, y))
    on_arrays = DeepGUMRegressor(**params).fit(images.numpy(), y.numpy())
    assert on_dataset.input_shape_ == (1, 8, 8)
    assert on_dataset.n_features_in_ == 1
    pred = on_dataset.predict(PairDataset(images, y))
    assert pred.shape == (64,)
    np.testing.assert_array_equal(pred, on_arrays.predict(images.numpy()))
    np.testing.assert_array_equal(on_dataset.outlier_scores_, on_arrays.outlier_scores_)


def test_inputs_are_loaded_lazily_every_epoch():
    n, epochs = 80, 3
    data = LazyDataset(n)
    model = DeepGUMRegressor(**dict(QUICK, max_epochs=epochs)).fit(data)
    # Materialised inputs would be read twice at most (pre-pass + one copy); lazy
    # ones are read again by every epoch and every residual pass.
    assert data.calls.min() >= 1 + epochs + 1
    X = np.stack([data.x(i) for i in range(n)])
    calls = data.calls.copy()
    np.testing.assert_array_equal(model.predict(data), model.predict(X))
    # predict: one pass (sample 0 is also read up front for its shape)
    np.testing.assert_array_equal((data.calls - calls)[1:], 1)
    outliers = np.arange(n) % 10 == 0
    assert model.outlier_scores_.shape == (n,)
    assert (
        model.outlier_scores_[outliers].mean() > model.outlier_scores_[~outliers].mean()
    )


def test_same_seed_same_result_on_a_dataset():
    first = DeepGUMRegressor(**QUICK).fit(LazyDataset(60))
    second = DeepGUMRegressor(**QUICK).fit(LazyDataset(60))
    X = np.random.default_rng(5).normal(size=(7, 3))
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    np.testing.assert_array_equal(first.outlier_scores_, second.outlier_scores_)


def test_score_outliers_on_a_dataset(tabular):
    X, y = tabular
    model = DeepGUMRegressor(**QUICK).fit(X, y)
    np.testing.assert_array_equal(
        model.score_outliers(PairDataset(X, y)), model.score_outliers(X, y)
    )
    np.testing.assert_array_equal(
        model.predict_outliers(PairDataset(X, y)), model.predict_outliers(X, y)
    )
    with pytest.raises(TypeError, match="y must be None"):
        model.score_outliers(PairDataset(X, y), y)
    with pytest.raises(ValueError, match="y is required"):
        model.score_outliers(X)


@pytest.mark.parametrize("Estimator", [DeepGUMRegressor, RobustNetRegressor])
def test_dataset_with_y_is_a_type_error(Estimator, tabular):
    X, y = tabular
    with pytest.raises(TypeError, match="y must be None when X is a torch Dataset"):
        Estimator(max_epochs=1).fit(PairDataset(X, y), y)


@pytest.mark.parametrize(
    "items, error, match",
    [
        ([], ValueError, "has 0"),
        ([(np.zeros(2), 0.0)], ValueError, "at least 2"),
        ([np.zeros(2), np.ones(2)], TypeError, r"\(x, y\) pairs; item 0 is a ndarray"),
        ([(np.zeros(2), 0.0, 1)] * 3, TypeError, "item 0 is a tuple of length 3"),
        ([(np.zeros(2), 0.0), (np.zeros(3), 1.0)], ValueError, "Inconsistent input"),
        ([(np.zeros(2), 0.0), (np.zeros(2), [1.0, 2])], ValueError, "Inconsistent t"),
        ([(np.zeros(2), [[0.0]])] * 2, ValueError, "must be a number or a 1-D"),
        ([(0.0, 0.0), (1.0, 1.0)], ValueError, "at least one dimension"),
        ([(np.array(["a", "b"]), 0.0)] * 2, TypeError, "x of sample 0 must be num"),
        ([(np.zeros(2), "high")] * 2, TypeError, "y of sample 0 must be numeric"),
        ([(np.zeros(2), 0.0), (np.zeros(2), np.nan)], ValueError, "y of sample 1"),
        ([(np.zeros(2), 0.0), (np.full(2, np.inf), 1.0)], ValueError, "x of sample 1"),
    ],
)
def test_malformed_datasets_are_rejected(items, error, match):
    with pytest.raises(error, match=match):
        DeepGUMRegressor(max_epochs=1).fit(ListDataset(items))


def test_iterable_dataset_is_a_type_error():
    with pytest.raises(TypeError, match="IterableDataset"):
        RobustNetRegressor(max_epochs=1).fit(Stream())


def test_predict_checks_the_dataset_shape(tabular):
    X, y = tabular
    model = RobustNetRegressor(max_epochs=1, random_state=0).fit(PairDataset(X, y))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        model.predict(PairDataset(X[:, :2], y))
    with pytest.raises(ValueError, match="empty"):
        model.predict(ListDataset([]))
    with pytest.raises(ValueError, match="Sample 3 of the Dataset has x of shape"):
        model.predict(ListDataset([(np.zeros(3), 0.0)] * 3 + [(np.zeros(4), 0.0)]))


def test_a_failed_dataset_fit_keeps_the_previous_model(tabular):
    X, y = tabular
    model = RobustNetRegressor(max_epochs=1, random_state=0).fit(X, y)
    before = model.predict(X)
    with pytest.raises(ValueError):
        model.fit(ListDataset([(np.zeros(3), 0.0), (np.zeros(4), 1.0)]))
    np.testing.assert_array_equal(model.predict(X), before)


def test_fitted_model_does_not_keep_the_dataset(tabular):
    X, y = tabular
    data = PairDataset(X, y)
    data.unpicklable = lambda: None  # pickling the model fails if it holds `data`
    model = RobustNetRegressor(max_epochs=1, random_state=0).fit(data)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))
