"""
Landmarks on images with a ConvNet and per-landmark latents
===========================================================

:func:`~sk_deepgum.datasets.make_toy_faces` renders grey-scale "toy faces" whose five
landmarks (eyes, nose tip, mouth corners) and head pose (yaw, pitch, roll) are known
exactly. Here 30 % of the individual landmarks/angles are replaced by random values
(``outlier_kind="landmark"``): most images have a few wrong targets, not all of them.

DeepGUM with one latent per landmark (``groups=TOY_FACE_GROUPS``) flags the wrong
landmarks themselves instead of whole images; the backbone is the package's small
:class:`~sk_deepgum.backbones.ConvNet`. Few images and epochs keep this example fast.
"""

# %%
# Images, targets and the wrong landmarks
# ---------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from sk_deepgum import DeepGUMRegressor
from sk_deepgum.backbones import ConvNet
from sk_deepgum.baselines import RobustNetRegressor
from sk_deepgum.datasets import TOY_FACE_GROUPS, make_toy_faces

faces = make_toy_faces(
    500, outlier_rate=0.3, outlier_kind="landmark", random_state=0, return_details=True
)
test = make_toy_faces(300, random_state=1, return_details=True)
print("images", faces.X.shape, "targets", faces.y.shape)
print("wrong entries per group:", faces.outlier_mask.sum(axis=0))

# %%
# L2 and DeepGUM with the same ConvNet
# ------------------------------------
params = dict(module=ConvNet, max_epochs=10, random_state=0)
gum = DeepGUMRegressor(groups=TOY_FACE_GROUPS, **params).fit(faces.X, faces.y)
l2 = RobustNetRegressor(loss="l2", **params).fit(faces.X, faces.y)


def landmark_error(model):
    diff = (model.predict(test.X)[:, :10] - test.y_noiseless[:, :10]).reshape(-1, 5, 2)
    return np.sqrt((diff**2).sum(axis=2)).mean()


print(f"mean landmark error (px): DeepGUM {landmark_error(gum):.2f}, ")
print(f"                          L2      {landmark_error(l2):.2f}")
auc = roc_auc_score(faces.outlier_mask.ravel(), gum.group_outlier_scores_.ravel())
print(f"ROC-AUC of the per-landmark scores: {auc:.3f}")

# %%
# Predictions on clean test faces
# -------------------------------
fig, axes = plt.subplots(1, 4, figsize=(9, 2.8))
for ax, i in zip(axes, range(4), strict=True):
    ax.imshow(test.X[i, 0], cmap="gray")
    truth = test.y_noiseless[i, :10].reshape(5, 2)
    ax.plot(*truth.T, "g+", ms=10, mew=2, label="truth")
    ax.plot(
        *gum.predict(test.X[i : i + 1])[0, :10].reshape(5, 2).T, "r.", label="DeepGUM"
    )
    ax.plot(*l2.predict(test.X[i : i + 1])[0, :10].reshape(5, 2).T, "bx", label="L2")
    ax.set_axis_off()
axes[0].legend(fontsize=7, loc="lower left")
fig.suptitle("Landmarks on clean test faces")
plt.show()
