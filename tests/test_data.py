"""A torch Dataset of (x, y) pairs as X for the network estimators (issue 7): the
Dataset input of _data.py, through the estimators."""

import pickle
from functools import partial

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
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


def test_small_dataset_whole_batch_steps_equal_array_fit(tabular):
    """A Dataset no larger than one batch, cycled to min_rows_per_epoch, takes
    whole-set steps as the same rows as arrays do."""
    X, y = tabular[0][:12], tabular[1][:12]
    params = dict(QUICK, min_rows_per_epoch=100)
    on_arrays = DeepGUMRegressor(**params).fit(X, y)
    on_dataset = DeepGUMRegressor(**params).fit(PairDataset(X, y))
    assert on_dataset.net_.history[-1, "train_batch_count"] == 7  # ceil(100 / 16)
    np.testing.assert_array_equal(on_dataset.predict(X), on_arrays.predict(X))


def test_partial_fit_on_dataset_chunks_equals_array_chunks(tabular):
    """Chunks given as Datasets stream to the same model as the same chunks as
    arrays (the first call and the continued ones)."""
    X, y = tabular
    chunks = np.array_split(np.arange(len(X)), 2)
    on_arrays = DeepGUMRegressor(warm_up_epochs=1, batch_size=16, random_state=0)
    on_datasets = DeepGUMRegressor(warm_up_epochs=1, batch_size=16, random_state=0)
    for _ in range(2):
        for rows in chunks:
            on_arrays.partial_fit(X[rows], y[rows])
            on_datasets.partial_fit(PairDataset(X[rows], y[rows]))
    np.testing.assert_array_equal(on_datasets.predict(X), on_arrays.predict(X))
    np.testing.assert_array_equal(
        on_datasets.outlier_scores_, on_arrays.outlier_scores_
    )


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


# ---------------------------------------------------------------------------
# iterator_train__* / iterator_valid__*: the DataLoaders of a Dataset input


def record_worker(path, worker_id):
    """A worker_init_fn: appends the worker's torch seed to the file ``path``."""
    with open(path, "a") as f:
        f.write(f"{torch.initial_seed()}\n")


def recorded(path):
    return sorted(path.read_text().split()) if path.exists() else []


def test_results_do_not_depend_on_num_workers(tabular):
    X, y = tabular
    # Hold-out passes too; dropout draws from torch's global RNG, which loading
    # must leave alone for the Dataset fit to equal the array fit.
    params = dict(QUICK, validation_fraction=0.2, module__dropout=0.2)
    two_workers = dict(iterator_train__num_workers=2, iterator_valid__num_workers=2)
    serial = DeepGUMRegressor(**params).fit(PairDataset(X, y))
    parallel = DeepGUMRegressor(**params, **two_workers).fit(PairDataset(X, y))
    on_arrays = DeepGUMRegressor(**params).fit(X, y)
    for model in (serial, parallel):
        np.testing.assert_array_equal(
            model.predict(PairDataset(X, y)), on_arrays.predict(X)
        )
        np.testing.assert_array_equal(model.outlier_scores_, on_arrays.outlier_scores_)
        assert model.n_iter_ == on_arrays.n_iter_


@pytest.mark.parametrize("persistent", [False, True])
def test_loader_arguments_reach_the_dataloaders(tabular, tmp_path, persistent):
    X, y = tabular
    train, valid = tmp_path / "train", tmp_path / "valid"
    model = RobustNetRegressor(
        max_epochs=3,  # no hold-out: the fit's only loads are training batches
        batch_size=16,
        random_state=0,
        iterator_train__num_workers=2,
        iterator_train__persistent_workers=persistent,
        iterator_train__worker_init_fn=partial(record_worker, train),
        iterator_valid__num_workers=1,
        iterator_valid__worker_init_fn=partial(record_worker, valid),
    )
    model.fit(PairDataset(X, y))
    # Two workers started per epoch, or once for the fit when they persist.
    seeds = recorded(train)
    assert len(seeds) == (2 if persistent else 6)
    assert len(set(seeds)) == len(seeds)  # every worker gets its own seed
    assert recorded(valid) == []
    model.predict(PairDataset(X, y))
    assert len(recorded(valid)) == 1
    # The workers' seeds follow random_state, so a random augmentation in the
    # Dataset is reproducible.
    train.unlink()
    model.fit(PairDataset(X, y))
    assert recorded(train) == seeds


@pytest.mark.parametrize("name", ["batch_size", "shuffle", "sampler", "drop_last"])
@pytest.mark.parametrize("prefix", ["iterator_train__", "iterator_valid__"])
def test_arguments_the_estimator_owns_are_refused(tabular, prefix, name):
    X, y = tabular
    model = RobustNetRegressor(max_epochs=1, **{prefix + name: 8})
    message = f"{prefix}{name}: the estimator sets the DataLoader's dataset, batch_size"
    with pytest.raises(ValueError, match=message):
        model.fit(PairDataset(X, y))
    with pytest.raises(ValueError, match=message):  # whatever the input
        model.fit(X, y)


def test_loader_arguments_are_checked_at_predict_too(tabular):
    X, y = tabular
    model = RobustNetRegressor(max_epochs=1, random_state=0).fit(PairDataset(X, y))
    for params, error, match in [
        ({"iterator_valid__batch_sampler": None}, ValueError, "batch_sampler: the e"),
        ({"iterator_valid__num_worker": 2}, TypeError, r"not an argument.*'num_w"),
    ]:
        broken = pickle.loads(pickle.dumps(model)).set_params(**params)
        with pytest.raises(error, match=f"iterator_valid__.*{match}"):
            broken.predict(PairDataset(X, y))


def test_array_input_ignores_them(tabular, tmp_path):
    # In-memory batches are slices of a tensor: there is nothing to load.
    X, y = tabular
    log = tmp_path / "workers"
    loaders = dict(
        iterator_train__num_workers=2,
        iterator_train__worker_init_fn=partial(record_worker, log),
        iterator_valid__num_workers=2,
        iterator_valid__worker_init_fn=partial(record_worker, log),
    )
    with_them = DeepGUMRegressor(**QUICK, **loaders).fit(X, y)
    without = DeepGUMRegressor(**QUICK).fit(X, y)
    np.testing.assert_array_equal(with_them.predict(X), without.predict(X))
    assert recorded(log) == []


def test_they_are_ordinary_parameters(tabular, tmp_path):
    X, y = tabular
    model = RobustNetRegressor(max_epochs=1, iterator_train__num_workers=1)
    model.set_params(iterator_valid__pin_memory=False)
    params = model.get_params()
    assert params["iterator_train__num_workers"] == 1
    assert params["iterator_valid__pin_memory"] is False
    twin = clone(model)
    assert twin.get_params() == params
    # A clone's arguments reach its DataLoader.
    log = tmp_path / "workers"
    twin.set_params(iterator_train__worker_init_fn=partial(record_worker, log))
    twin.fit(PairDataset(X, y))
    assert len(recorded(log)) == 1
    search = GridSearchCV(model, {"iterator_train__num_workers": [0, 2]}, cv=2)
    search.fit(X, y)
    assert list(search.cv_results_["param_iterator_train__num_workers"]) == [0, 2]
    assert "iterator_valid__pin_memory" in search.best_estimator_.get_params()


def doubled(items):
    """A collate_fn: torch's default batch of (x, y) items, with x doubled."""
    x, y = torch.utils.data.default_collate(items)
    return 2 * x, y


def test_a_collate_fn_gets_the_items_and_makes_the_batch(tabular):
    X, y = tabular
    collate = dict(
        iterator_train__collate_fn=doubled, iterator_valid__collate_fn=doubled
    )
    on_dataset = DeepGUMRegressor(**QUICK, **collate).fit(PairDataset(X, y))
    on_arrays = DeepGUMRegressor(**QUICK).fit(2 * X, y)
    np.testing.assert_allclose(
        on_dataset.predict(PairDataset(X, y)), on_arrays.predict(2 * X), atol=1e-6
    )
    np.testing.assert_allclose(
        on_dataset.outlier_scores_, on_arrays.outlier_scores_, atol=1e-6
    )


def test_a_collate_fn_of_the_wrong_shape_is_refused(tabular):
    X, y = tabular
    model = RobustNetRegressor(
        max_epochs=1, iterator_train__collate_fn=lambda items: torch.zeros(3)
    )
    with pytest.raises(ValueError, match=r"collate_fn has inputs of shape \(3,\)"):
        model.fit(PairDataset(X, y))


def test_worker_seeds_change_from_one_partial_fit_call_to_the_next(tabular, tmp_path):
    X, y = tabular
    logs = [tmp_path / "first", tmp_path / "second"]
    model = RobustNetRegressor(random_state=0, iterator_train__num_workers=1)
    for log in logs:
        model.set_params(iterator_train__worker_init_fn=partial(record_worker, log))
        model.partial_fit(PairDataset(X, y))
    assert recorded(logs[0]) != recorded(logs[1])
