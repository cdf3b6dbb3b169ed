"""
DeepGUM versus Huber and Tukey as contamination grows
=====================================================

The same network trained with four losses on data whose share of wrong targets grows
from 0 to 60 %: plain L2, Huber's loss and Tukey's biweight (both on residuals scaled
by the batch's MAD, as in Belagiannis et al., ICCV 2015) via
:class:`~sk_deepgum.baselines.RobustNetRegressor`, and DeepGUM
(:class:`~sk_deepgum.DeepGUMRegressor`). The oracle is L2 on the truly clean rows.

Small data and few epochs keep this example fast; ``benchmarks/bench_suite.py``
measures the same comparison with more data, epochs and seeds (see the benchmarks
page), where the ranking between the robust losses can differ.
"""

# %%
# One draw per contamination rate, every loss on it
# -------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import make_contaminated_regression

X_test, y_test, _ = make_contaminated_regression(
    1000, n_features=3, outlier_rate=0.0, noise=0.0, random_state=100
)
rates = [0.0, 0.2, 0.4, 0.6]
params = dict(max_epochs=40, random_state=0)
models = {
    "L2": lambda: RobustNetRegressor(loss="l2", **params),
    "Huber": lambda: RobustNetRegressor(loss="huber", **params),
    "Tukey": lambda: RobustNetRegressor(loss="tukey", **params),
    "DeepGUM": lambda: DeepGUMRegressor(**params),
}
errors = {name: [] for name in [*models, "oracle"]}
for rate in rates:
    X, y, wrong = make_contaminated_regression(
        400, n_features=3, outlier_rate=rate, noise=0.1, random_state=0
    )
    for name, make in models.items():
        prediction = make().fit(X, y).predict(X_test)
        errors[name].append(np.sqrt(np.mean((prediction - y_test) ** 2)))
    oracle = RobustNetRegressor(loss="l2", **params).fit(X[~wrong], y[~wrong])
    errors["oracle"].append(np.sqrt(np.mean((oracle.predict(X_test) - y_test) ** 2)))

for name, values in errors.items():
    print(f"{name:8s}", "  ".join(f"{v:.3f}" for v in values))

# %%
# Clean-test error against contamination
# --------------------------------------
# L2 degrades with the first wrong targets; the M-estimators bound each residual's
# influence; DeepGUM estimates which targets are wrong and drops their weight.
fig, ax = plt.subplots(figsize=(6.5, 4))
for name, values in errors.items():
    style = "k--" if name == "oracle" else "-o"
    ax.plot([100 * r for r in rates], values, style, label=name)
ax.set(
    xlabel="wrong targets (%)",
    ylabel="clean-test RMSE",
    yscale="log",
    title="Same network, four losses",
)
ax.legend()
plt.show()
