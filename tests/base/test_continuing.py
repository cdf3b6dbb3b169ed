"""Continuing a fitted model: ``warm_start`` and ``partial_fit`` (``_base.py``,
``regressor.py``, ``baselines.py``).

What is checked against quantities the continuation cannot produce by itself: a
refit at a vanishing learning rate keeps the previous predictions only when it
continues; the first EM round of a continued DeepGUM fit starts at the fitted
mixture, a fixed point of the EM on the same residuals; streaming chunks through
``partial_fit`` reaches the clean-test error of ``fit`` on the same rows and beats
plain L2; the scores of the last chunk agree with ``score_outliers`` on it.
"""

import copy
import math

import numpy as np
import pytest
import torch
from conftest import FACTORIES, NET_NAMES, CountingNet, table
from sklearn.metrics import roc_auc_score

from sk_deepgum import DeepGUMRegressor, GaussianUniformMixture
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import make_contaminated_regression

# -- warm_start -----------------------------------------------------------------


@pytest.mark.parametrize("name", NET_NAMES)
def test_warm_start_continues_the_fitted_network(name):
    """At lr 1e-12 one more epoch cannot move the weights: a continued fit predicts
    what the fitted model predicted; a fit from scratch (warm_start=False) does not."""
    X, y = table(80)
    model = FACTORIES[name](min_rows_per_epoch=0).fit(X, y)
    before = model.predict(X)
    model.set_params(warm_start=True, lr=1e-12, max_epochs=1)
    np.testing.assert_allclose(model.fit(X, y).predict(X), before, atol=1e-5)
    model.set_params(warm_start=False)
    assert np.abs(model.fit(X, y).predict(X) - before).max() > 0.02


@pytest.mark.parametrize("name", NET_NAMES)
def test_warm_start_counts_on_from_the_fitted_model(name):
    X, y = table(80)
    model = FACTORIES[name](min_rows_per_epoch=0, tol=0.0, max_epochs=4)
    model.fit(X, y)
    first_iter, first_history = model.n_iter_, list(model.history_)
    steps = model.net_.optimizer_.state_dict()["state"][0]["step"]
    model.set_params(warm_start=True, max_epochs=3, lr=5e-4).fit(X, y)
    assert model.n_iter_ == first_iter + 3
    assert model.history_[: len(first_history)] == first_history
    epochs = [record["epoch"] for record in model.history_]
    assert epochs == sorted(epochs) and epochs[-1] == model.n_iter_
    # Adam's moments carried over (its step count goes on), at the new lr.
    optimizer = model.net_.optimizer_
    batches = math.ceil(80 / model.batch_size_)
    assert optimizer.state_dict()["state"][0]["step"] == steps + 3 * batches
    assert optimizer.param_groups[0]["lr"] == 5e-4


def test_warm_start_starts_the_em_at_the_fitted_mixture_without_a_warm_up():
    """A converged mixture is a fixed point of the EM on the same residuals: the
    continued fit's first round (lr 1e-12, so the residuals stay; one EM
    iteration) gives it back. From the default start one iteration lands at a
    prior of 0.89 here, not 0.84. That round comes before any epoch: no warm-up."""
    X, y, _ = make_contaminated_regression(200, 3, n_targets=2, random_state=1)
    model = DeepGUMRegressor(
        max_epochs=8,
        warm_up_epochs=2,
        min_rows_per_epoch=0,
        swa_start=None,
        em_max_iter=200,
        em_tol=1e-9,
        random_state=0,
    ).fit(X, y)
    fitted = model.history_[-1]
    model.set_params(warm_start=True, lr=1e-12, max_epochs=1, em_max_iter=1)
    first = model.fit(X, y).history_[len(model.history_) - 2]
    assert first["epoch"] == fitted["epoch"] == 8
    assert first["em_iterations"] == 1
    np.testing.assert_allclose(first["inlier_prior"], fitted["inlier_prior"], atol=1e-5)
    assert first["em_log_likelihood"] == pytest.approx(
        fitted["em_log_likelihood"], rel=1e-6
    )


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("groups", [None, "each"])
def test_warm_start_takes_the_mixture_back_in_every_layout(covariance_type, groups):
    """Two outputs on different scales: the mixture comes back from target units in
    the estimator's own covariance type (a spherical one is per column in target
    units), so the continued EM runs and one iteration keeps it."""
    X, y, _ = make_contaminated_regression(
        200, 3, n_targets=2, outlier_rate=0.2, random_state=1
    )
    y = y * np.array([1.0, 50.0])
    kwargs = dict(
        max_epochs=8,
        warm_up_epochs=2,
        min_rows_per_epoch=0,
        swa_start=None,
        covariance_type=covariance_type,
        groups=groups,
        em_max_iter=200,
        em_tol=1e-9,
        random_state=0,
    )
    model = DeepGUMRegressor(**kwargs).fit(X, y)
    fitted = model.mixture_
    model.set_params(warm_start=True, lr=1e-12, max_epochs=1, em_max_iter=1)
    continued = model.fit(X, y).mixture_
    assert continued.covariance_type == fitted.covariance_type
    np.testing.assert_allclose(continued.weights_, fitted.weights_, atol=2e-3)
    for new, old in zip(
        np.atleast_1d(continued.covariances_),
        np.atleast_1d(fitted.covariances_),
        strict=True,
    ):
        np.testing.assert_allclose(new, old, rtol=2e-2)


@pytest.mark.parametrize("name", NET_NAMES)
def test_warm_start_refuses_new_shapes_and_keeps_the_model(name):
    X, y = table(40)
    model = FACTORIES[name](min_rows_per_epoch=0, warm_start=True).fit(X, y)
    before = model.predict(X)
    with pytest.raises(ValueError, match="X has 2 features, but .* expecting 3"):
        model.fit(X[:, :2], y)
    with pytest.raises(ValueError, match="1 output"):
        model.fit(X, np.column_stack([y, y]))
    np.testing.assert_array_equal(model.predict(X), before)


@pytest.mark.parametrize(
    ("start", "change"),
    [
        ({"covariance_type": "full"}, {"covariance_type": "diag"}),
        ({"covariance_type": "full"}, {"covariance_type": "spherical"}),
        ({"covariance_type": "full", "groups": "each"}, {"groups": None}),
    ],
    ids=["full-to-diag", "full-to-spherical", "each-to-one-group"],
)
def test_a_changed_mixture_layout_restarts_the_em(start, change):
    """After covariance_type or groups changed, a continued fit (warm_start, and
    partial_fit) keeps the network but starts the EM afresh (the fitted mixture
    has another layout): its first round runs several iterations, where a fixed
    point would take one. Before, these continuations raised inside the EM."""
    X, y, _ = make_contaminated_regression(200, 3, n_targets=2, random_state=1)
    kwargs = dict(max_epochs=6, warm_up_epochs=2, swa_start=None, random_state=0)
    model = DeepGUMRegressor(**kwargs, **start).fit(X, y)
    n_rounds = len(model.history_)
    model.set_params(warm_start=True, lr=1e-12, max_epochs=1, **change).fit(X, y)
    assert model.history_[n_rounds]["em_iterations"] > 1
    streamed = DeepGUMRegressor(warm_up_epochs=1, random_state=0, **start)
    for _ in range(2):
        streamed.partial_fit(X, y)
    streamed.set_params(**change).partial_fit(X, y)
    np.testing.assert_allclose(
        streamed.outlier_scores_, streamed.score_outliers(X, y), atol=1e-5
    )


def test_warm_start_messages_name_the_change():
    X, y = table(40)
    model = DeepGUMRegressor(max_epochs=2, random_state=0, warm_start=True).fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"^X has 2 features, but DeepGUMRegressor is expecting 3 features as "
        r"input: warm_start continues the fitted network\.$",
    ):
        model.fit(X[:, :2], y)
    with pytest.raises(
        ValueError,
        match=r"^warm_start continues the fitted network, built for inputs of shape "
        r"\(3,\) and 1 output\(s\); got \(3,\) and 2\. Fit a new model for new "
        r"shapes \(warm_start=False\)\.$",
    ):
        model.fit(X, np.column_stack([y, y]))
    model.set_params(module__hidden_layer_sizes=(4,))
    with pytest.raises(
        ValueError,
        match=r"^warm_start continues the fitted network, but the backbone built now "
        r"does not take its weights \(module or module__\* changed\?\): ",
    ):
        model.fit(X, y)


def test_continuing_needs_the_same_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = table(40)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = DeepGUMRegressor(max_epochs=2, random_state=0)
    model.partial_fit(frame, y)
    renamed = frame.rename(columns={"c": "d"})
    for data in (renamed, X):
        with pytest.raises(
            ValueError, match=r"the feature names differ.*'a', 'b', 'c'"
        ):
            model.partial_fit(data, y)
    model.partial_fit(frame, y)
    assert list(model.feature_names_in_) == ["a", "b", "c"]


def test_a_first_fit_with_warm_start_is_a_plain_fit():
    X, y = table(40)
    plain = DeepGUMRegressor(max_epochs=3, min_rows_per_epoch=0, random_state=0)
    warm = DeepGUMRegressor(
        max_epochs=3, min_rows_per_epoch=0, random_state=0, warm_start=True
    )
    np.testing.assert_array_equal(plain.fit(X, y).predict(X), warm.fit(X, y).predict(X))


# -- partial_fit ---------------------------------------------------------------------


def _law(n, rate, seed):
    X, y, mask = make_contaminated_regression(
        n, 4, outlier_rate=rate, random_state=seed
    )
    return X, y, mask


def test_streaming_chunks_reaches_the_accuracy_of_a_full_fit():
    """Passes over 3 chunks of a contaminated table (20 % outliers) reach the
    clean-test error of fit on all of it (same epochs, same batch size) and far
    better than plain L2; the outliers are found as well."""
    X, y, mask = _law(450, 0.2, 0)
    X_test, y_test, _ = _law(1000, 0.0, 1)  # other rows, the same clean function
    epochs, batch = 24, 50
    kwargs = dict(batch_size=batch, random_state=0)
    full = DeepGUMRegressor(max_epochs=epochs, min_rows_per_epoch=0, **kwargs)
    full.fit(X, y)
    l2 = RobustNetRegressor(max_epochs=epochs, min_rows_per_epoch=0, **kwargs)
    l2.fit(X, y)
    stream = DeepGUMRegressor(**kwargs)
    chunks = np.array_split(np.arange(len(X)), 3)
    for _ in range(epochs):
        for rows in chunks:
            stream.partial_fit(X[rows], y[rows])

    def rmse(model):
        return float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2)))

    assert rmse(stream) <= 1.10 * rmse(full)
    assert rmse(stream) < 0.6 * rmse(l2)
    assert roc_auc_score(mask, stream.score_outliers(X, y)) > 0.98


def test_partial_fit_scores_describe_the_last_chunk():
    X, y, _ = _law(200, 0.2, 1)
    model = DeepGUMRegressor(warm_up_epochs=2, random_state=0)
    for _ in range(3):
        model.partial_fit(X[:120], y[:120])
    model.partial_fit(X[120:], y[120:])
    assert model.outlier_scores_.shape == (80,)
    np.testing.assert_allclose(
        model.outlier_scores_, model.score_outliers(X[120:], y[120:]), atol=1e-5
    )
    np.testing.assert_array_equal(
        model.outliers_, model.outlier_scores_ > model.outlier_threshold
    )


@pytest.mark.parametrize("name", NET_NAMES)
def test_partial_fit_is_one_pass_per_call(name):
    """Every row once per call, whatever min_rows_per_epoch; n_iter_ and history_
    count the calls; the same calls give the same model."""
    X, y = table(70)

    def stream():
        model = FACTORIES[name](batch_size=16, min_rows_per_epoch=1000)
        for _ in range(3):
            model.partial_fit(X, y)
        return model

    model = stream()
    assert model.n_iter_ == 3 and len(model.history_) == 3
    # The net keeps the estimator's floor for any later epoch it runs.
    assert model.net_.min_rows_per_epoch == 1000
    assert [r["epoch"] for r in model.history_] == [1, 2, 3]
    batches = model.net_.history[-1, "batches"]
    assert sum(b["train_batch_size"] for b in batches) == 70
    assert len(batches) == math.ceil(70 / 16)
    np.testing.assert_array_equal(stream().predict(X), model.predict(X))


@pytest.mark.parametrize("name", NET_NAMES)
def test_partial_fit_continues_a_fitted_model_at_the_current_lr(name):
    """lr set between calls applies (1e-12: the weights stay); at the fitted lr the
    same call moves them."""
    X, y = table(60)
    model = FACTORIES[name](min_rows_per_epoch=0).fit(X, y)
    n_iter, before = model.n_iter_, model.predict(X)
    moved = copy.deepcopy(model).partial_fit(X, y).predict(X)
    assert np.abs(moved - before).max() > 1e-3
    model.set_params(lr=1e-12).partial_fit(X, y)
    assert model.n_iter_ == n_iter + 1
    assert model.net_.optimizer_.param_groups[0]["lr"] == 1e-12
    np.testing.assert_allclose(model.predict(X), before, atol=1e-5)


def test_partial_fit_refuses_another_optimizer():
    X, y = table(40)
    model = DeepGUMRegressor(random_state=0)
    model.partial_fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"^partial_fit continues the fitted Adam optimizer; optimizer is now "
        r"SGD\. Call fit to start again with it\.$",
    ):
        model.set_params(optimizer=torch.optim.SGD).partial_fit(X, y)


@pytest.mark.parametrize("name", NET_NAMES)
def test_partial_fit_refuses_another_layout_and_keeps_the_model(name):
    X, y = table(40)
    model = FACTORIES[name]()
    model.partial_fit(X, y)
    before, n_iter = model.predict(X), model.n_iter_
    with pytest.raises(ValueError, match="X has 2 features.*partial_fit continues"):
        model.partial_fit(X[:, :2], y)
    with pytest.raises(ValueError, match="partial_fit continues .* 1 output"):
        model.partial_fit(X, np.column_stack([y, y]))
    np.testing.assert_array_equal(model.predict(X), before)
    assert model.n_iter_ == n_iter


@pytest.mark.parametrize("name", NET_NAMES)
def test_a_failed_partial_fit_leaves_the_model(name):
    """A call whose training diverges (lr 1e12: a non-finite loss) raises and leaves
    the fitted network as it was (the call trained a copy)."""
    X, y = table(60)
    model = FACTORIES[name]()
    model.partial_fit(X, y)
    before, n_iter = model.predict(X), model.n_iter_
    with pytest.raises(FloatingPointError, match="non-finite"):
        model.set_params(lr=1e12).partial_fit(X, y * 1e6)
    np.testing.assert_array_equal(model.predict(X), before)
    assert model.n_iter_ == n_iter


@pytest.mark.parametrize("name", NET_NAMES)
def test_partial_fit_takes_the_current_weight_decay(name):
    X, y = table(40)
    model = FACTORIES[name]()
    model.partial_fit(X, y)
    assert model.optimizer_.param_groups[0]["weight_decay"] == 3e-4
    model.set_params(optimizer__weight_decay=0).partial_fit(X, y)
    assert model.optimizer_.param_groups[0]["weight_decay"] == 0
    model.set_params(optimizer__weight_decay=0.05).partial_fit(X, y)
    assert model.optimizer_.param_groups[0]["weight_decay"] == 0.05


def test_partial_fit_rows_of_zero_weight_count_for_nothing():
    """Gross targets (+50) on a third of every chunk, all at weight 0: the target
    scaling is the clean rows' own, the mixture sees no outliers (inlier prior near
    1) and the clean rows are fitted; unweighted, the gross rows drag all three."""
    X, y = table(120)
    gross = np.zeros(120, dtype=bool)
    gross[::3] = True
    y_bad = np.where(gross, y + 50.0, y)

    def stream(rows, targets, sample_weight=None):
        model = DeepGUMRegressor(warm_up_epochs=2, batch_size=16, random_state=0)
        for _ in range(8):
            model.partial_fit(X[rows], targets[rows], sample_weight=sample_weight)
        return model

    every_row = np.ones(120, dtype=bool)
    clean = stream(~gross, y)
    weighted = stream(every_row, y_bad, (~gross).astype(float))
    unweighted = stream(every_row, y_bad)
    np.testing.assert_array_equal(weighted.target_scale_, clean.target_scale_)
    np.testing.assert_array_equal(weighted.target_centre_, clean.target_centre_)
    assert weighted.mixture_.weights_[0] > 0.95
    assert unweighted.mixture_.weights_[0] < 0.8

    def clean_rmse(model):
        error = model.predict(X[~gross]) - y[~gross]
        return float(np.sqrt(np.mean(error**2)))

    assert clean_rmse(weighted) < 0.2 * clean_rmse(unweighted)


def test_partial_fit_with_unit_weights_is_partial_fit_without():
    """Weights of 1 are no weights, to the last bit, for the network step (the
    weights are float32, as the rest of its arithmetic). RobustNetRegressor: in
    DeepGUM the EM's weighted sums round differently from its unweighted ones."""
    X, y = table(50)
    plain, weighted = FACTORIES["RobustNet"](), FACTORIES["RobustNet"]()
    for _ in range(3):
        plain.partial_fit(X, y)
        weighted.partial_fit(X, y, sample_weight=np.ones(50))
    np.testing.assert_array_equal(weighted.predict(X), plain.predict(X))


def test_partial_fit_warm_starts_the_em_from_the_last_mixture():
    """With the residuals held (lr 1e-12) and one EM iteration per call, the calls
    add up to the EM run to convergence: after 40 calls the mixture is the one a
    GaussianUniformMixture fits on the same residuals. Restarted every call, one
    iteration stays near the start."""
    X, y, _ = make_contaminated_regression(300, 3, outlier_rate=0.3, random_state=0)
    model = DeepGUMRegressor(
        warm_up_epochs=0,
        em_max_iter=1,
        lr=1e-12,
        covariance_type="diag",
        inlier_df=None,
        random_state=0,
    )
    for _ in range(40):
        model.partial_fit(X, y)
    residuals = (y - model.predict(X))[:, None]
    reference = GaussianUniformMixture(
        covariance_type="diag", max_iter=500, tol=1e-10
    ).fit(residuals)
    assert model.mixture_.weights_[0] == pytest.approx(reference.weights_[0], abs=1e-3)
    first = DeepGUMRegressor(
        warm_up_epochs=0, em_max_iter=1, lr=1e-12, inlier_df=None, random_state=0
    )
    first.partial_fit(X, y)
    assert abs(first.mixture_.weights_[0] - reference.weights_[0]) > 0.02


def test_partial_fit_trains_on_responsibilities_after_the_warm_up():
    """Two outputs with different noise: from the call after ``warm_up_epochs``
    calls on, the loss takes the mixture's precision (no longer the identity)."""
    X, y, _ = make_contaminated_regression(
        200, 3, n_targets=2, outlier_rate=0.2, random_state=0
    )
    y = y + np.random.default_rng(0).normal(scale=[0.05, 1.0], size=y.shape)
    model = DeepGUMRegressor(warm_up_epochs=2, random_state=0)
    identity = np.eye(2)
    for call in range(1, 4):
        model.partial_fit(X, y)
        precision = model.net_.criterion_.criterion.precision.cpu().numpy()
        trained_on_the_mixture = not np.allclose(precision, identity)
        assert trained_on_the_mixture == (call > 2)


def test_partial_fit_warm_up_loss_is_the_baselines_loss():
    """The first call of a DeepGUM with warm_up_loss='huber' trains exactly as
    RobustNetRegressor(loss='huber') does."""
    X, y = table(60)
    deepgum = DeepGUMRegressor(warm_up_loss="huber", batch_size=16, random_state=0)
    huber = RobustNetRegressor(loss="huber", batch_size=16, random_state=0)
    deepgum.partial_fit(X, y)
    huber.partial_fit(X, y)
    np.testing.assert_array_equal(deepgum.predict(X), huber.predict(X))


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("groups", [None, "each"])
def test_partial_fit_scores_in_every_layout(covariance_type, groups):
    X, y, _ = make_contaminated_regression(
        150, 3, n_targets=2, outlier_rate=0.2, random_state=2
    )
    model = DeepGUMRegressor(
        warm_up_epochs=1,
        covariance_type=covariance_type,
        groups=groups,
        random_state=0,
    )
    for _ in range(3):
        model.partial_fit(X, y)
    assert model.mixture_.covariance_type == (
        "diag" if covariance_type == "spherical" else covariance_type
    )
    np.testing.assert_allclose(
        model.outlier_scores_, model.score_outliers(X, y), atol=1e-5
    )


class RandomProbe(torch.nn.Module):
    """Draws one number from torch's global RNG at every training forward (as
    dropout does) and records it."""

    draws: list = []

    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.linear = torch.nn.Linear(n_inputs, n_outputs)

    def forward(self, X):
        if self.training and len(X) > 2:
            RandomProbe.draws.append(float(torch.rand(())))
        return self.linear(X)


def test_partial_fit_draws_a_new_random_stream_per_call():
    """Dropout-like randomness differs from call to call (one seed per call, moved
    on by n_iter_), yet the same calls repeat it exactly."""

    def first_draws():
        RandomProbe.draws = []
        model = RobustNetRegressor(module=RandomProbe, batch_size=64, random_state=0)
        X, y = table(64)
        for _ in range(3):
            model.partial_fit(X, y)
        return list(RandomProbe.draws)

    draws = first_draws()
    assert len(draws) == 3 and len(set(draws)) == 3
    assert first_draws() == draws


def test_partial_fit_passes_over_the_chunk_twice():
    """After the warm-up a call makes one residual pass for the loss weights, the
    epoch, and one residual pass for the mixture and the scores (not three)."""
    X, y = table(80)
    model = DeepGUMRegressor(
        module=CountingNet, warm_up_epochs=1, batch_size=40, random_state=0
    )
    model.partial_fit(X, y)
    CountingNet.calls.update(train=0, eval=0)
    model.partial_fit(X, y)
    assert CountingNet.calls == {"train": 2, "eval": 2}
