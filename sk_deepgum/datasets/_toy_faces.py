"""Toy face images whose landmarks and head pose are exact by construction.

No landmark, age or head-pose image set can be installed offline, so
:func:`make_toy_faces` renders one with numpy only: a rigid 3-D head (an ellipsoid
carrying two eyes, a nose tip and two mouth corners) is rotated by a random pose,
projected orthographically and rasterised with soft edges, lighting and pixel noise.
The targets are the geometry the renderer used, so they are exact; wrong targets are
then injected with :func:`sk_deepgum.datasets.contaminate`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import expit, logsumexp
from sklearn.utils import Bunch

from sk_deepgum.datasets._common import (
    check_nonnegative_float,
    check_positive_int,
    check_rate,
    check_rng,
    gaussian_logpdf,
    n_contaminated,
    outlier_posterior,
    per_column,
)
from sk_deepgum.datasets._regression import contaminate

__all__ = ["TOY_FACE_GROUPS", "TOY_FACE_TARGET_NAMES", "make_toy_faces"]

# sk_deepgum.datasets re-exports this module, so the helpers reused from it are
# imported inside the functions: a top-level import would be circular.

TOY_FACE_TARGET_NAMES = (
    "left_eye_x",
    "left_eye_y",
    "right_eye_x",
    "right_eye_y",
    "nose_x",
    "nose_y",
    "left_mouth_x",
    "left_mouth_y",
    "right_mouth_x",
    "right_mouth_y",
    "yaw",
    "pitch",
    "roll",
)
#: Independent target groups: each landmark's (x, y) pair, then each angle.
TOY_FACE_GROUPS = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10], [11], [12]]

_N_TARGETS = len(TOY_FACE_TARGET_NAMES)
_N_LANDMARK_COLS = 10
_KINDS = ("uniform", "landmark", "swap", "shift")

# --- The law's constants (all quoted in the docstring and in ``law``) -------------
# Pose half-ranges in degrees: yaw ~ U(-40, 40), pitch ~ U(-25, 25), roll ~ U(-30, 30).
_POSE_HALF_RANGE = np.array([40.0, 25.0, 30.0])
# Head ellipsoid semi-axes (x: width, y: height, z: depth) in head units.
_HEAD_AXES = np.array([0.8, 1.0, 0.85])
# Head half-height s in pixels: s ~ U(0.27, 0.33) * image_size.
_SCALE_RANGE = (0.27, 0.33)
# Head centre: (image_size - 1) / 2 + U(-0.06, 0.06) * image_size per axis.
_CENTRE_JITTER = 0.06
_BACKGROUND_RANGE = (0.05, 0.35)
_SKIN_RANGE = (0.55, 0.9)
_LIGHT_MAX = 0.25  # strength of the linear lighting gradient across the head
_DEPTH_RANGE = (0.6, 0.9)  # how dark the features are, relative to the skin
_EDGE_PX = 0.5  # width of the head's soft edge, pixels
_MIN_SIGMA_PX = 0.5  # features never thinner than this, so small images stay sampled
_DEFAULT_PIXEL_NOISE = 0.05
_DEFAULT_LABEL_NOISE = 0.5
_DEFAULT_SHIFT_FRACTION = 0.1  # landmark shift, fraction of image_size (x and y)
_DEFAULT_SHIFT_DEG = 10.0  # angle shift
_N_REFERENCE = 4096  # Monte Carlo draws for the "swap" outlier density
_CHUNK_PIXELS = 1 << 18  # render this many pixels at a time to bound memory


def _surface_z(x: float, y: float) -> float:
    """Depth of the ellipsoid's front surface at head coordinates (x, y)."""
    ax, ay, az = _HEAD_AXES
    return float(az * math.sqrt(1.0 - (x / ax) ** 2 - (y / ay) ** 2))


# Landmarks in head coordinates (x right, y down, z towards the camera). "Left" is
# the image's left at zero pose. Eyes and mouth corners lie on the head's surface;
# the nose tip sticks out in front of it, so it moves most with yaw and pitch.
_LANDMARKS_3D = np.array(
    [
        [-0.33, -0.2, _surface_z(-0.33, -0.2)],
        [0.33, -0.2, _surface_z(0.33, -0.2)],
        [0.0, 0.1, 1.0],
        [-0.28, 0.55, _surface_z(-0.28, 0.55)],
        [0.28, 0.55, _surface_z(0.28, 0.55)],
    ]
)
# Blob widths (Gaussian sd) as fractions of s: eyes, nose, mouth corners, mouth line.
_SIGMA_EYE, _SIGMA_NOSE, _SIGMA_CORNER, _SIGMA_MOUTH = 0.08, 0.06, 0.05, 0.04


# ---------------------------------------------------------------------------
# Geometry


def _rotation_matrices(pose_deg: np.ndarray) -> np.ndarray:
    r"""Head rotations ``R = R_z(roll) R_x(pitch) R_y(yaw)`` of shape (n, 3, 3).

    With x right, y down and z towards the camera:
    ``R_y(a) = [[c, 0, s], [0, 1, 0], [-s, 0, c]]`` (positive yaw moves the nose to
    the image's right), ``R_x(b) = [[1, 0, 0], [0, c, -s], [0, s, c]]`` (positive
    pitch moves the nose up) and ``R_z(g) = [[c, -s, 0], [s, c, 0], [0, 0, 1]]``
    (positive roll turns the face clockwise on screen).
    """
    yaw, pitch, roll = np.deg2rad(pose_deg).T
    n = pose_deg.shape[0]
    zeros, ones = np.zeros(n), np.ones(n)

    def stack(rows):
        return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)

    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    r_yaw = stack([[cy, zeros, sy], [zeros, ones, zeros], [-sy, zeros, cy]])
    r_pitch = stack([[ones, zeros, zeros], [zeros, cp, -sp], [zeros, sp, cp]])
    r_roll = stack([[cr, -sr, zeros], [sr, cr, zeros], [zeros, zeros, ones]])
    return r_roll @ r_pitch @ r_yaw


def _draw_geometry(rng: np.random.Generator, n: int, image_size: int) -> dict:
    """Pose (degrees), head half-height ``s`` and centre ``c`` (pixels) of n heads."""
    pose = rng.uniform(-_POSE_HALF_RANGE, _POSE_HALF_RANGE, size=(n, 3))
    scale = rng.uniform(*_SCALE_RANGE, size=n) * image_size
    centre = (image_size - 1) / 2 + rng.uniform(
        -_CENTRE_JITTER, _CENTRE_JITTER, size=(n, 2)
    ) * image_size
    return {"pose": pose, "scale": scale, "centre": centre}


def _exact_targets(geometry: dict) -> tuple[np.ndarray, np.ndarray]:
    """Exact targets (n, 13) and the rotations (n, 3, 3) of the drawn heads.

    Orthographic projection: landmark ``k`` lands at pixel
    ``u_k = c + s * (R p_k)[:2]`` (x = column, y = row, (0, 0) the centre of the
    top-left pixel).
    """
    rot = _rotation_matrices(geometry["pose"])
    rotated = np.einsum("nij,kj->nki", rot, _LANDMARKS_3D)  # (n, 5, 3)
    pixels = (
        geometry["centre"][:, None, :]
        + geometry["scale"][:, None, None] * (rotated[:, :, :2])
    )
    y = np.concatenate([pixels.reshape(len(rot), -1), geometry["pose"]], axis=1)
    return y, rot


# ---------------------------------------------------------------------------
# Rendering


def _projected_head(rot: np.ndarray) -> np.ndarray:
    r"""Matrices (n, 2, 2) of the head's outline: the ellipse ``d^T M d = 1``.

    The rotated ellipsoid is ``q^T A q <= 1`` with ``A = R diag(a^-2) R^T``. Its
    orthographic shadow on the image plane is the set of (x, y) for which some z
    satisfies it: minimising over z gives the Schur complement
    ``M = A_{xy,xy} - A_{xy,z} A_{z,xy} / A_{zz}``.
    """
    A = rot @ np.diag(_HEAD_AXES**-2.0) @ rot.transpose(0, 2, 1)
    a_xz = A[:, :2, 2]
    return A[:, :2, :2] - a_xz[:, :, None] * a_xz[:, None, :] / A[:, 2, 2, None, None]


def _blob(du: np.ndarray, dv: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Gaussian bump ``exp(-(du^2 + dv^2) / (2 sigma^2))``, peak 1 at its centre."""
    return np.exp(-(du**2 + dv**2) / (2.0 * sigma**2))


def _render(
    y_exact: np.ndarray,
    rot: np.ndarray,
    geometry: dict,
    looks: dict,
    noise: np.ndarray,
    image_size: int,
) -> np.ndarray:
    """Rasterise heads into float32 images of shape (n, 1, S, S) in [0, 1].

    Pixel (row v, column u) of face i:

    - head opacity ``alpha = expit((1 - sqrt(d^T M d)) s / 0.5)``, ``d = (p - c) / s``;
    - base intensity ``bg (1 - alpha) + alpha skin (1 + g <l, d>)`` (a linear light
      gradient of strength g in direction l across the head);
    - features multiply it by ``prod_k (1 - depth_k b_k)`` where ``b_k`` are Gaussian
      bumps of peak 1 at the eyes, nose tip and mouth corners, and a Gaussian ridge
      along the mouth segment (depths: eyes ``depth``, nose ``0.7 depth``, mouth
      ``0.8 depth``);
    - plus the pixel noise, then clipped to [0, 1].
    """
    n = y_exact.shape[0]
    grid = np.arange(image_size, dtype=float)
    M = _projected_head(rot)
    s, c = geometry["scale"], geometry["centre"]
    lm = y_exact[:, :_N_LANDMARK_COLS].reshape(n, 5, 2)
    out = np.empty((n, 1, image_size, image_size), dtype=np.float32)
    chunk = max(1, _CHUNK_PIXELS // image_size**2)
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))

        def col(a, sl=sl):
            # Per-face values broadcast against the (rows, columns) grid.
            return a[sl, None, None]

        u, v = grid[None, None, :], grid[None, :, None]
        ss = col(s)
        dx, dy = (u - col(c[:, 0])) / ss, (v - col(c[:, 1])) / ss
        m = M[sl]
        quad = (
            m[:, 0, 0, None, None] * dx**2
            + 2.0 * m[:, 0, 1, None, None] * dx * dy
            + m[:, 1, 1, None, None] * dy**2
        )
        alpha = expit((1.0 - np.sqrt(quad)) * ss / _EDGE_PX)
        angle = col(looks["light_angle"])
        shade = 1.0 + col(looks["light"]) * (np.cos(angle) * dx + np.sin(angle) * dy)
        img = (
            col(looks["background"]) * (1.0 - alpha)
            + alpha * col(looks["skin"]) * shade
        )

        depth = col(looks["depth"])
        sig = {
            name: np.maximum(frac * ss, _MIN_SIGMA_PX)
            for name, frac in [
                ("eye", _SIGMA_EYE),
                ("nose", _SIGMA_NOSE),
                ("corner", _SIGMA_CORNER),
                ("mouth", _SIGMA_MOUTH),
            ]
        }
        # Landmark coordinates of this chunk, each broadcast as (faces, 1, 1).
        px = [lm[sl, k, 0, None, None] for k in range(5)]
        py = [lm[sl, k, 1, None, None] for k in range(5)]
        features = [
            (_blob(u - px[0], v - py[0], sig["eye"]), 1.0),
            (_blob(u - px[1], v - py[1], sig["eye"]), 1.0),
            (_blob(u - px[2], v - py[2], sig["nose"]), 0.7),
            (_blob(u - px[3], v - py[3], sig["corner"]), 0.8),
            (_blob(u - px[4], v - py[4], sig["corner"]), 0.8),
        ]
        # Mouth line: distance to the segment from corner a to corner a + b, t in
        # [0, 1] the position of the nearest point along it.
        bx, by = px[4] - px[3], py[4] - py[3]
        t = np.clip(((u - px[3]) * bx + (v - py[3]) * by) / (bx**2 + by**2), 0.0, 1.0)
        features.append(
            (_blob(u - px[3] - t * bx, v - py[3] - t * by, sig["mouth"]), 0.8)
        )
        for bump, weight in features:
            img = img * (1.0 - weight * depth * bump)
        img = img + noise[sl]
        out[sl, 0] = np.clip(img, 0.0, 1.0)
    return out


# ---------------------------------------------------------------------------
# Outliers and the Bayes posterior


def _uniform_box(image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Plausible range of each target: the image for landmarks, the pose prior's."""
    low = np.concatenate([np.zeros(_N_LANDMARK_COLS), -_POSE_HALF_RANGE])
    high = np.concatenate(
        [np.full(_N_LANDMARK_COLS, image_size - 1.0), _POSE_HALF_RANGE]
    )
    return low, high


def _log_swap_density(y: np.ndarray, reference: np.ndarray, sd: np.ndarray):
    r"""Monte Carlo log-density of a donor's clean target row, (n,).

    A swapped row is another sample's ``y_clean = t + eps`` with ``t`` the exact
    targets of a face drawn from the law and ``eps ~ N(0, diag(sd^2))``, so its
    density is ``E_t[N(y; t, diag(sd^2))]``, estimated by the mean over the M
    reference rows ``t_m``:
    ``log p(y) ~= logsumexp_m(-||(y - t_m) / sd||^2 / 2) - log M
    - sum_j log(sd_j) - (D / 2) log(2 pi)``.
    """
    z, w = y / sd, reference / sd
    const = -np.sum(np.log(sd)) - 0.5 * y.shape[1] * math.log(2.0 * math.pi)
    out = np.empty(len(y))
    w2 = np.sum(w**2, axis=1)
    for start in range(0, len(y), 512):
        zc = z[start : start + 512]
        # ||z - w||^2 = ||z||^2 + ||w||^2 - 2 z.w, by matmul; rounding can dip < 0.
        sq = np.sum(zc**2, axis=1)[:, None] + w2[None, :] - 2.0 * zc @ w.T
        out[start : start + 512] = logsumexp(-0.5 * np.maximum(sq, 0.0), axis=1)
    return out - math.log(len(reference)) + const


def _bayes_outlier_proba(
    y: np.ndarray,
    y_exact: np.ndarray,
    units: list[list[int]],
    prior: float,
    kind: str,
    sd: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    shift: np.ndarray,
    reference: np.ndarray | None,
) -> np.ndarray:
    """P(unit is an outlier | image, its target values), shape (n, len(units)).

    A unit is a row (row kinds) or a group (``"landmark"``); units are contaminated
    independently with prior ``prior``, so each posterior depends on its own columns
    only. Columns with zero label noise carry a point mass for inliers, which no
    continuous outlier law matches: there the posterior is 0 when the residual is
    exactly 0 and 1 otherwise (for ``"shift"``, 1 when it is exactly the shift;
    columns whose shift is also 0 carry no information and are left out).
    """
    n = y.shape[0]
    if prior == 0.0:
        return np.zeros((n, len(units)))
    resid = y - y_exact
    proba = np.empty((n, len(units)))
    for g, cols in enumerate(units):
        cols = np.asarray(cols)
        r, s = resid[:, cols], sd[cols]
        cont, delta = s > 0, s == 0
        if kind in ("uniform", "landmark"):
            inside = np.all((y[:, cols] >= low[cols]) & (y[:, cols] <= high[cols]), 1)
            # Density of the uniform box over the continuous columns: prod 1/width.
            log_box = -np.sum(np.log(high[cols] - low[cols])[cont])
            log_out = np.where(inside, log_box, -np.inf)
            out_ok = inside
        elif kind == "shift":
            log_out = gaussian_logpdf(r[:, cont] - shift[cols][cont], s[cont])
            # Same float operations as contaminate's, so an exact comparison holds.
            shifted = y_exact[:, cols] + shift[cols]
            out_ok = np.all(y[:, cols][:, delta] == shifted[:, delta], axis=1)
        else:
            log_out = (
                _log_swap_density(y[:, cols], reference[:, cols], s)
                if not delta.any()
                else np.zeros(n)  # decided by the point-mass rule below
            )
            out_ok = np.ones(n, dtype=bool)
        p = outlier_posterior(gaussian_logpdf(r[:, cont], s[cont]), log_out, prior)
        if delta.any():
            in_ok = np.all(r[:, delta] == 0.0, axis=1)
            both = in_ok & out_ok if kind == "shift" else np.zeros(n, dtype=bool)
            p = np.where(both, p, np.where(in_ok, 0.0, np.where(out_ok, 1.0, prior)))
        proba[:, g] = p
    return proba


# ---------------------------------------------------------------------------
# Public generator


def _check_per_target(value, name: str) -> np.ndarray:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a float or 13 floats; got {value!r}.")
    return per_column(value, _N_TARGETS, name)


def make_toy_faces(
    n_samples: int = 2000,
    image_size: int = 32,
    label_noise: float | Sequence[float] | np.ndarray = _DEFAULT_LABEL_NOISE,
    outlier_rate: float = 0.0,
    outlier_kind: str = "uniform",
    random_state=None,
    return_details: bool = False,
    *,
    pixel_noise: float = _DEFAULT_PIXEL_NOISE,
    shift: float | Sequence[float] | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | Bunch:
    r"""Grayscale toy faces with exact landmark and head-pose targets.

    A landmark / head-pose regression task whose ground truth is known exactly,
    with an exact fraction of wrong targets of a chosen kind.

    **The law** (published; ``law`` in the details quotes it with the parameters):

    - Pose, in degrees: ``yaw ~ U(-40, 40)``, ``pitch ~ U(-25, 25)``,
      ``roll ~ U(-30, 30)``, independent; rotation
      ``R = R_z(roll) R_x(pitch) R_y(yaw)`` in head coordinates (x right, y down,
      z towards the camera): positive yaw turns the nose to the image's right,
      positive pitch turns it up, positive roll turns the face clockwise on screen.
    - Head: ellipsoid with semi-axes ``(0.8, 1.0, 0.85)`` in head units. Landmarks in
      head units (``z_s(x, y) = 0.85 sqrt(1 - (x/0.8)^2 - y^2)`` is the front
      surface): left eye ``(-0.33, -0.2, z_s)``, right eye ``(0.33, -0.2, z_s)``,
      nose tip ``(0, 0.1, 1.0)``, left mouth corner ``(-0.28, 0.55, z_s)``, right
      mouth corner ``(0.28, 0.55, z_s)``. "Left" is the image's left at zero pose.
    - Placement: head half-height ``s ~ U(0.27, 0.33) * S`` pixels
      (``S = image_size``), centre ``c = (S - 1)/2 + U(-0.06, 0.06) * S`` per axis.
      Orthographic projection: landmark ``p`` lands at ``c + s (R p)_{x, y}``, in
      pixel coordinates (x = column, y = row, (0, 0) the centre of the top-left
      pixel). The head's outline is the exact projection of the rotated ellipsoid.
    - Appearance: background ``~ U(0.05, 0.35)``, skin ``~ U(0.55, 0.9)`` times a
      linear light gradient ``1 + g <l, (p - c)/s>``, ``g ~ U(0, 0.25)``, ``l`` a
      uniform random direction; the head's edge is a logistic ramp 0.5 px wide.
      Features darken the skin multiplicatively by Gaussian bumps of peak depth
      ``d ~ U(0.6, 0.9)``: eyes (sd ``max(0.08 s, 0.5)`` px, depth ``d``), nose
      tip (sd ``max(0.06 s, 0.5)``, depth ``0.7 d``), mouth corners (sd
      ``max(0.05 s, 0.5)``, depth ``0.8 d``) and a ridge along the mouth segment
      (sd ``max(0.04 s, 0.5)``, depth ``0.8 d``). So eyes and nose tip are dark
      spots centred on their targets (up to the light gradient, and to the
      head's edge or the mouth when a strong pose brings them close).
    - Pixel noise ``N(0, pixel_noise^2)`` i.i.d., then clipping to [0, 1].
    - Targets: ``y_noiseless`` (n, 13) = the 5 projected landmarks
      ``(x0, y0, ..., x4, y4)`` then ``(yaw, pitch, roll)`` in degrees, exactly the
      values rendered; ``y_clean = y_noiseless + eps``,
      ``eps_j ~ N(0, label_noise_j^2)`` i.i.d. (pixels for landmarks, degrees for
      angles).
    - Outliers, drawn by :func:`sk_deepgum.datasets.contaminate` on ``y_clean``:
      exactly ``m = round(outlier_rate * n_samples)`` units, drawn uniformly
      without replacement.

      * ``"uniform"``: ``m`` whole rows replaced, each column ``~ U(low_j,
        high_j)`` independently on the plausible box: ``[0, S - 1]`` for landmark
        coordinates, ``[-40, 40] x [-25, 25] x [-30, 30]`` for the angles.
      * ``"landmark"``: per group of :data:`TOY_FACE_GROUPS` (each landmark's
        (x, y) pair, each angle), independently, ``m`` rows get that group
        replaced by a uniform draw on the same box.
      * ``"swap"``: ``m`` whole rows take the ``y_clean`` of another sample drawn
        uniformly among the other ``n - 1``.
      * ``"shift"``: ``m`` whole rows get ``y_clean + shift``; default shift
        ``0.1 S`` pixels on every landmark coordinate and 10 degrees on every angle
        (all landmarks move down-right, the pose is off by 10 degrees).

    Parameters
    ----------
    n_samples : int, default=2000
        Number of faces, >= 1.
    image_size : int, default=32
        Side ``S`` of the square images in pixels, >= 16.
    label_noise : float or array-like of shape (13,), default=0.5
        Standard deviation of the Gaussian label noise per target, in target units
        (pixels for landmark coordinates, degrees for angles), >= 0.
    outlier_rate : float in [0, 1), default=0.0
        Fraction of rows (per group for ``"landmark"``) that are outliers.
    outlier_kind : {"uniform", "landmark", "swap", "shift"}, default="uniform"
        Outlier law, see above.
    random_state : int, numpy Generator, RandomState or None, default=None
        Seeds everything: pose, placement, appearance, noise and outliers.
    return_details : bool, default=False
        Return a :class:`~sklearn.utils.Bunch` instead of a tuple.
    pixel_noise : float >= 0, default=0.05
        Standard deviation of the Gaussian pixel noise (0 renders clean images).
    shift : float or array-like of shape (13,), default=None
        Offset of the ``"shift"`` outliers, in target units; None is the default
        above. Ignored for the other kinds.

    Returns
    -------
    X : ndarray of float32, shape (n_samples, 1, image_size, image_size)
        Images in [0, 1].
    y : ndarray of float64, shape (n_samples, 13)
        Contaminated targets, columns :data:`TOY_FACE_TARGET_NAMES`.
    outlier_mask : ndarray of bool
        Shape (n_samples,) for the row kinds, (n_samples, 8) for ``"landmark"``
        (``outlier_mask[i, g]``: group ``g`` of row ``i`` was replaced).

    details : Bunch
        Only when ``return_details=True`` (then returned alone), with keys ``X``,
        ``y``, ``outlier_mask`` as above and

        - ``y_clean``: targets before contamination (exact + label noise);
        - ``y_noiseless``: the exact targets the images were rendered from;
        - ``groups``: the groups ``outlier_mask`` refers to, None for row kinds and
          :data:`TOY_FACE_GROUPS` for ``"landmark"`` (pass it as the estimators'
          ``groups``);
        - ``target_names``: :data:`TOY_FACE_TARGET_NAMES` as a list;
        - ``outlier_proba_bayes``: shape of ``outlier_mask``, the Bayes-optimal
          posterior that a unit is an outlier given the image (hence
          ``y_noiseless``) and its targets, with prior ``m / n_samples``: label-noise
          Gaussian density of the true residual ``y - y_noiseless`` against the
          outlier law's density (the uniform box; the shifted Gaussian; for
          ``"swap"`` the density of another face's ``y_clean``,
          ``E_t[N(y; t, diag(label_noise^2))]`` over the law's exact targets ``t``,
          estimated by Monte Carlo with 4096 fresh draws of ``t``; swapped targets
          sit many label-noise sds away, so that estimate's error barely moves the
          posterior). Always finite in [0, 1]. Columns with zero label noise make
          the posterior exactly 0 / 1 (an inlier sits exactly on the truth there).
        - ``law``: the law above, with the parameters used, on one line.

    Raises
    ------
    ValueError
        On a count out of range, ``outlier_rate`` outside [0, 1), an unknown
        ``outlier_kind``, a negative or badly shaped ``label_noise`` /
        ``pixel_noise`` / ``shift``.

    See Also
    --------
    sk_deepgum.datasets.contaminate : The outlier injection used here.
    sk_deepgum.datasets.make_contaminated_regression : Tabular counterpart.

    Examples
    --------
    >>> from sk_deepgum.datasets import make_toy_faces
    >>> X, y, mask = make_toy_faces(
    ...     n_samples=40, image_size=16, outlier_rate=0.25, random_state=0
    ... )
    >>> X.shape, X.dtype, y.shape, int(mask.sum())
    ((40, 1, 16, 16), dtype('float32'), (40, 13), 10)
    >>> d = make_toy_faces(
    ...     n_samples=40, image_size=16, outlier_rate=0.25, outlier_kind="landmark",
    ...     random_state=0, return_details=True,
    ... )
    >>> d.outlier_mask.shape, d.outlier_mask.sum(axis=0).tolist()
    ((40, 8), [10, 10, 10, 10, 10, 10, 10, 10])
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    image_size = check_positive_int(image_size, "image_size")
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16; got {image_size!r}.")
    sd = _check_per_target(label_noise, "label_noise")
    if np.any(sd < 0):
        raise ValueError(f"label_noise must be >= 0; got {label_noise!r}.")
    check_rate(outlier_rate, "outlier_rate")
    if outlier_kind not in _KINDS:
        raise ValueError(
            f"outlier_kind must be one of {list(_KINDS)}; got {outlier_kind!r}."
        )
    check_nonnegative_float(pixel_noise, "pixel_noise")
    if shift is None:
        shift_arr = np.concatenate(
            [
                np.full(_N_LANDMARK_COLS, _DEFAULT_SHIFT_FRACTION * image_size),
                np.full(3, _DEFAULT_SHIFT_DEG),
            ]
        )
    else:
        shift_arr = _check_per_target(shift, "shift")

    # The order of the draws is part of the law: same seed, same faces, whatever
    # return_details says (the Monte Carlo reference is drawn last).
    rng = check_rng(random_state)
    geometry = _draw_geometry(rng, n_samples, image_size)
    looks = {
        "background": rng.uniform(*_BACKGROUND_RANGE, size=n_samples),
        "skin": rng.uniform(*_SKIN_RANGE, size=n_samples),
        "light": rng.uniform(0.0, _LIGHT_MAX, size=n_samples),
        "light_angle": rng.uniform(0.0, 2.0 * math.pi, size=n_samples),
        "depth": rng.uniform(*_DEPTH_RANGE, size=n_samples),
    }
    noise = float(pixel_noise) * rng.standard_normal(
        (n_samples, image_size, image_size)
    )
    y_exact, rot = _exact_targets(geometry)
    X = _render(y_exact, rot, geometry, looks, noise, image_size)
    y_clean = y_exact + sd * rng.standard_normal((n_samples, _N_TARGETS))

    low, high = _uniform_box(image_size)
    groups = TOY_FACE_GROUPS if outlier_kind == "landmark" else None
    kind = {"landmark": "uniform"}.get(outlier_kind, outlier_kind)
    y, outlier_mask = contaminate(
        y_clean,
        outlier_rate,
        kind=kind,
        groups=groups,
        random_state=rng,
        low=low,
        high=high,
        shift=shift_arr,
    )
    if not return_details:
        return X, y, outlier_mask

    n_out = n_contaminated(float(outlier_rate), n_samples)
    reference = None
    if outlier_kind == "swap" and n_out:
        reference, _ = _exact_targets(_draw_geometry(rng, _N_REFERENCE, image_size))
    units = TOY_FACE_GROUPS if groups is not None else [list(range(_N_TARGETS))]
    proba = _bayes_outlier_proba(
        y,
        y_exact,
        units,
        n_out / n_samples,
        outlier_kind,
        sd,
        low,
        high,
        shift_arr,
        reference,
    )
    if groups is None:
        proba = proba[:, 0]
    return Bunch(
        X=X,
        y=y,
        y_clean=y_clean,
        y_noiseless=y_exact,
        outlier_mask=outlier_mask,
        groups=None if groups is None else [list(g) for g in groups],
        target_names=list(TOY_FACE_TARGET_NAMES),
        outlier_proba_bayes=proba,
        law=_describe_law(
            n_samples,
            image_size,
            sd,
            float(pixel_noise),
            outlier_rate,
            outlier_kind,
            n_out,
            shift_arr,
        ),
    )


def _describe_law(n, image_size, sd, pixel_noise, rate, kind, n_out, shift) -> str:
    def fmt(a):
        a = np.asarray(a)
        return f"{a[0]:g}" if np.all(a == a[0]) else np.array2string(a, precision=4)

    S = image_size
    out = {
        "uniform": f"whole row ~ U(box), box = [0, {S - 1}] per landmark coordinate, "
        "[-40, 40] x [-25, 25] x [-30, 30] deg for yaw, pitch, roll",
        "landmark": "per group of TOY_FACE_GROUPS independently, group ~ U(box), "
        f"box = [0, {S - 1}] per landmark coordinate, [-40, 40] / [-25, 25] / "
        "[-30, 30] deg for yaw / pitch / roll",
        "swap": "whole row := y_clean of another row drawn uniformly among the "
        "other n - 1",
        "shift": f"whole row := y_clean + shift, shift = {fmt(shift)}",
    }[kind]
    unit = "rows per group" if kind == "landmark" else "rows"
    return (
        f"toy faces, {n} images {S}x{S}: yaw ~ U(-40, 40), pitch ~ U(-25, 25), "
        "roll ~ U(-30, 30) deg, R = Rz(roll) Rx(pitch) Ry(yaw); head ellipsoid "
        "semi-axes (0.8, 1, 0.85); landmarks (head units, z_s on the surface) "
        "eyes (-+0.33, -0.2, z_s), nose tip (0, 0.1, 1.0), mouth corners "
        "(-+0.28, 0.55, z_s); pixel = c + s (R p)_xy with s ~ U(0.27, 0.33) * "
        f"{S}, c ~ {(S - 1) / 2:g} + U(-0.06, 0.06) * {S} per axis; background "
        "~ U(0.05, 0.35), skin ~ U(0.55, 0.9) x (1 + U(0, 0.25) light gradient), "
        "Gaussian-bump features of depth ~ U(0.6, 0.9), pixel noise "
        f"N(0, {pixel_noise:g}^2) clipped to [0, 1]; y = (x, y) of left eye, "
        "right eye, nose tip, left and right mouth corners (pixels), yaw, pitch, "
        f"roll (deg) + N(0, label_noise^2), label_noise = {fmt(sd)}; "
        f"{n_out}/{n} {unit} (rate {rate:g}) are outliers: {out}"
    )
