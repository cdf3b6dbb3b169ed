"""
Model selection on contaminated data: Pipeline + GridSearchCV
=============================================================

Cross-validation on contaminated data has a trap: the validation folds contain wrong
targets too, and R² or MSE on them rewards a model for predicting the wrong targets.
The scorers in :mod:`sk_deepgum.metrics` judge a model by its *inlier* residuals
instead (a Gaussian-uniform mixture is fitted to the held-out residuals), so they can
be used in :class:`~sklearn.model_selection.GridSearchCV` as is.

Here a :class:`~sklearn.pipeline.Pipeline` (feature scaling, then a network
regressor) is tuned over the training loss (DeepGUM or plain L2) and the learning rate,
and each candidate is scored with R² and with the robust scorers.
"""

# %%
# Data and search
# ---------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import make_contaminated_regression
from sk_deepgum.metrics import ROBUST_SCORERS

X, y, _ = make_contaminated_regression(
    200, 3, outlier_rate=0.3, noise=0.1, random_state=0
)
X_test, y_test, _ = make_contaminated_regression(
    1000, 3, outlier_rate=0.0, noise=0.0, random_state=1
)

pipeline = Pipeline(
    [("scale", StandardScaler()), ("model", DeepGUMRegressor(random_state=0))]
)
epochs = 20
param_grid = {
    "model": [
        DeepGUMRegressor(max_epochs=epochs, random_state=0),
        RobustNetRegressor(loss="l2", max_epochs=epochs, random_state=0),
    ],
    "model__lr": [1e-3, 1e-2],
}
scoring = {"r2": "r2", **ROBUST_SCORERS}
search = GridSearchCV(
    pipeline,
    param_grid,
    scoring=scoring,
    refit="gum_log_likelihood",
    cv=KFold(3, shuffle=True, random_state=0),
)
search.fit(X, y)
print("chosen by gum_log_likelihood:", search.best_params_)

# %%
# What each scorer prefers
# ------------------------
# For every candidate: its mean cross-validated score under each scorer, and (the
# ground truth the scorers try to predict, unknown in practice) its RMSE on a clean
# test set after refitting on all the training data.
results = search.cv_results_
labels = [
    f"{'DeepGUM' if isinstance(p['model'], DeepGUMRegressor) else 'L2'}\n"
    f"lr={p['model__lr']:g}"
    for p in results["params"]
]
clean_rmse = []
for params in results["params"]:
    candidate = pipeline.set_params(**params)
    candidate.fit(X, y)
    clean_rmse.append(np.sqrt(np.mean((candidate.predict(X_test) - y_test) ** 2)))

names = ["r2", "gum_log_likelihood", "neg_inlier_mse", "neg_median_absolute_error"]
fig, axes = plt.subplots(1, len(names) + 1, figsize=(14, 3.6), sharey=True)
positions = np.arange(len(labels))
for ax, name in zip(axes, names, strict=False):  # the last axis is the RMSE
    values = results[f"mean_test_{name}"]
    best = np.argmax(values)
    colours = ["C1" if i == best else "C0" for i in positions]
    ax.barh(positions, values, color=colours)
    ax.set_title(f"{name}\n(higher is better)", fontsize=9)
ax = axes[-1]
best = np.argmin(clean_rmse)
ax.barh(positions, clean_rmse, color=["C1" if i == best else "C2" for i in positions])
ax.set_title("clean-test RMSE\n(lower is better)", fontsize=9)
axes[0].set_yticks(positions, labels, fontsize=8)
fig.suptitle("Cross-validated scores on contaminated folds (orange: each one's pick)")
fig.tight_layout()
plt.show()

# %%
# The pick of each scorer, in words. R² on folds with 30 % wrong targets is
# dominated by those targets and says little about the model; the robust scorers
# agree with the clean-test error, which cross-validation cannot see.
for name in names:
    best = int(np.argmax(results[f"mean_test_{name}"]))
    print(f"{name:27s} picks {labels[best].replace(chr(10), ', ')}")
best = int(np.argmin(clean_rmse))
print(f"{'clean-test RMSE':27s} picks {labels[best].replace(chr(10), ', ')}")
