"""Rigid transforms as 4x4 float64 matrices named a_T_b (maps points in frame b into frame a)."""
from __future__ import annotations

import math
from typing import Tuple

import numpy as np


def make_T(rotation: np.ndarray, translation) -> np.ndarray:
    """4x4 from a 3x3 rotation and a 3-vector translation (m)."""
    T = np.eye(4)
    T[:3, :3] = rotation
    T[:3, 3] = np.asarray(translation, dtype=float)
    return T


def invert_T(a_T_b: np.ndarray) -> np.ndarray:
    """b_T_a from a_T_b."""
    R = a_T_b[:3, :3]
    t = a_T_b[:3, 3]
    out = np.eye(4)
    out[:3, :3] = R.T
    out[:3, 3] = -R.T @ t
    return out


def transform_points(a_T_b: np.ndarray, points_b: np.ndarray) -> np.ndarray:
    """(N, 3) points in frame b -> (N, 3) points in frame a."""
    return points_b @ a_T_b[:3, :3].T + a_T_b[:3, 3]


def quat_to_R(x: float, y: float, z: float, w: float) -> np.ndarray:
    """Unit quaternion (x, y, z, w) -> 3x3 rotation."""
    n = math.sqrt(x * x + y * y + z * z + w * w)
    if n == 0.0:
        raise ValueError("zero quaternion")
    x, y, z, w = x / n, y / n, z / n, w / n
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def R_to_quat(R: np.ndarray) -> Tuple[float, float, float, float]:
    """3x3 rotation -> unit quaternion (x, y, z, w), w >= 0."""
    m = R
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        w, x, y, z = 0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        w, x, y, z = (m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        w, x, y, z = (m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        w, x, y, z = (m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s
    if w < 0:
        x, y, z, w = -x, -y, -z, -w
    return (float(x), float(y), float(z), float(w))


def yaw_to_R(yaw_rad: float) -> np.ndarray:
    """Rotation about +z by yaw (rad)."""
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def pose2d_T(x_m: float, y_m: float, yaw_rad: float, z_m: float = 0.0) -> np.ndarray:
    """map_T_base for a planar pose."""
    return make_T(yaw_to_R(yaw_rad), (x_m, y_m, z_m))


def yaw_of(T: np.ndarray) -> float:
    """Yaw (rad) of the x axis of T projected on the ground plane."""
    return math.atan2(T[1, 0], T[0, 0])


# base_link (x forward, y left, z up) -> camera optical frame (z forward, x right, y down)
base_R_optical = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def row_norms3(x: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(x, axis=-1)`` of an (..., 3) float64 array, bit for bit (the same squares summed in
    the same order, a correctly rounded sqrt), at half its cost: memory takes these every frame."""
    x0, x1, x2 = x[..., 0], x[..., 1], x[..., 2]
    return np.sqrt(x0 * x0 + x1 * x1 + x2 * x2)


def pair_distances3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(b), len(a)): ``np.linalg.norm(a[None] - b[:, None], axis=2)`` of (n, 3) float64 arrays, bit for
    bit, without the (len(b), len(a), 3) temporary (a quarter of its cost)."""
    d0 = a[None, :, 0] - b[:, None, 0]
    d1 = a[None, :, 1] - b[:, None, 1]
    d2 = a[None, :, 2] - b[:, None, 2]
    return np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
