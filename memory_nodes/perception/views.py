"""Keyframes ("views"): chosen by motion and novelty, each a compact record of what the camera could see
(downsampled depth, JPEG colour, pose, intrinsics of that depth). Memory derives absences and keyframe
evidence from views alone."""
from __future__ import annotations

import math
from typing import Iterable, Optional, Set

import numpy as np

from memory_nodes.common.types import RGBDFrame, View

from .config import ViewsConfig


def rotation_angle_rad(a_T_b: np.ndarray, a_T_c: np.ndarray) -> float:
    """Angle of the relative rotation between two poses."""
    R = a_T_b[:3, :3].T @ a_T_c[:3, :3]
    return math.acos(max(-1.0, min(1.0, (float(np.trace(R)) - 1.0) / 2.0)))


def downsample_depth(depth_m: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resampling (never blends an edge into a phantom surface); no return -> NaN."""
    h, w = depth_m.shape
    rows = ((np.arange(height) + 0.5) * (h / height)).astype(np.int64)
    cols = ((np.arange(width) + 0.5) * (w / width)).astype(np.int64)
    out = depth_m[rows[:, None], cols[None, :]].astype(np.float32)
    out[~np.isfinite(out) | (out <= 0.0)] = np.nan
    return out


def encode_jpeg(rgb: np.ndarray, width: int, height: int, quality: int) -> bytes:
    import cv2

    img = rgb
    if (img.shape[1], img.shape[0]) != (width, height):
        img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def view_id_for(stamp_ns: int) -> str:
    """Unique across runs and days: the frame's stamp."""
    return f"view-{int(stamp_ns)}"


class KeyframeSelector:
    """Decides which frames become views: enough motion, a class not in the last view, or too long since
    the last one; never closer in time than ``min_interval_s``."""

    def __init__(self, config: ViewsConfig):
        config.validate()
        self.config = config
        self._last_T: Optional[np.ndarray] = None
        self._last_ns: Optional[int] = None
        self._last_classes: Set[str] = set()
        self.last_view_id: str = ""

    def is_keyframe(self, stamp_ns: int, map_T_camera: np.ndarray, classes: Iterable[str]) -> bool:
        cfg = self.config
        cls = set(classes)
        if self._last_T is None or self._last_ns is None:
            return True
        dt_s = (stamp_ns - self._last_ns) / 1e9
        if dt_s < 0.0:                     # time went back (new run, bag loop): start over
            return True
        if dt_s < cfg.min_interval_s:
            return False
        if dt_s >= cfg.max_interval_s:
            return True
        if np.linalg.norm(map_T_camera[:3, 3] - self._last_T[:3, 3]) >= cfg.translation_m:
            return True
        if rotation_angle_rad(self._last_T, map_T_camera) >= cfg.rotation_rad:
            return True
        return cfg.novelty_classes and bool(cls - self._last_classes)

    def make_view(self, frame: RGBDFrame, map_T_camera: np.ndarray, classes: Iterable[str],
                  place_id: int) -> View:
        """Build the view and remember it as the last keyframe."""
        cfg = self.config
        cls = sorted(set(classes))
        view = View(
            view_id=view_id_for(frame.stamp_ns), stamp_ns=frame.stamp_ns, map_T_camera=map_T_camera.copy(),
            intrinsics=frame.intrinsics.scaled(cfg.depth_width, cfg.depth_height),
            depth_m=downsample_depth(frame.depth_m, cfg.depth_width, cfg.depth_height),
            color_jpeg=encode_jpeg(frame.rgb, cfg.jpeg_width, cfg.jpeg_height, cfg.jpeg_quality),
            place_id=place_id, detected_classes=cls)
        self._last_T = map_T_camera.copy()
        self._last_ns = frame.stamp_ns
        self._last_classes = set(cls)
        self.last_view_id = view.view_id
        return view
