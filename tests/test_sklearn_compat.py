"""scikit-learn's estimator checks on every estimator.

``check_sample_weight_equivalence_on_dense_data`` fits 15 weighted rows and the same
rows repeated (27 rows): both fits are a single batch, and every statistic of the fit
(the robust target scale, the Huber/Tukey batch scale, the EM) is weighted, so an
integer weight is a repeated row up to floating-point rounding. The network trains in
float32, where a weighted sum and a sum over repeated rows round differently; over 100
Adam steps the predictions of ``RobustNetRegressor`` end up 1.6e-6 apart (relative),
above the check's rtol=1e-7. Verified: with the network and its tensors in float64 the
check passes for all three losses. ``tests/test_sample_weight.py`` checks the same
equivalence at a float32 tolerance. DeepGUM passes it as it stands.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_deepgum import DeepGUMRegressor, GaussianUniformMixture
from sk_deepgum.baselines import RobustNetRegressor

FLOAT32_REASON = (
    "float32 training: weighted rows and repeated rows round their gradient sums "
    "differently; predictions agree to 1.6e-6 relative, the check asks 1e-7 (passes "
    "in float64; tests/test_sample_weight.py checks it at float32 tolerance)."
)

ESTIMATORS = [
    GaussianUniformMixture(random_state=0),
    DeepGUMRegressor(random_state=0),
    RobustNetRegressor(loss="l2", random_state=0),
    RobustNetRegressor(loss="huber", random_state=0),
    RobustNetRegressor(loss="tukey", random_state=0),
]


def expected_failed_checks(estimator):
    if isinstance(estimator, RobustNetRegressor):
        return {"check_sample_weight_equivalence_on_dense_data": FLOAT32_REASON}
    return {}


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
