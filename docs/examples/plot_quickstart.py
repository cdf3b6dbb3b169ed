"""
Quick start: DeepGUM versus plain L2 on contaminated data
==========================================================

A one-feature regression problem where 30 % of the targets were replaced by random
values. The same small network is trained twice, with the same epochs: once with
plain L2 (:class:`~sk_deepgum.baselines.RobustNetRegressor` with ``loss='l2'``) and
once with DeepGUM (:class:`~sk_deepgum.DeepGUMRegressor`), which alternates EM on a
Gaussian-uniform mixture of the residuals with SGD on responsibility-weighted
losses.
"""

# %%
# Data with known wrong targets
# -----------------------------
# :func:`~sk_deepgum.datasets.make_contaminated_regression` draws from a published
# law and returns, with ``return_details=True``, the true outlier mask and the noiseless
# function, so we can see what each model learns.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import make_contaminated_regression

data = make_contaminated_regression(
    400, n_features=1, outlier_rate=0.3, noise=0.1, random_state=0, return_details=True
)
X, y, truly_wrong = data.X, data.y, data.outlier_mask
print(f"{truly_wrong.sum()} of {len(y)} targets are wrong")

# %%
# Fit both models
# ---------------
# Same backbone (the default two-layer MLP), optimiser, epochs and seed: only the
# loss differs.
params = dict(max_epochs=60, random_state=0)
gum = DeepGUMRegressor(**params).fit(X, y)
l2 = RobustNetRegressor(loss="l2", **params).fit(X, y)

grid = np.linspace(-1, 1, 200)[:, None]
truth = make_contaminated_regression(
    200, n_features=1, outlier_rate=0.0, noise=0.0, random_state=1
)
X_test, y_test, _ = truth


def rmse(model):
    return np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2))


print(f"clean-test RMSE: DeepGUM {rmse(gum):.3f}, plain L2 {rmse(l2):.3f}")
share = 1 - truly_wrong.mean()
print(f"learnt inlier share {gum.mixture_.weights_[0]:.2f} (true {share:.2f})")

# %%
# What each model learnt
# ----------------------
# DeepGUM follows the true function; the L2 fit is pulled towards the wrong targets.
# The colour of each point is DeepGUM's ``outlier_scores_``, the probability that its
# target is wrong.
order = np.argsort(X[:, 0])
fig, ax = plt.subplots(figsize=(7, 4.5))
points = ax.scatter(
    X[:, 0], y, c=gum.outlier_scores_, cmap="coolwarm", s=14, vmin=0, vmax=1
)
ax.plot(X[order, 0], data.y_noiseless[order], "k--", lw=1.5, label="true function")
ax.plot(grid[:, 0], gum.predict(grid), lw=2.5, label="DeepGUM")
ax.plot(grid[:, 0], l2.predict(grid), lw=2.5, label="plain L2")
fig.colorbar(points, ax=ax, label="DeepGUM outlier_scores_")
ax.set(xlabel="x", ylabel="y", ylim=(-4, 4), title="30 % wrong targets")
ax.legend(loc="lower right")
plt.show()

# %%
# How well were the wrong targets found?
# --------------------------------------
# The ROC-AUC of the scores against the true mask, next to the best any score can
# reach on this draw: the Bayes-optimal posterior computed from the true law.
print(f"ROC-AUC DeepGUM        {roc_auc_score(truly_wrong, gum.outlier_scores_):.3f}")
print(
    f"ROC-AUC Bayes-optimal  {roc_auc_score(truly_wrong, data.outlier_proba_bayes):.3f}"
)
print(
    f"flagged {gum.outliers_.sum()} rows, {np.sum(gum.outliers_ & truly_wrong)} correctly"
)
