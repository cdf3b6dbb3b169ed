"""The optimizer__weight_decay parameter of the network estimators (skorch's name for
the optimizer's weight_decay argument)."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import make_contaminated_regression

ESTIMATORS = [DeepGUMRegressor, RobustNetRegressor]
FAST = dict(max_epochs=3, random_state=0)


class NoDecaySGD(torch.optim.Optimizer):
    """A plain SGD without a weight_decay argument (as some custom optimizers are)."""

    def __init__(self, params, lr):
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.add_(p.grad, alpha=-group["lr"])
        return loss


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_contaminated_regression(60, 3, outlier_rate=0.2, random_state=0)
    return X, y


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_default_reaches_the_optimizer(Estimator, data):
    model = Estimator(**FAST)
    # The default is visible where sklearn looks for parameters.
    assert model.get_params()["optimizer__weight_decay"] == 3e-4
    assert clone(model).optimizer__weight_decay == 3e-4
    groups = model.fit(*data).net_.optimizer_.param_groups
    assert all(g["weight_decay"] == 3e-4 for g in groups)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_decay_shrinks_the_weights(Estimator, data):
    def norm(weight_decay):
        model = Estimator(
            optimizer__weight_decay=weight_decay, max_epochs=20, random_state=0
        )
        model.fit(*data)
        return sum(float(p.detach().norm()) for p in model.net_.module_.parameters())

    assert norm(0.1) < norm(0.0)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_grid_search_over_the_weight_decay(Estimator, data):
    search = GridSearchCV(
        Estimator(max_epochs=1, random_state=0),
        {"optimizer__weight_decay": [0.0, 0.25]},
        cv=2,
    ).fit(*data)
    assert search.cv_results_["param_optimizer__weight_decay"].tolist() == [0.0, 0.25]
    decay = search.best_params_["optimizer__weight_decay"]
    groups = search.best_estimator_.net_.optimizer_.param_groups
    assert all(g["weight_decay"] == decay for g in groups)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_the_old_top_level_name_is_refused(Estimator, data):
    # Pre-release rename: no alias, an error that names the new parameter.
    hint = "Did you mean 'optimizer__weight_decay' instead of 'weight_decay'"
    with pytest.raises(ValueError, match=hint):
        Estimator(weight_decay=1e-3, **FAST).fit(*data)
    with pytest.raises(ValueError, match=hint):
        Estimator().set_params(weight_decay=1e-3)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_optimizer_without_weight_decay(Estimator, data):
    model = Estimator(optimizer=NoDecaySGD, **FAST)
    with pytest.raises(
        TypeError, match=r"NoDecaySGD has no weight_decay.*optimizer__weight_decay=0"
    ):
        model.fit(*data)
    model.set_params(optimizer__weight_decay=0.0).fit(*data)
    assert np.isfinite(model.predict(data[0])).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_lbfgs_with_weight_decay_zero(Estimator, data):
    # LBFGS takes no weight_decay: 0 is left out of its arguments.
    model = Estimator(
        optimizer=torch.optim.LBFGS,
        optimizer__weight_decay=0,
        lr=0.1,
        min_rows_per_epoch=0,
        batch_size=30,
        **FAST,
    )
    assert np.isfinite(model.fit(*data).predict(data[0])).all()
    assert "weight_decay" not in model.net_.optimizer_.defaults


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_negative_weight_decay(Estimator, data):
    with pytest.raises(ValueError, match="optimizer__weight_decay"):
        Estimator(optimizer__weight_decay=-1.0, **FAST).fit(*data)


class WithIdleParameter(torch.nn.Module):
    """An MLP plus a parameter that gets no gradient, one entry of it subnormal."""

    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.body = torch.nn.Linear(n_inputs, n_outputs)
        self.idle = torch.nn.Parameter(torch.tensor([1e-40, 1.0]))

    def forward(self, X):
        return self.body(X) + 0.0 * self.idle.sum()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_subnormal_weights_are_flushed(Estimator, data):
    # Subnormal floats make CPU arithmetic many times slower; fit sets them to 0.
    model = Estimator(module=WithIdleParameter, optimizer__weight_decay=0.0, **FAST)
    idle = model.fit(*data).net_.module_.idle.detach()
    assert idle.tolist() == [0.0, 1.0]
