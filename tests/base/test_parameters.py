"""Unknown parameter names are refused by name, as scikit-learn and skorch do."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor

ESTIMATORS = [DeepGUMRegressor, RobustNetRegressor]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_misspelt_name_is_refused_at_set_params(Estimator):
    model = Estimator()
    with pytest.raises(ValueError, match="lrr"):
        model.set_params(lrr=0.1)
    assert "lrr" not in model.get_params()
    # Prefixed backbone and optimizer arguments are parameters like any other.
    model.set_params(module__hidden_layer_sizes=(8,), optimizer__betas=(0.8, 0.9))
    assert model.get_params()["module__hidden_layer_sizes"] == (8,)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_misspelt_name_given_at_construction_is_refused_at_fit(Estimator):
    # __init__ only stores (scikit-learn's check_do_not_raise_errors_in_init_or_
    # set_params); fit names the stray, as a ValueError and, as Python does for an
    # unexpected keyword of an ordinary constructor, a TypeError.
    X, y = np.zeros((4, 1)), np.zeros(4)
    with pytest.raises(ValueError, match=r"\['lrr'\]"):
        Estimator(lrr=0.1, max_epochs=1).fit(X, y)
    with pytest.raises(TypeError, match="unexpected keyword"):
        Estimator(hidden=3, max_epochs=1).fit(X, y)


def test_a_name_set_by_hand_is_refused_at_fit():
    model = DeepGUMRegressor(max_epochs=1)
    model.lrr = 0.1
    with pytest.raises(ValueError, match="lrr"):
        model.fit(np.zeros((4, 1)), np.zeros(4))


def test_grid_search_names_the_misspelt_parameter():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 2)), rng.normal(size=20)
    search = GridSearchCV(DeepGUMRegressor(max_epochs=1), {"lrr": [0.1]}, cv=2)
    with pytest.raises(ValueError, match="lrr"):
        search.fit(X, y)
