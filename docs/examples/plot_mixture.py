"""
The Gaussian-uniform mixture on its own
=======================================

:class:`~sk_deepgum.GaussianUniformMixture` is the density DeepGUM fits to a
network's residuals: an inlier Gaussian around 0 plus an outlier uniform,

.. math::

    p(e) = \\pi \\, \\mathcal{N}(e; 0, \\sigma^2) + (1 - \\pi) \\, \\gamma .

It is a scikit-learn density estimator in its own right, shaped like
:class:`sklearn.mixture.GaussianMixture`. Here it is fitted to residuals of which
20 % are wrong, and its density is drawn over their histogram.
"""

# %%
# Residuals with 20 % outliers
# ----------------------------
import matplotlib.pyplot as plt
import numpy as np

from sk_deepgum import GaussianUniformMixture

rng = np.random.default_rng(0)
inliers = rng.normal(0.0, 0.5, size=800)
outliers = rng.uniform(-8.0, 8.0, size=200)
residuals = np.concatenate([inliers, outliers])[:, None]  # (n_samples, 1)
is_outlier = np.r_[np.zeros(800, bool), np.ones(200, bool)]

gum = GaussianUniformMixture(random_state=0).fit(residuals)
print(f"inlier share pi  {gum.weights_[0]:.3f} (true 0.800)")
print(f"inlier sd        {np.sqrt(gum.covariances_[0]):.3f} (true 0.500)")
low, high = gum.uniform_bounds_[0]
print(f"uniform box      [{low:.2f}, {high:.2f}] (true [-8, 8])")
print(f"EM iterations    {gum.n_iter_}, converged: {gum.converged_}")

# %%
# Density and posterior
# ---------------------
# ``score_samples`` is the log of the mixture density; the two components are the
# weighted Gaussian and the weighted uniform, whose density
# :math:`\gamma = \exp(\text{uniform\_log\_density\_})` is used everywhere, also
# outside its box (an outlier beyond the box stays an outlier). ``predict_proba``
# gives the posterior probability of being an outlier.
grid = np.linspace(-10, 10, 1000)[:, None]
pi = gum.weights_[0]
sd = np.sqrt(gum.covariances_[0])
gaussian = pi * np.exp(-0.5 * (grid[:, 0] / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
uniform = (1 - pi) * np.exp(gum.uniform_log_density_) * np.ones(len(grid))

fig, ax = plt.subplots(figsize=(8, 4.5))
ax.hist(residuals[:, 0], bins=120, density=True, color="0.8", label="residuals")
ax.plot(grid[:, 0], np.exp(gum.score_samples(grid)), "k", lw=2, label="mixture")
ax.plot(grid[:, 0], gaussian, "C0--", label=r"$\pi\,\mathcal{N}(e; 0, \sigma^2)$")
ax.plot(grid[:, 0], uniform, "C3--", label=r"$(1 - \pi)\,\gamma$")
# Head-room above the curves for the legend.
ax.set(xlabel="residual e", ylabel="density", yscale="log", ylim=(1e-3, 60))
ax2 = ax.twinx()
ax2.plot(
    grid[:, 0], gum.predict_proba(grid)[:, 1], "C2", lw=1.5, label="P(outlier | e)"
)
ax2.set_ylabel("P(outlier | e)", color="C2")
ax2.set_ylim(0, 1.6)
ax2.set_yticks([0, 0.25, 0.5, 0.75, 1])
handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
ax.legend(handles=handles, loc="upper center", ncol=3, fontsize=9)
plt.show()

# %%
# Detection
# ---------
# ``predict`` labels a residual 1 (outlier) when its posterior exceeds 0.5. Uniform
# draws that happen to fall among the inliers cannot be told apart: no method can
# flag them, which is why 100 % recall is out of reach.
labels = gum.predict(residuals)
print(f"flagged {labels.sum()} of {len(labels)}")
print(f"recall    {labels[is_outlier].mean():.3f}")
print(f"precision {is_outlier[labels == 1].mean():.3f}")
