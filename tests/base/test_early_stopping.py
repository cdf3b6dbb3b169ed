"""Early stopping on a hold-out (``validation_fraction``), for both network estimators.

The expected stopping epoch is computed here from the recorded hold-out scores
(``history_``) with the documented rule, and the returned network is compared with a
second fit that simply ends at the best epoch: the same seed, split and batches, so
its network is the one early stopping should have restored.
"""

import numpy as np
import pytest

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor

SCORE = {RobustNetRegressor: "valid_median_ae", DeepGUMRegressor: "valid_nll"}
SCHEDULE = {
    RobustNetRegressor: {},
    DeepGUMRegressor: dict(warm_up_epochs=2, epochs_per_round=2),
}


def stop_by_the_rule(history, key, patience):
    """Index of the record where the documented rule stops (or the last one), and
    the index of the best record before it: a check improves when it beats the best
    so far by more than 1e-4 of it."""
    best, best_index, waited = np.inf, None, 0
    for i, record in enumerate(history):
        score = record[key]
        if best_index is None or score < best - 1e-4 * abs(best):
            best, best_index, waited = score, i, 0
        else:
            waited += 1
            if waited >= patience:
                return i, best_index
    return len(history) - 1, best_index


@pytest.fixture(scope="module")
def noisy_small():
    # Few noisy rows and a wide network with a large step: it memorises the training
    # noise, so the hold-out error soon grows.
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(60, 5))
    y = X[:, 0] + rng.normal(size=60)
    return X, y


@pytest.fixture(scope="module")
def clean_linear():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.normal(size=200)
    return X, y


def overfitting(Estimator, **params):
    return Estimator(
        lr=1e-2,
        batch_size=8,
        swa_start=None,
        validation_fraction=0.3,
        module__hidden_layer_sizes=(64, 64),
        random_state=0,
        **{**SCHEDULE[Estimator], **params},
    )


@pytest.mark.parametrize("Estimator", [RobustNetRegressor, DeepGUMRegressor])
def test_a_fit_that_keeps_improving_runs_to_max_epochs(Estimator, clean_linear):
    # min_rows_per_epoch=0: one pass of the 150 training rows per epoch. With the
    # default floor (1,000 rows an epoch) the fit converges within about 10 epochs
    # and the hold-out score stops improving before max_epochs.
    model = Estimator(
        max_epochs=20,
        validation_fraction=0.25,
        n_iter_no_change=3,
        min_rows_per_epoch=0,
        random_state=0,
        **SCHEDULE[Estimator],
    ).fit(*clean_linear)
    key = SCORE[Estimator]
    stop, best = stop_by_the_rule(model.history_, key, 3)
    # Precondition: the hold-out score does keep improving on this fit.
    assert stop == len(model.history_) - 1 and best == stop
    assert model.n_iter_ == 20
    assert model.history_[-1]["epoch"] == 20


@pytest.mark.parametrize("Estimator", [RobustNetRegressor, DeepGUMRegressor])
def test_a_worsening_fit_returns_the_best_network(Estimator, noisy_small):
    X, y = noisy_small
    model = overfitting(Estimator, max_epochs=20, n_iter_no_change=3).fit(X, y)
    key = SCORE[Estimator]
    full = overfitting(Estimator, max_epochs=20, n_iter_no_change=10**6).fit(X, y)
    stop, best = stop_by_the_rule(full.history_, key, 3)
    # Precondition: the hold-out does get worse, and early enough to stop.
    assert best < stop < len(full.history_) - 1
    assert model.history_ == full.history_[: stop + 1]
    best_epoch = full.history_[best]["epoch"]
    assert model.n_iter_ == best_epoch

    # The network a fit ending at the best epoch returns: same seed, split, batches.
    reference = overfitting(
        Estimator, max_epochs=best_epoch, n_iter_no_change=10**6
    ).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), reference.predict(X))
    if Estimator is DeepGUMRegressor:
        # The mixture and the scores describe the returned network.
        np.testing.assert_allclose(
            model.outlier_scores_, reference.outlier_scores_, rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            model.mixture_.weights_, reference.mixture_.weights_, rtol=1e-12
        )
        expected = model.mixture_.predict_proba(y - model.predict(X))[:, 1]
        np.testing.assert_allclose(model.outlier_scores_, expected, atol=1e-5)


@pytest.mark.parametrize("Estimator", [RobustNetRegressor, DeepGUMRegressor])
def test_the_stop_is_announced(Estimator, noisy_small, capsys):
    overfitting(Estimator, max_epochs=20, n_iter_no_change=3, verbose=1).fit(
        *noisy_small
    )
    err = capsys.readouterr().err
    assert "stopped early" in err
    assert "restored the network of epoch" in err


class Notices:
    def __init__(self):
        self.lines = []

    def message(self, text):
        self.lines.append(text)


def checked_state(epochs_run=0):
    from types import SimpleNamespace

    from torch import nn

    from sk_deepgum._training import FitState

    net = SimpleNamespace(module_=nn.Linear(1, 1))
    state = FitState(net, None, None, None, None, None, None, "cpu", None, None)
    state.epochs_run = epochs_run
    state.progress = Notices()
    return state


def test_the_rule_needs_an_improvement_beyond_a_relative_1e_minus_4():
    model = RobustNetRegressor(n_iter_no_change=2, max_epochs=10)
    state = checked_state()
    steps = []
    # 1.0 improves on nothing; 1 - 1e-4 exactly and 1 + 1e-5 do not improve on it
    # (the second of them exhausts the patience of 2); 0.5 would have.
    for epoch, score in enumerate([1.0, 1.0 - 1e-4 * abs(1.0), 1.0 + 1e-5], 1):
        state.epochs_run = epoch
        steps.append(model._early_stopping_step(state, score))
    assert steps == [False, False, True]
    assert state.best_epoch == 1 and state.best_score == 1.0


@pytest.mark.parametrize(
    ("last_epoch", "max_epochs", "expected"),
    [
        (5, 10, "stopped early at epoch 5"),
        # The patience runs out on the very last epoch: not an early stop, but the
        # best network still comes back.
        (10, 10, "the last check (epoch 10) was not the best"),
    ],
)
def test_the_notice_says_why_the_best_network_came_back(
    last_epoch, max_epochs, expected
):
    model = RobustNetRegressor(n_iter_no_change=2, max_epochs=max_epochs)
    state = checked_state()
    for epoch, score in zip(
        [last_epoch - 2, last_epoch - 1, last_epoch], [1.0, 2.0, 3.0], strict=True
    ):
        state.epochs_run = epoch
        model._early_stopping_step(state, score)
    assert model._restore_best(state)
    assert state.epochs_run == last_epoch - 2
    (line,) = state.progress.lines
    assert line.startswith(expected)
    assert f"restored the network of epoch {last_epoch - 2}" in line


def test_no_network_comes_back_when_the_last_check_is_the_best():
    model = RobustNetRegressor(n_iter_no_change=2, max_epochs=10)
    for scores in ([3.0, 2.0, 1.0], [1.0, 2.0]):  # improving; one check short
        state = checked_state()
        for epoch, score in enumerate(scores, 1):
            state.epochs_run = epoch
            model._early_stopping_step(state, score)
        restored = model._restore_best(state)
        worse_last = scores[-1] > min(scores)
        assert restored == worse_last
        assert state.epochs_run == (1 if worse_last else len(scores))
        assert len(state.progress.lines) == int(worse_last)
