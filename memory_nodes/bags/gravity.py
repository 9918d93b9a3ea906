"""The map frame of a recorded dataset: z against gravity, origin on the floor; the robot base under a
hand-held camera. One implementation, used by the importers and by bench.realdata.

    R = map_T_world_from_gravity(g_world)            # (4, 4), rotation only: map z = -g, map x = world x levelled
    z0 = estimate_floor_z(samples, fx, fy, cx, cy)   # m, map z of the floor before the offset
    map_T_world = R; map_T_world[2, 3] = -z0         # the floor at map z = 0
    map_T_base = base_under_camera(map_T_world @ world_T_camera)

Units: metres; transforms are a_T_b 4x4 float64 (points in b -> a); camera poses are in the optical
frame (x right, y down, z forward). Depth images are float metres (0 = no reading). Pure numpy.
"""
from __future__ import annotations

from typing import Iterable, List, Tuple

import numpy as np

FLOOR_BIN_M = 0.02            # height histogram bin
FLOOR_MIN_FRACTION = 0.01     # the floor bin holds at least this share of the points
FLOOR_SAMPLES = 40            # depth frames sampled across a recording
FLOOR_STRIDE_PX = 8           # every 8th pixel in u and v
FLOOR_MIN_DEPTH_M = 0.2       # nearer readings are noise


def map_T_world_from_gravity(g_world) -> np.ndarray:
    """Rotation only: map z = -gravity, map x = world x made horizontal (world y where x is near vertical).
    ``g_world``: the gravity direction in world coordinates (any length but zero)."""
    g = np.asarray(g_world, dtype=float).reshape(3)
    n = float(np.linalg.norm(g))
    if not np.isfinite(n) or n == 0.0:
        raise ValueError(f"gravity direction must be a finite non-zero 3-vector, got {g.tolist()}")
    z = -g / n
    x = np.array([1.0, 0.0, 0.0])
    if abs(float(x @ z)) > 0.9:
        x = np.array([0.0, 1.0, 0.0])
    x = x - (x @ z) * z
    x /= np.linalg.norm(x)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, np.cross(z, x), z])
    return T


def floor_sample_indices(n_frames: int, n_samples: int = FLOOR_SAMPLES) -> List[int]:
    """``n_samples`` frame indices spread evenly over ``n_frames`` (all of them when fewer)."""
    if n_frames <= 0:
        return []
    return [int(i) for i in np.linspace(0, n_frames - 1, min(n_samples, n_frames)).astype(int)]


def estimate_floor_z(samples: Iterable[Tuple[np.ndarray, np.ndarray]], fx: float, fy: float, cx: float,
                     cy: float, stride_px: int = FLOOR_STRIDE_PX) -> float:
    """Map z (m) of the floor: the lowest ``FLOOR_BIN_M`` bin of the depth points' heights that holds at
    least ``FLOOR_MIN_FRACTION`` of them (stray returns below the floor are fewer).

    ``samples``: (depth_m (H, W) float, map_T_camera (4, 4)) pairs, a few frames across the recording.
    Raises ValueError when they hold no depth reading."""
    zs = []
    for depth_m, map_T_camera in samples:
        d = np.asarray(depth_m)[::stride_px, ::stride_px]
        h, w = np.asarray(depth_m).shape[:2]
        v, u = np.mgrid[0:h:stride_px, 0:w:stride_px]
        ok = d > FLOOR_MIN_DEPTH_M
        pc = np.stack([(u[ok] - cx) / fx * d[ok], (v[ok] - cy) / fy * d[ok], d[ok]], axis=1)
        T = np.asarray(map_T_camera, dtype=float)
        zs.append(pc @ T[2, :3] + T[2, 3])
    z = np.concatenate(zs) if zs else np.zeros(0)
    if z.size == 0:
        raise ValueError("no depth reading beyond 0.2 m in the sampled frames")
    bins = np.arange(z.min(), z.max() + FLOOR_BIN_M, FLOOR_BIN_M)
    if bins.size < 2:                 # every point at one height
        return float(z.min())
    hist, edges = np.histogram(z, bins=bins)
    dense = np.flatnonzero(hist >= FLOOR_MIN_FRACTION * z.size)
    return float(edges[dense[0]] + FLOOR_BIN_M / 2) if dense.size else float(np.percentile(z, 0.5))


def base_under_camera(map_T_camera: np.ndarray) -> np.ndarray:
    """map_T_base: the camera's position projected to the floor (z = 0), heading the camera's horizontal
    view direction (the optical z axis levelled)."""
    fwd = map_T_camera[:3, 2]
    yaw = float(np.arctan2(fwd[1], fwd[0]))
    c, s = np.cos(yaw), np.sin(yaw)
    T = np.eye(4)
    T[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    T[0, 3], T[1, 3] = map_T_camera[0, 3], map_T_camera[1, 3]
    return T
