"""common/visibility.py reads the depth window's median with its own small-array median (np.median's
per-call overhead ran once per point per view): it must be np.median exactly, float32 ties and even
counts included, and visibility's verdicts must not change."""
from __future__ import annotations

import numpy as np

from memory_nodes.common import visibility as V
from memory_nodes.common.types import CameraIntrinsics, View


def test_median_is_numpys_exactly():
    rng = np.random.default_rng(3)
    for _ in range(3000):
        n = int(rng.integers(1, 60))
        v = (rng.random(n) * 6).astype(np.float32)
        if rng.random() < 0.3:
            v[: n // 2] = v[0]                     # ties
        assert V._median(v) == float(np.median(v))


def _view(depth: np.ndarray) -> View:
    h, w = depth.shape
    intr = CameraIntrinsics(width=w, height=h, fx=60.0, fy=60.0, cx=w / 2, cy=h / 2)
    return View(view_id="v", stamp_ns=0, map_T_camera=np.eye(4), intrinsics=intr, depth_m=depth, place_id=0)


class _Limits:
    min_range_m, max_range_m, image_margin_frac, window_px, occlusion_tolerance_m = 0.2, 6.0, 0.02, 3, 0.15


def test_visibility_verdicts_with_holes_and_occluders():
    depth = np.full((60, 80), 3.0, np.float32)
    depth[:, :20] = np.nan                             # no depth on the left
    depth[25:35, 50:60] = 1.0                          # an occluder right of centre
    pts = np.array([[0.0, 0.0, 2.0],                   # in front of the wall: visible
                    [-0.9, 0.0, 2.0],                  # over the hole: no depth
                    [0.75, 0.0, 2.5],                  # behind the occluder
                    [0.0, 0.0, -1.0],                  # behind the camera
                    [np.nan, 0.0, 1.0]])
    got = V.visibility(_Limits(), _view(depth), pts, np.zeros(len(pts)))
    assert got.tolist() == [V.VISIBLE, V.NO_DEPTH, V.OCCLUDED, V.NOT_VISIBLE, V.NOT_VISIBLE]
