"""Input checks of one frame before anything is computed from it. Each failure is an InputError whose
``cause`` is stable (for log-once-per-cause in the node):

bad_rgb, bad_depth, bad_intrinsics, size_mismatch, no_valid_depth, bad_instance_mask, missing_tf, bad_pose.

Individual NaN / 0 / inf depth pixels are not errors: they mean "no return" and are skipped by lifting.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from memory_nodes.common.errors import InputError
from memory_nodes.common.types import RGBDFrame


def check_pose(name: str, T: Optional[np.ndarray]) -> np.ndarray:
    """A finite rigid 4x4; None is a missing transform."""
    if T is None:
        raise InputError("missing_tf", f"no {name} at the frame's stamp")
    T = np.asarray(T, dtype=float)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        raise InputError("bad_pose", f"{name} must be a finite 4x4, got shape {T.shape}")
    R = T[:3, :3]
    if abs(np.linalg.det(R) - 1.0) > 1e-3 or np.abs(R @ R.T - np.eye(3)).max() > 1e-3:
        raise InputError("bad_pose", f"{name} rotation is not orthonormal")
    return T


def check_frame(frame: RGBDFrame, min_valid_depth_fraction: float = 0.0,
                min_depth_m: float = 0.0, max_depth_m: float = float("inf")) -> None:
    """Raise InputError with a clear cause when the frame cannot be used."""
    rgb, depth, K = frame.rgb, frame.depth_m, frame.intrinsics
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError("bad_rgb", f"colour must be (H, W, 3) uint8 RGB, got "
                         f"{getattr(rgb, 'shape', None)} {getattr(rgb, 'dtype', type(rgb).__name__)}")
    if not isinstance(depth, np.ndarray) or depth.ndim != 2 or depth.dtype.kind != "f":
        raise InputError("bad_depth", f"depth must be (H, W) float metres, got "
                         f"{getattr(depth, 'shape', None)} {getattr(depth, 'dtype', type(depth).__name__)}")
    if rgb.shape[:2] != depth.shape:
        raise InputError("size_mismatch", f"colour {rgb.shape[1]}x{rgb.shape[0]} vs depth "
                         f"{depth.shape[1]}x{depth.shape[0]}")
    if not (K.fx > 0 and K.fy > 0 and np.isfinite([K.fx, K.fy, K.cx, K.cy]).all()):
        raise InputError("bad_intrinsics", f"fx={K.fx} fy={K.fy} cx={K.cx} cy={K.cy}")
    if (K.width, K.height) != (depth.shape[1], depth.shape[0]):
        raise InputError("size_mismatch", f"camera info {K.width}x{K.height} vs images "
                         f"{depth.shape[1]}x{depth.shape[0]}")
    m = frame.instance_mask
    if m is not None and (not isinstance(m, np.ndarray) or m.shape != depth.shape or m.dtype.kind not in "iu"):
        raise InputError("bad_instance_mask", f"instance mask must be (H, W) integer like the depth, got "
                         f"{getattr(m, 'shape', None)} {getattr(m, 'dtype', None)}")
    if min_valid_depth_fraction > 0.0:
        sample = depth[::4, ::4]
        valid = np.count_nonzero((sample > min_depth_m) & (sample < max_depth_m))
        if valid < min_valid_depth_fraction * sample.size:
            raise InputError("no_valid_depth", f"{valid}/{sample.size} sampled depth pixels are finite and "
                             f"in [{min_depth_m}, {max_depth_m}] m")
