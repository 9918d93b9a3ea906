"""Synthetic RGB-D frames with known geometry (axis-aligned boxes on a floor, optional walls), ray-cast
exactly: for tests, and for measuring the pipeline without the simulator. Pure numpy."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from memory_nodes.common.types import CameraIntrinsics, RGBDFrame


@dataclass
class SynthBox:
    center_m: Tuple[float, float, float]     # map frame
    size_m: Tuple[float, float, float]
    instance_id: int
    class_name: str
    rgb: Tuple[int, int, int] = (200, 60, 40)


def intrinsics_for(width: int, height: int, hfov_deg: float = 70.0) -> CameraIntrinsics:
    fx = (width / 2.0) / np.tan(np.radians(hfov_deg) / 2.0)
    return CameraIntrinsics(width, height, fx, fx, (width - 1) / 2.0, (height - 1) / 2.0)


def look_at(eye: Sequence[float], target: Sequence[float]) -> np.ndarray:
    """map_T_camera (optical: z forward, x right, y down) for a camera at ``eye`` looking at ``target``
    with the map's +z up."""
    eye_m = np.asarray(eye, float)
    z = np.asarray(target, float) - eye_m
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-9:
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x, y, z, eye_m
    return T


def render(boxes: Sequence[SynthBox], K: CameraIntrinsics, map_T_camera: np.ndarray, stamp_ns: int = 0,
           floor_z_m: Optional[float] = 0.0, walls: Sequence[SynthBox] = ()) -> RGBDFrame:
    """Exact ray casting. Depth is the optical z (as depth cameras report), NaN where nothing is hit.
    Walls are boxes with instance id 0 (background)."""
    u, v = np.meshgrid(np.arange(K.width), np.arange(K.height))
    dirs_c = np.stack([(u - K.cx) / K.fx, (v - K.cy) / K.fy, np.ones_like(u, float)], axis=-1).reshape(-1, 3)
    R, o = map_T_camera[:3, :3], map_T_camera[:3, 3]
    dirs = dirs_c @ R.T                      # map-frame rays with unit optical z (so t = depth)
    n = dirs.shape[0]
    t_best = np.full(n, np.inf)
    inst = np.zeros(n, np.int32)
    rgb = np.zeros((n, 3), np.uint8)
    if floor_z_m is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (floor_z_m - o[2]) / dirs[:, 2]
        hit = np.isfinite(t) & (t > 0)
        t_best[hit] = t[hit]
        p = o + dirs[hit] * t[hit, None]
        checker = ((np.floor(p[:, 0] * 2) + np.floor(p[:, 1] * 2)) % 2).astype(np.uint8)
        rgb[hit] = np.stack([120 + 40 * checker] * 3, axis=1)
    for b, is_wall in [(w, True) for w in walls] + [(b, False) for b in boxes]:
        lo = np.asarray(b.center_m) - np.asarray(b.size_m) / 2
        hi = np.asarray(b.center_m) + np.asarray(b.size_m) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / dirs
            t1 = (lo - o) * inv
            t2 = (hi - o) * inv
        tmin = np.nanmax(np.minimum(t1, t2), axis=1)
        tmax = np.nanmin(np.maximum(t1, t2), axis=1)
        hit = (tmax >= tmin) & (tmin > 0) & (tmin < t_best)
        t_best[hit] = tmin[hit]
        inst[hit] = 0 if is_wall else b.instance_id
        rgb[hit] = b.rgb
    depth = np.where(np.isfinite(t_best), t_best, np.nan).astype(np.float32).reshape(K.height, K.width)
    return RGBDFrame(stamp_ns=stamp_ns, rgb=rgb.reshape(K.height, K.width, 3), depth_m=depth, intrinsics=K,
                     instance_mask=inst.reshape(K.height, K.width))


def demo_scene() -> Tuple[List[SynthBox], List[SynthBox]]:
    """A 6 x 5 m room with furniture-sized and object-sized boxes: (objects, walls)."""
    objects = [
        SynthBox((2.0, 0.5, 0.45), (0.6, 0.6, 0.9), 1, "stove", (60, 60, 60)),
        SynthBox((2.2, -0.8, 0.9), (0.7, 0.7, 1.8), 2, "fridge", (235, 235, 240)),
        SynthBox((1.6, 0.0, 0.05), (0.09, 0.09, 0.10), 3, "mug", (200, 30, 30)),
        SynthBox((1.5, 0.4, 0.02), (0.16, 0.23, 0.035), 4, "book", (30, 30, 200)),
        SynthBox((2.5, 1.5, 0.4), (1.2, 0.8, 0.8), 5, "sofa", (70, 90, 130)),
        SynthBox((1.2, -0.4, 0.1), (0.2, 0.2, 0.2), 6, "ball", (240, 120, 20)),
    ]
    walls = [SynthBox((3.2, 0.0, 1.25), (0.1, 5.0, 2.5), 0, "wall", (220, 220, 210)),
             SynthBox((0.2, 2.5, 1.25), (6.0, 0.1, 2.5), 0, "wall", (220, 220, 210)),
             SynthBox((0.2, -2.5, 1.25), (6.0, 0.1, 2.5), 0, "wall", (220, 220, 210))]
    return objects, walls
