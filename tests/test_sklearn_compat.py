"""scikit-learn's estimator checks on every estimator.

GaussianUniformMixture passes them all. The network regressors are allowed one
expected failure, the one scikit-learn grants its own SGD-trained models.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_deepgum import DeepGUMRegressor, GaussianUniformMixture
from sk_deepgum.baselines import RobustNetRegressor

SGD_REASON = (
    "Mini-batch SGD in float32: integer weights scale the loss of a row while "
    "repetition adds gradient steps, so the two fits differ beyond the check's "
    "rtol=1e-7 (scikit-learn xfails this check for SGDRegressor for the same reason)."
)
EXPECTED_FAILED = {
    "DeepGUMRegressor": {"check_sample_weight_equivalence_on_dense_data": SGD_REASON},
    "RobustNetRegressor": {"check_sample_weight_equivalence_on_dense_data": SGD_REASON},
}

ESTIMATORS = [
    GaussianUniformMixture(random_state=0),
    DeepGUMRegressor(random_state=0),
    RobustNetRegressor(random_state=0),
]


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED.get(type(est).__name__, {}),
    xfail_strict=True,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
