"""The convergence stop without a hold-out (``tol``), for both network estimators.

The expected stopping epoch is computed here from the recorded objective
(``history_``) with the documented rule, and the returned model is compared with a
second fit that simply ends at that epoch: the same seed and batches, so its network
is the one the stop should return.
"""

import numpy as np
import pytest

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor

# The objective each estimator records, and its sign (the rule maximises).
OBJECTIVE = {
    DeepGUMRegressor: ("em_log_likelihood", 1.0),
    RobustNetRegressor: ("train_loss", -1.0),
}
ESTIMATORS = [RobustNetRegressor, DeepGUMRegressor]


def stop_by_the_rule(history, key, sign, tol, patience):
    """Epoch of the record where the documented rule stops, or None: a check
    improves when it beats the best so far by more than tol (absolute)."""
    best, waited = -np.inf, 0
    for record in history:
        objective = sign * record[key]
        if objective > best + tol:
            best, waited = objective, 0
        else:
            waited += 1
            if waited >= patience:
                return record["epoch"]
    return None


@pytest.fixture(scope="module")
def linear_table():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3.0 + 0.1 * rng.normal(size=120)
    y[:10] += 15.0  # a few gross outliers for DeepGUM to find
    return X, y


def linear(Estimator, **params):
    return Estimator(module__hidden_layer_sizes=(), random_state=0, **params)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_converged_fit_returns_the_fit_of_that_many_epochs(Estimator, linear_table):
    X, y = linear_table
    key, sign = OBJECTIVE[Estimator]
    stopped = linear(Estimator, tol=1e-3, max_epochs=400, swa_start=None).fit(X, y)
    expected = stop_by_the_rule(stopped.history_, key, sign, 1e-3, patience=3)
    assert expected is not None and expected < 400
    assert stopped.n_iter_ == expected
    assert stopped.history_[-1]["epoch"] == expected
    plain = linear(Estimator, max_epochs=expected, swa_start=None).fit(X, y)
    np.testing.assert_array_equal(stopped.predict(X), plain.predict(X))
    if Estimator is DeepGUMRegressor:
        np.testing.assert_array_equal(stopped.outlier_scores_, plain.outlier_scores_)
        assert stopped.outliers_[:10].all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_the_weight_average_replaces_the_weights_at_the_stop(Estimator, linear_table):
    """With ``swa_start=0`` the average covers epochs 1..e whether the fit converged
    at e or ended there, so both return the same network; DeepGUM's mixture and
    scores are refitted on the averaged network's residuals."""
    X, y = linear_table
    stopped = linear(Estimator, tol=1e-3, max_epochs=400, swa_start=0.0).fit(X, y)
    assert stopped.n_iter_ < 400
    plain = linear(Estimator, max_epochs=stopped.n_iter_, swa_start=0.0).fit(X, y)
    np.testing.assert_allclose(stopped.predict(X), plain.predict(X), rtol=0, atol=1e-6)
    if Estimator is DeepGUMRegressor:
        # The same network; EM started from a different round's mixture, and
        # stops within em_tol.
        np.testing.assert_allclose(
            stopped.outlier_scores_, plain.outlier_scores_, rtol=0, atol=1e-3
        )
        last_mixture = stopped.history_[-1]["inlier_prior"][0]
        assert last_mixture == pytest.approx(stopped.mixture_.weights_[0], rel=1e-6)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_no_improvement_stops_after_n_iter_no_change_checks(Estimator, linear_table):
    """A tol no change can beat: the first check improves (on minus infinity),
    the next n_iter_no_change do not. DeepGUM checks after every EM round, the first
    one after the warm-up; the network estimator after every epoch."""
    X, y = linear_table
    model = linear(Estimator, tol=1e9, max_epochs=100, n_iter_no_change=4).fit(X, y)
    first_check = 5 if Estimator is DeepGUMRegressor else 1
    assert model.n_iter_ == first_check + 4


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_without_tol_or_with_a_hold_out_the_rule_is_not_used(Estimator, linear_table):
    X, y = linear_table
    assert linear(Estimator, max_epochs=40).fit(X, y).n_iter_ == 40
    held_out = dict(validation_fraction=0.2, n_iter_no_change=2, max_epochs=30)
    with_tol = linear(Estimator, tol=1e9, **held_out).fit(X, y)
    without = linear(Estimator, **held_out).fit(X, y)
    assert with_tol.n_iter_ == without.n_iter_
    np.testing.assert_array_equal(with_tol.predict(X), without.predict(X))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_the_convergence_stop_is_announced(Estimator, linear_table, capsys):
    X, y = linear_table
    model = linear(Estimator, tol=1e9, max_epochs=100, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    assert f"converged at epoch {model.n_iter_}" in err
    assert "tol=1e+09" in err


def test_a_fit_that_reaches_max_epochs_is_not_announced_as_converged(
    linear_table, capsys
):
    """The patience runs out exactly at the last epoch: max_epochs ends the fit,
    not the rule, so no convergence is announced."""
    X, y = linear_table
    model = linear(
        RobustNetRegressor, tol=1e9, max_epochs=5, n_iter_no_change=4, verbose=1
    ).fit(X, y)
    assert model.n_iter_ == 5
    assert "converged" not in capsys.readouterr().err


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_negative_tol_is_refused(Estimator, linear_table):
    X, y = linear_table
    with pytest.raises(ValueError, match="'tol'"):
        Estimator(tol=-1.0).fit(X, y)
