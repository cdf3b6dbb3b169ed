"""Behaviour of the toy-face generator through its public function."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sk_deepgum.datasets import (
    TOY_FACE_GROUPS,
    TOY_FACE_TARGET_NAMES,
    make_toy_faces,
)

KINDS = ["uniform", "landmark", "swap", "shift"]


def _details(**kwargs):
    params = {"n_samples": 60, "image_size": 16, "random_state": 0}
    params.update(kwargs)
    return make_toy_faces(return_details=True, **params)


# ---------------------------------------------------------------------------
# Shapes, rates, determinism


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_dtypes_and_exact_rate(kind):
    n, rate = 73, 0.3
    X, y, mask = make_toy_faces(
        n, 20, outlier_rate=rate, outlier_kind=kind, random_state=0
    )
    assert X.shape == (n, 1, 20, 20) and X.dtype == np.float32
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert y.shape == (n, 13) and y.dtype == np.float64
    m = round(rate * n)
    if kind == "landmark":
        assert mask.shape == (n, len(TOY_FACE_GROUPS)) and mask.dtype == bool
        assert mask.sum(axis=0).tolist() == [m] * len(TOY_FACE_GROUPS)
    else:
        assert mask.shape == (n,) and mask.dtype == bool
        assert mask.sum() == m

    d = make_toy_faces(
        n, 20, outlier_rate=rate, outlier_kind=kind, random_state=0, return_details=True
    )
    np.testing.assert_array_equal(d.X, X)
    np.testing.assert_array_equal(d.y, y)
    np.testing.assert_array_equal(d.outlier_mask, mask)
    assert d.y_clean.shape == d.y_noiseless.shape == (n, 13)
    assert d.outlier_proba_bayes.shape == mask.shape
    assert d.groups == (TOY_FACE_GROUPS if kind == "landmark" else None)
    assert d.target_names == list(TOY_FACE_TARGET_NAMES)
    assert f"{m}/{n} " in d.law and "yaw ~ U(-40, 40)" in d.law


def test_deterministic_per_seed():
    a = make_toy_faces(30, 16, outlier_rate=0.2, random_state=3)
    b = make_toy_faces(30, 16, outlier_rate=0.2, random_state=3)
    c = make_toy_faces(30, 16, outlier_rate=0.2, random_state=4)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    for u, v in zip(a, c, strict=True):
        assert not np.array_equal(u, v)


def test_no_outliers_by_default():
    d = _details()
    assert not d.outlier_mask.any()
    np.testing.assert_array_equal(d.y, d.y_clean)
    np.testing.assert_array_equal(d.outlier_proba_bayes, 0.0)


# ---------------------------------------------------------------------------
# The targets are exact


def test_targets_are_where_the_features_are_drawn():
    # Noise-free rendering: eyes and nose tip are dark Gaussian bumps centred on
    # their targets. Away from strong poses (where the far eye nears the head's
    # edge, or the nose the mouth) the darkest pixel of a 5 x 5 window is the one
    # nearest the target, and a parabola through it and its neighbours puts the
    # minimum within a fraction of a pixel of the target.
    d = _details(n_samples=80, image_size=48, label_noise=0.0, pixel_noise=0.0)
    np.testing.assert_array_equal(d.y, d.y_noiseless)
    moderate = np.flatnonzero((np.abs(d.y[:, 10]) < 20) & (np.abs(d.y[:, 11]) < 15))
    assert moderate.size > 15
    img = d.X[:, 0].astype(float)
    for i in moderate:
        f = img[i]
        for k in (0, 1, 2):  # left eye, right eye, nose tip
            x, y = d.y[i, 2 * k], d.y[i, 2 * k + 1]
            r0, c0 = round(y) - 2, round(x) - 2
            dr, dc = np.unravel_index(np.argmin(f[r0 : r0 + 5, c0 : c0 + 5]), (5, 5))
            r, c = r0 + dr, c0 + dc
            assert (r, c) == (round(y), round(x)), (i, k)
            sub_r = r + 0.5 * (f[r - 1, c] - f[r + 1, c]) / (
                f[r - 1, c] - 2 * f[r, c] + f[r + 1, c]
            )
            sub_c = c + 0.5 * (f[r, c - 1] - f[r, c + 1]) / (
                f[r, c - 1] - 2 * f[r, c] + f[r, c + 1]
            )
            assert abs(sub_r - y) < 0.2 and abs(sub_c - x) < 0.2, (i, k)


def test_landmarks_inside_the_image_and_pose_in_its_range():
    d = _details(n_samples=500, image_size=16, label_noise=0.0)
    lm = d.y_noiseless[:, :10]
    assert lm.min() >= 0.0 and lm.max() <= 15.0
    pose = d.y_noiseless[:, 10:]
    assert np.all(np.abs(pose) <= [40.0, 25.0, 30.0])
    # The draw fills the ranges (uniform pose prior).
    assert np.all(np.abs(pose).max(axis=0) > [38.0, 23.0, 28.0])


def test_pose_conventions():
    # R = Rz(roll) Rx(pitch) Ry(yaw) maps the eye axis (1, 0, 0) to
    # Rz(roll) (cos yaw, sin pitch sin yaw, .): on screen (y down) the eye line's
    # angle is exactly roll + atan2(sin pitch sin yaw, cos yaw).
    d = _details(n_samples=300, image_size=32, label_noise=0.0)
    pts = d.y_noiseless[:, :10].reshape(-1, 5, 2)
    yaw, pitch, roll = np.radians(d.y_noiseless[:, 10:].T)
    eye = pts[:, 1] - pts[:, 0]
    angle = np.arctan2(eye[:, 1], eye[:, 0])
    np.testing.assert_allclose(
        angle, roll + np.arctan2(np.sin(pitch) * np.sin(yaw), np.cos(yaw)), atol=1e-9
    )
    # Positive yaw moves the nose right and positive pitch moves it up, in the
    # face's own (rolled) frame, relative to the centre of eyes and mouth.
    off = pts[:, 2] - pts[:, [0, 1, 3, 4]].mean(axis=1)
    across = np.cos(roll) * off[:, 0] + np.sin(roll) * off[:, 1]
    down = -np.sin(roll) * off[:, 0] + np.cos(roll) * off[:, 1]
    assert np.corrcoef(across, yaw)[0, 1] > 0.9
    assert np.corrcoef(down, pitch)[0, 1] < -0.9


@pytest.mark.parametrize("sd", [0.7, np.r_[np.full(10, 0.3), 2.0, 1.0, 0.0]])
def test_label_noise_level(sd):
    d = _details(n_samples=3000, label_noise=sd)
    noise = d.y_clean - d.y_noiseless
    np.testing.assert_allclose(noise.std(axis=0), np.broadcast_to(sd, 13), atol=0.06)


# ---------------------------------------------------------------------------
# Outlier kinds


def test_uniform_replaces_whole_rows_inside_the_box():
    d = _details(outlier_rate=0.4, outlier_kind="uniform")
    changed = np.all(d.y != d.y_clean, axis=1)
    np.testing.assert_array_equal(changed, d.outlier_mask)
    np.testing.assert_array_equal(d.y[~d.outlier_mask], d.y_clean[~d.outlier_mask])
    bad = d.y[d.outlier_mask]
    assert bad[:, :10].min() >= 0.0 and bad[:, :10].max() <= 15.0
    assert np.all(np.abs(bad[:, 10:]) <= [40.0, 25.0, 30.0])


def test_landmark_replaces_exactly_the_masked_groups():
    d = _details(outlier_rate=0.25, outlier_kind="landmark")
    for g, cols in enumerate(TOY_FACE_GROUPS):
        changed = np.any(d.y[:, cols] != d.y_clean[:, cols], axis=1)
        np.testing.assert_array_equal(changed, d.outlier_mask[:, g])


def test_swap_takes_another_rows_clean_target():
    d = _details(outlier_rate=0.3, outlier_kind="swap")
    for i in np.flatnonzero(d.outlier_mask):
        donors = np.flatnonzero(np.all(d.y_clean == d.y[i], axis=1))
        assert donors.size == 1 and donors[0] != i
    np.testing.assert_array_equal(d.y[~d.outlier_mask], d.y_clean[~d.outlier_mask])


def test_shift_default_and_custom_offsets():
    d = _details(image_size=20, outlier_rate=0.3, outlier_kind="shift")
    expected = np.r_[np.full(10, 2.0), np.full(3, 10.0)]  # 0.1 * 20 px, 10 degrees
    diff = d.y - d.y_clean
    np.testing.assert_allclose(diff[d.outlier_mask], np.tile(expected, (18, 1)))
    np.testing.assert_array_equal(diff[~d.outlier_mask], 0.0)
    custom = _details(outlier_rate=0.3, outlier_kind="shift", shift=-4.0)
    np.testing.assert_allclose((custom.y - custom.y_clean)[custom.outlier_mask], -4.0)
    assert "shift = -4" in custom.law


# ---------------------------------------------------------------------------
# Bayes-optimal posterior


@pytest.mark.parametrize("kind", KINDS)
def test_bayes_proba_is_exact_without_label_noise(kind):
    d = _details(outlier_rate=0.3, outlier_kind=kind, label_noise=0.0)
    np.testing.assert_array_equal(d.outlier_proba_bayes, d.outlier_mask)


@pytest.mark.parametrize("kind", KINDS)
def test_bayes_proba_is_a_calibrated_near_perfect_score(kind):
    d = _details(n_samples=400, outlier_rate=0.3, outlier_kind=kind)
    p = d.outlier_proba_bayes
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    assert roc_auc_score(d.outlier_mask.ravel(), p.ravel()) > 0.98
    assert abs(p.mean() - 0.3) < 0.03


def test_bayes_proba_with_zero_shift_is_the_prior():
    # Zero shift: outliers are indistinguishable from inliers.
    d = _details(outlier_rate=0.25, outlier_kind="shift", shift=0.0)
    np.testing.assert_allclose(d.outlier_proba_bayes, 0.25)
    d0 = _details(outlier_rate=0.25, outlier_kind="shift", shift=0.0, label_noise=0.0)
    np.testing.assert_allclose(d0.outlier_proba_bayes, 0.25)


# ---------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 0}, "n_samples must be an integer >= 1"),
        ({"n_samples": 2.5}, "n_samples must be an integer >= 1"),
        ({"image_size": 8}, "image_size must be >= 16"),
        ({"label_noise": -0.1}, "label_noise must be >= 0"),
        ({"label_noise": [0.1, 0.2]}, "label_noise must be a scalar or have one"),
        ({"label_noise": np.nan}, "label_noise must be finite"),
        ({"outlier_rate": 1.0}, r"outlier_rate must be in \[0, 1\)"),
        ({"outlier_rate": True}, r"outlier_rate must be in \[0, 1\)"),
        ({"outlier_kind": "flip"}, "outlier_kind must be one of"),
        ({"pixel_noise": -1.0}, "pixel_noise must be a finite float >= 0"),
        ({"shift": [1.0, 2.0]}, "shift must be a scalar or have one"),
        ({"random_state": "seed"}, "random_state must be"),
    ],
)
def test_bad_input_raises(kwargs, match):
    params = {"n_samples": 5, "image_size": 16}
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_toy_faces(**params)


def test_user_arrays_are_not_modified():
    sd = np.full(13, 0.2)
    shift = np.arange(13.0)
    _details(outlier_kind="shift", outlier_rate=0.2, label_noise=sd, shift=shift)
    np.testing.assert_array_equal(sd, 0.2)
    np.testing.assert_array_equal(shift, np.arange(13.0))
