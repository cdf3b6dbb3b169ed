"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_deepgum import GaussianUniformMixture

ESTIMATORS = [GaussianUniformMixture(random_state=0)]


@parametrize_with_checks(ESTIMATORS, xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
