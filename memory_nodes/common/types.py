"""Core data types that flow one way: camera -> perception -> memory -> planner.

Conventions: time is int nanoseconds (``*_ns``), lengths metres (``*_m``), angles radians (``*_rad``);
transforms are 4x4 float64 ``a_T_b``; the camera frame is the optical frame (z forward, x right, y down).
Array shapes are in the comments. Nothing here carries a ground-truth identity: the simulator's instance
ids reach only the noisy-oracle detector and the scorers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels."""
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    def scaled(self, width: int, height: int) -> "CameraIntrinsics":
        """The same camera at another resolution (e.g. a downsampled depth image)."""
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(width, height, self.fx * sx, self.fy * sy,
                                (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5)

    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


@dataclass
class RGBDFrame:
    """One synchronized RGB-D frame as a driver (or the simulator) delivers it."""
    stamp_ns: int
    rgb: np.ndarray                      # (H, W, 3) uint8, RGB order
    depth_m: np.ndarray                  # (H, W) float32, metres; NaN/0/inf = no return
    intrinsics: CameraIntrinsics
    frame_id: str = "camera_optical"
    instance_mask: Optional[np.ndarray] = None  # (H, W) int32, simulator only; read by the oracle only


@dataclass
class Detection2D:
    """A detector's output for one object in one image. No identity."""
    class_name: str
    score: float                         # [0, 1]
    mask: Optional[np.ndarray] = None    # (H, W) bool
    box_xyxy: Optional[Tuple[float, float, float, float]] = None  # pixels
    appearance: Optional[np.ndarray] = None  # (D,) float32, L2-normalised


@dataclass
class ObjectObservation:
    """One object seen in one frame, lifted to the map frame."""
    stamp_ns: int
    class_name: str
    score: float
    centroid_m: np.ndarray               # (3,) map frame
    bbox_min_m: np.ndarray               # (3,)
    bbox_max_m: np.ndarray               # (3,)
    num_points: int = 0
    color_rgb: Tuple[float, float, float] = (0.0, 0.0, 0.0)   # each in [0, 1]
    appearance: Optional[np.ndarray] = None                    # (D,)
    distance_m: float = 0.0              # camera to centroid
    view_id: str = ""
    place_id: int = -1
    points_m: Optional[np.ndarray] = None  # (N, 3) downsampled cloud, map frame (not stored long-term)


@dataclass
class View:
    """A keyframe: what the camera could see. Memory derives absences and keyframe evidence from it."""
    view_id: str
    stamp_ns: int
    map_T_camera: np.ndarray             # (4, 4)
    intrinsics: CameraIntrinsics         # of depth_m below
    depth_m: np.ndarray                  # (h, w) float32, downsampled; NaN = no return
    color_jpeg: bytes = b""              # JPEG of the colour image (any resolution)
    place_id: int = -1
    detected_classes: List[str] = field(default_factory=list)


@dataclass
class Place:
    """A node laid along the robot's travel."""
    place_id: int
    position_m: np.ndarray               # (3,) map frame
    room_id: int = -1
    first_observed_ns: int = 0
    last_observed_ns: int = 0


@dataclass
class PlaceGraph:
    stamp_ns: int
    places: List[Place]
    edges: List[Tuple[int, int]]         # traversed (place_id, place_id)


@dataclass
class Room:
    room_id: int
    label: str                           # "kitchen", ..., "unknown"
    label_confidence: float              # [0, 1]
    centroid_m: np.ndarray               # (3,)
    area_m2: float = 0.0


@dataclass
class RoomSegmentation:
    stamp_ns: int
    rooms: List[Room]
    room_map: np.ndarray                 # (rows, cols) int16, room id per cell, -1 unknown/wall
    resolution_m: float                  # cell size
    origin_xy_m: Tuple[float, float]     # map-frame position of cell (0, 0)'s corner

    def room_at(self, x_m: float, y_m: float) -> int:
        c = int((x_m - self.origin_xy_m[0]) / self.resolution_m)
        r = int((y_m - self.origin_xy_m[1]) / self.resolution_m)
        if 0 <= r < self.room_map.shape[0] and 0 <= c < self.room_map.shape[1]:
            return int(self.room_map[r, c])
        return -1


@dataclass
class PerceptionOutput:
    """Everything perception makes of one frame (any part may be empty)."""
    stamp_ns: int
    observations: List[ObjectObservation]
    view: Optional[View] = None
    place_id: int = -1
    places: Optional[PlaceGraph] = None        # set when the place graph changed
    rooms: Optional[RoomSegmentation] = None   # set when rooms were re-segmented
