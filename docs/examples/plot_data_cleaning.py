"""
Data cleaning with ``outlier_scores_``
=======================================

DeepGUM scores every training row by the probability that its target is wrong.
This example uses the scores the way a data-cleaning pass would: rank the rows,
inspect the most suspicious ones, drop the flagged rows and refit a plain model on
what is left.
"""

# %%
# A data set with 25 % wrong targets
# ----------------------------------
# Three features; the wrong targets are uniform draws on [-6, 6] (the clean targets
# have mean 0 and variance 1).
# The true mask is only used to check the result.
import matplotlib.pyplot as plt
import numpy as np

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import make_contaminated_regression

X, y, truly_wrong = make_contaminated_regression(
    300, 3, outlier_rate=0.25, noise=0.1, random_state=2
)
X_test, y_test, _ = make_contaminated_regression(
    1000, 3, outlier_rate=0.0, noise=0.0, random_state=3
)
model = DeepGUMRegressor(max_epochs=40, random_state=0).fit(X, y)
scores = model.outlier_scores_

# %%
# Rank and inspect
# ----------------
# The rows with the highest scores come first. Here we can check them against the
# truth; in practice this is the list to review by hand.
ranking = np.argsort(-scores)
print(" row   y        prediction  outlier_score  truly wrong")
for row in ranking[:8]:
    pred = model.predict(X[row : row + 1])[0]
    print(
        f"{row:4d}  {y[row]:7.3f}  {pred:10.3f}  {scores[row]:13.3f}  {truly_wrong[row]}"
    )

# %%
# Precision of the ranking: of the k most suspicious rows, how many are truly wrong?
# A perfect ranking stays at 1 until k reaches the number of wrong targets.
k = np.arange(1, len(y) + 1)
precision_at_k = np.cumsum(truly_wrong[ranking]) / k

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
ax0.scatter(k, scores[ranking], c=truly_wrong[ranking], cmap="coolwarm", s=8)
ax0.axhline(model.outlier_threshold, color="grey", ls="--", label="threshold 0.5")
ax0.set(
    xlabel="rank", ylabel="outlier_scores_", title="Scores, red = truly wrong target"
)
ax0.legend()
ax1.plot(k, precision_at_k)
ax1.axvline(truly_wrong.sum(), color="grey", ls="--", label="number of wrong targets")
ax1.set(xlabel="k", ylabel="precision among the top k", ylim=(0, 1.05))
ax1.legend(loc="lower left")
fig.tight_layout()
plt.show()

# %%
# Drop and refit
# --------------
# ``inlier_mask_`` keeps the rows whose score is at most ``outlier_threshold``. A
# plain L2 network refitted on them is compared with the same network on all rows
# and on the truly clean rows (the oracle, unknown in practice).
kept = model.inlier_mask_
print(
    f"dropped {np.sum(~kept)} rows: {np.sum(~kept & truly_wrong)} wrong targets, "
    f"{np.sum(~kept & ~truly_wrong)} correct ones"
)


def clean_rmse(mask):
    net = RobustNetRegressor(loss="l2", max_epochs=40, random_state=0)
    net.fit(X[mask], y[mask])
    return np.sqrt(np.mean((net.predict(X_test) - y_test) ** 2))


all_rows = np.ones(len(y), dtype=bool)
for name, mask in [
    ("L2 on all rows", all_rows),
    ("L2 on the rows DeepGUM kept", kept),
    ("L2 on the truly clean rows", ~truly_wrong),
]:
    print(f"{name:30s} clean-test RMSE {clean_rmse(mask):.3f}")
