"""
Streaming chunks with ``partial_fit``, fine-tuning with ``warm_start``
======================================================================

When the rows do not fit in memory, or arrive over time, ``partial_fit`` trains on
one chunk at a time: one pass over the chunk, then an EM update of the mixture,
warm-started from the last one, on the chunk's residuals. This example streams a
contaminated table in chunks, compares it with ``fit`` on the whole table (same
epochs, same batch size) and with plain L2, then fine-tunes the fitted model on
new rows with ``warm_start=True``.
"""

# %%
# A table with 30 % wrong targets, in six chunks
# ----------------------------------------------
# The wrong targets are uniform draws on [-6, 6]; a clean test set of the same law
# measures what each model learnt.
import matplotlib.pyplot as plt
import numpy as np

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import make_contaminated_regression

X, y, truly_wrong = make_contaminated_regression(
    1200, 5, outlier_rate=0.3, random_state=0
)
# Other draws of the same law: the clean function depends on the number of features
# and targets only; random_state draws the rows.
X_test, y_test, _ = make_contaminated_regression(
    2000, 5, outlier_rate=0.0, noise=0.0, random_state=1
)
chunks = np.array_split(np.arange(len(X)), 6)


def rmse(model):
    return float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2)))


# %%
# Stream, pass after pass
# -----------------------
# Each call sees 200 rows once. ``outlier_scores_`` describes the last chunk;
# ``score_outliers`` scores any rows with the current model.
passes, batch = 25, 50
stream = DeepGUMRegressor(batch_size=batch, random_state=0)
stream_rmse = []
for _ in range(passes):
    for rows in chunks:
        stream.partial_fit(X[rows], y[rows])
    stream_rmse.append(rmse(stream))

full = DeepGUMRegressor(
    max_epochs=passes, min_rows_per_epoch=0, batch_size=batch, random_state=0
).fit(X, y)
l2 = RobustNetRegressor(
    max_epochs=passes, min_rows_per_epoch=0, batch_size=batch, random_state=0
).fit(X, y)
flagged = stream.score_outliers(X, y) > stream.outlier_threshold
print(
    f"clean-test RMSE: streamed {stream_rmse[-1]:.3f}, fit {rmse(full):.3f}, "
    f"plain L2 {rmse(l2):.3f}"
)
print(
    f"streamed model: {stream.n_iter_} partial_fit calls, inlier prior "
    f"{stream.mixture_.weights_[0]:.2f} (truth 0.70), "
    f"{(flagged & truly_wrong).sum()} of {truly_wrong.sum()} wrong targets flagged, "
    f"{(flagged & ~truly_wrong).sum()} correct ones"
)

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(
    np.arange(1, passes + 1), stream_rmse, marker="o", label="partial_fit, 6 chunks"
)
ax.axhline(rmse(full), color="C1", ls="--", label=f"fit, {passes} epochs")
ax.axhline(rmse(l2), color="C3", ls=":", label=f"plain L2, {passes} epochs")
ax.set(xlabel="passes over the chunks", ylabel="clean-test RMSE", yscale="log")
ax.legend()
fig.tight_layout()

# %%
# Fine-tune on new rows with ``warm_start``
# -----------------------------------------
# New rows of the same law arrive, with the same share of wrong targets. With
# ``warm_start=True`` a second ``fit`` continues from the fitted network (weights and
# optimizer moments), the fitted target scaling and ``mixture_`` (the first EM round
# starts from it, with no warm-up): here ten more epochs at a smaller learning rate.
X_new, y_new, _ = make_contaminated_regression(400, 5, outlier_rate=0.3, random_state=2)
before = rmse(full)
full.set_params(warm_start=True, max_epochs=10, lr=3e-4).fit(X_new, y_new)
print(
    f"fine-tuned on 400 new rows: RMSE {before:.3f} -> {rmse(full):.3f}; "
    f"n_iter_ {full.n_iter_} epochs in all, {len(full.history_)} EM rounds in "
    "history_"
)
