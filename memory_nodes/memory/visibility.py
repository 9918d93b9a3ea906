"""Negative evidence: is a remembered location visible (in the frustum, in range, not occluded) in a view?"""
from __future__ import annotations

import numpy as np

from ..common.geometry import invert_T
from ..common.types import View
from .config import AbsenceConfig

NOT_VISIBLE = 0
VISIBLE = 1          # a depth return at or behind the location: the object should have been seen
OCCLUDED = 2         # something nearer is in front of the location
NO_DEPTH = 3         # no valid depth around the projection: unknown


def visibility(cfg: AbsenceConfig, view: View, points_m: np.ndarray, half_extent_m: np.ndarray) -> np.ndarray:
    """Per point (N, 3) map frame: NOT_VISIBLE | VISIBLE | OCCLUDED | NO_DEPTH, shape (N,) int8.

    ``half_extent_m`` (N,) widens the occlusion tolerance for big objects (their surface is nearer
    than their centroid).
    """
    n = len(points_m)
    out = np.zeros(n, np.int8)
    if n == 0:
        return out
    cam_T_map = invert_T(np.asarray(view.map_T_camera, float))
    pc = points_m @ cam_T_map[:3, :3].T + cam_T_map[:3, 3]
    z = pc[:, 2]
    dist = np.linalg.norm(pc, axis=1)
    intr = view.intrinsics
    depth = np.asarray(view.depth_m, np.float32)
    h, w = depth.shape
    ok = (z > cfg.min_range_m) & (dist <= cfg.max_range_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = intr.fx * pc[:, 0] / z + intr.cx
        v = intr.fy * pc[:, 1] / z + intr.cy
    mx, my = cfg.image_margin_frac * w, cfg.image_margin_frac * h
    ok &= (u >= mx) & (u <= w - 1 - mx) & (v >= my) & (v <= h - 1 - my)
    r = cfg.window_px
    for i in np.flatnonzero(ok):
        ui, vi = int(round(u[i])), int(round(v[i]))
        patch = depth[max(0, vi - r):vi + r + 1, max(0, ui - r):ui + r + 1]
        vals = patch[np.isfinite(patch) & (patch > 0)]
        if vals.size == 0:
            out[i] = NO_DEPTH
            continue
        d = float(np.median(vals))
        # depth is along the optical axis (z), as a depth image stores it
        if d < z[i] - cfg.occlusion_tolerance_m - float(half_extent_m[i]):
            out[i] = OCCLUDED
        else:
            out[i] = VISIBLE
    return out
