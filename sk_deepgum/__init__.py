"""sk_deepgum: deep robust regression with a Gaussian-uniform mixture (DeepGUM)."""

from sk_deepgum.mixture import GaussianUniformMixture

__version__ = "0.1.0.dev0"

__all__ = ["GaussianUniformMixture", "__version__"]
