"""sk_deepgum: deep robust regression with a Gaussian-uniform mixture (DeepGUM)."""

from sk_deepgum.mixture import GaussianUniformMixture
from sk_deepgum.regressor import DeepGUMRegressor

__version__ = "0.1.0.dev0"

__all__ = ["DeepGUMRegressor", "GaussianUniformMixture", "__version__"]
