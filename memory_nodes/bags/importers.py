"""Dataset folders -> rosbag2 bags: ``memory-stack import {tum,7scenes} SRC --out BAG_DIR [...]``.

Flow: ``scan_7scenes`` / ``scan_tum`` read a folder's lists and poses into a ``Dataset`` (frames with
stamp, image paths and world_T_camera; frames that cannot be used are dropped with a cause); the map
frame is built from gravity and the floor (``memory_nodes.bags.gravity``); ``write_bag`` reads each
frame's images and writes its messages. ``main`` is the command line (argparse; one line and exit code 2
on bad input, never a traceback).

The bag contract (``memory-stack replay`` reads it):

- ``/camera/color/image_raw``   sensor_msgs/msg/Image ``rgb8``;
  ``/camera/depth/image_raw``   sensor_msgs/msg/Image ``16UC1``, millimetres, 0 = no reading (TUM's
  5000-per-metre depth is converted to mm); ``/camera/color/camera_info`` sensor_msgs/msg/CameraInfo
  (K, P, ``plumb_bob`` with zero distortion, width/height of the colour image). The three carry the same
  header stamp per frame and frame_id ``camera_color_optical_frame`` (optical: x right, y down, z
  forward). Colour and depth share the one CameraInfo (the datasets give one K).
- ``/tf``   tf2_msgs/msg/TFMessage per frame, at the frame's stamp: ``map -> base_link`` (the camera's
  position projected to the floor, heading its horizontal view direction) and ``base_link ->
  camera_color_optical_frame`` (dynamic: a hand-held camera moves relative to that base). Its log time
  is ``TF_LEAD_NS`` before the frame's images, so a player has the transform when the images arrive.
- ``/odom``   nav_msgs/msg/Odometry per frame (header frame ``map``, child ``base_link``; twist in
  base_link from consecutive written frames; covariances zero = unknown).
- no ``/tf_static`` (nothing is static). Every other log time equals the header stamp (int ns).
- the map frame: z up (against gravity), the floor at z = 0, x = the dataset world's x levelled.
  map_T_camera = map_T_world @ world_T_camera; both datasets' poses are camera-to-world, optical frame.

Gravity (``--gravity X,Y,Z`` in world coordinates): default 7-Scenes' gravity-direction.txt when
present, else world -z (the world's z is up). Floor (``--floor-z auto|M``): M is the floor's height along
-gravity in world units (map z before the offset); auto: the lowest dense height of the depth points of
40 frames sampled across the whole dataset (so imports of different parts of one recording share one map
frame). Stamps: 7-Scenes has none (``--fps``, default 30, from ``--start-time``, default now rounded to
the second); TUM keeps its own (``--start-time`` shifts the first rgb stamp there).

Errors: ``DatasetError`` (a ``BagError``) names the file and the cause: a missing folder or list, a
malformed line, mismatched 7-Scenes file counts, no usable frame. A frame with a bad pose or an
unreadable image is skipped and counted per cause in the summary.
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from memory_nodes.bags.gravity import (
    base_under_camera,
    estimate_floor_z,
    floor_sample_indices,
    map_T_world_from_gravity,
)
from memory_nodes.bags.rosbag2 import BagError, BagWriter
from memory_nodes.common.errors import MemoryStackError
from memory_nodes.common.geometry import R_to_quat, invert_T, quat_to_R

MAP_FRAME = "map"
BASE_FRAME = "base_link"
CAMERA_FRAME = "camera_color_optical_frame"
TOPIC_COLOR = "/camera/color/image_raw"
TOPIC_DEPTH = "/camera/depth/image_raw"
TOPIC_INFO = "/camera/color/camera_info"
TOPIC_TF = "/tf"
TOPIC_ODOM = "/odom"
TOPICS = {TOPIC_TF: "tf2_msgs/msg/TFMessage", TOPIC_INFO: "sensor_msgs/msg/CameraInfo",
          TOPIC_COLOR: "sensor_msgs/msg/Image", TOPIC_DEPTH: "sensor_msgs/msg/Image",
          TOPIC_ODOM: "nav_msgs/msg/Odometry"}
TF_LEAD_NS = 1_000_000            # /tf is logged 1 ms before its frame's images
PROGRESS_EVERY = 100              # frames between progress lines
TUM_DEPTH_PER_M = 5000.0          # TUM depth PNG units per metre
TUM_INTRINSICS = {"freiburg1": (517.3, 516.5, 318.6, 255.3), "freiburg2": (520.9, 521.0, 325.1, 249.7),
                  "freiburg3": (535.4, 539.2, 320.1, 247.6)}
ROS_DEFAULT_INTRINSICS = (525.0, 525.0, 319.5, 239.5)
ROTATION_TOL = 1e-2               # |R^T R - I| above this: not a pose

# causes of a skipped frame (the summary counts them)
BAD_POSE = "bad pose (not finite or not rigid)"
NO_DEPTH = "no depth image within --max-dt"
OUTSIDE_GT = "outside the groundtruth span"
POSE_GAP = "groundtruth gap over --max-pose-gap"
BAD_COLOR = "unreadable colour image"
BAD_DEPTH = "unreadable depth image (not 16-bit single channel)"
BAD_SIZE = "image size differs (colour vs depth, or from the first frame)"


class DatasetError(BagError):
    """A dataset folder that cannot be imported; the message names the file and the cause."""


@dataclass(frozen=True)
class Intrinsics:
    fx: float
    fy: float
    cx: float
    cy: float
    source: str                   # where they came from, for the log

    @classmethod
    def of(cls, fx_fy_cx_cy: Sequence[float], source: str) -> "Intrinsics":
        fx, fy, cx, cy = (float(v) for v in fx_fy_cx_cy)
        if not (fx > 0 and fy > 0):
            raise DatasetError(f"{source}: fx and fy must be positive, got {fx:g}, {fy:g}")
        return cls(fx, fy, cx, cy, source)


@dataclass
class FrameRef:
    index: int                    # position in the dataset (7-Scenes: the file number)
    stamp_ns: int
    color: Path
    depth: Path
    world_T_camera: Optional[np.ndarray]   # (4, 4) optical frame; None with ``skip``
    skip: str = ""                # cause, when known from the lists alone


@dataclass
class Dataset:
    kind: str                     # "7scenes" | "tum"
    root: Path
    frames: List[FrameRef]
    intrinsics: Intrinsics
    gravity_world: np.ndarray     # (3,) world coordinates
    gravity_source: str
    depth_to_mm: Callable[[np.ndarray], np.ndarray]


@dataclass
class ImportSummary:
    bag: Path
    storage: str
    frames_written: int
    skipped: Dict[str, int]
    topics: Dict[str, int]        # messages per topic
    start_ns: int
    end_ns: int
    wall_s: float
    floor_z_m: float
    notes: List[str] = field(default_factory=list)

    @property
    def frames_per_s(self) -> float:
        return self.frames_written / self.wall_s if self.wall_s > 0 else 0.0


# ------------------------------------------------------------------------------------------ small parsers
def parse_vector(text: str, n: int, what: str) -> Tuple[float, ...]:
    """"a,b,c" -> n finite floats."""
    try:
        v = tuple(float(x) for x in text.replace(" ", "").split(","))
    except ValueError:
        raise DatasetError(f"{what}: expected {n} comma-separated numbers, got {text!r}") from None
    if len(v) != n or not all(np.isfinite(v)):
        raise DatasetError(f"{what}: expected {n} finite comma-separated numbers, got {text!r}")
    return v


def parse_start_time(text: Optional[str]) -> Optional[int]:
    """ISO 8601 (no zone: UTC) or unix seconds -> ns; None stays None."""
    if text is None:
        return None
    try:
        return int(Decimal(text) * 1_000_000_000)
    except InvalidOperation:
        pass
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DatasetError(f"--start-time: {text!r} is neither ISO 8601 nor unix seconds") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return int(Decimal(str(t.timestamp())) * 1_000_000_000)


def now_rounded_ns() -> int:
    return int(round(time.time())) * 1_000_000_000


def _stamp_ns(text: str) -> int:
    return int(Decimal(text) * 1_000_000_000)


def _read_matrix(path: Path, n: int) -> np.ndarray:
    """n whitespace-separated numbers from a text file (float64); ValueError when not."""
    v = np.array(path.read_text().split(), dtype=float)
    if v.size != n:
        raise ValueError(f"{v.size} numbers, expected {n}")
    return v


def check_pose(T: np.ndarray) -> bool:
    """A finite rigid 4x4 (rotation orthonormal within ROTATION_TOL, last row 0 0 0 1)."""
    if T.shape != (4, 4) or not np.isfinite(T).all():
        return False
    R = T[:3, :3]
    return bool(np.abs(R.T @ R - np.eye(3)).max() < ROTATION_TOL and np.allclose(T[3], [0, 0, 0, 1]))


# --------------------------------------------------------------------------------------------- 7-Scenes
_FRAME_RE = re.compile(r"^(frame-\d+)\.(pose\.txt|color\.jpg|color\.png|depth\.png)$")


def scan_7scenes(root: Path, fps: float = 30.0, start_ns: Optional[int] = None,
                 intrinsics: Optional[Sequence[float]] = None,
                 gravity: Optional[Sequence[float]] = None) -> Dataset:
    """A 7-Scenes / tsdf-fusion folder: frame-N.color.jpg|png, frame-N.depth.png (uint16 mm),
    frame-N.pose.txt (world_T_camera), camera-intrinsics.txt, optional gravity-direction.txt."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    if not fps > 0:
        raise DatasetError(f"--fps must be positive, got {fps}")
    if start_ns is not None and start_ns < 0:
        raise DatasetError(f"--start-time must not be before 1970, got {start_ns * 1e-9:.3f} s")
    files: Dict[str, Dict[str, Path]] = {"pose.txt": {}, "color": {}, "depth.png": {}}
    for p in root.iterdir():
        m = _FRAME_RE.match(p.name)
        if m:
            kind = "color" if m.group(2).startswith("color") else m.group(2)
            files[kind][m.group(1)] = p
    poses, colors, depths = files["pose.txt"], files["color"], files["depth.png"]
    if not poses:
        raise DatasetError(f"{root}: no frame-NNNNNN.pose.txt (not a 7-Scenes folder)")
    if set(poses) != set(colors) or set(poses) != set(depths):
        stem = sorted((set(poses) | set(colors) | set(depths)) - (set(poses) & set(colors) & set(depths)))[0]
        lacks = [k for k, d in (("pose.txt", poses), ("color.jpg|png", colors), ("depth.png", depths))
                 if stem not in d]
        raise DatasetError(f"{root}: mismatched counts ({len(poses)} pose, {len(colors)} colour, "
                           f"{len(depths)} depth files); {stem}.{lacks[0]} is missing")
    K = _7scenes_intrinsics(root, intrinsics)
    period_ns = int(round(1e9 / fps))
    t0 = now_rounded_ns() if start_ns is None else start_ns
    frames = []
    for stem in sorted(poses, key=lambda s: int(s[6:])):
        i = int(stem[6:])
        try:
            T: Optional[np.ndarray] = _read_matrix(poses[stem], 16).reshape(4, 4)
        except (OSError, ValueError):
            T = None
        ok = T is not None and check_pose(T)
        frames.append(FrameRef(i, t0 + i * period_ns, colors[stem], depths[stem], T if ok else None,
                               "" if ok else BAD_POSE))
    if gravity is not None:
        g, src = np.array(gravity, dtype=float), "--gravity"
    elif (root / "gravity-direction.txt").is_file():
        try:
            g, src = _read_matrix(root / "gravity-direction.txt", 3), "gravity-direction.txt"
        except ValueError as e:
            raise DatasetError(f"{root / 'gravity-direction.txt'}: not a 3-vector ({e})") from None
    else:
        g, src = np.array([0.0, 0.0, -1.0]), "default: world -z (no gravity-direction.txt)"
    return Dataset("7scenes", root, frames, K, g, src, lambda d: d)


def _7scenes_intrinsics(root: Path, given: Optional[Sequence[float]]) -> Intrinsics:
    if given is not None:
        return Intrinsics.of(given, "--intrinsics")
    path = root / "camera-intrinsics.txt"
    if not path.is_file():
        raise DatasetError(f"{path}: missing (or give --intrinsics fx,fy,cx,cy)")
    try:
        K = _read_matrix(path, 9).reshape(3, 3)
    except ValueError as e:
        raise DatasetError(f"{path}: not a 3x3 matrix ({e})") from None
    if not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise DatasetError(f"{path}: fx and fy must be finite and positive")
    return Intrinsics(float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), source=path.name)


# -------------------------------------------------------------------------------------------- TUM RGB-D
def _read_list(path: Path, n_fields: int, what: str) -> List[List[str]]:
    """Non-comment lines of a TUM list, each split into ``n_fields`` fields (the first a stamp)."""
    if not path.is_file():
        raise DatasetError(f"{path}: missing (a TUM RGB-D folder has rgb.txt, depth.txt, groundtruth.txt)")
    rows = []
    for k, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        f = line.split()
        if len(f) != n_fields:
            raise DatasetError(f"{path}:{k}: expected '{what}', got {line[:60]!r}")
        try:
            Decimal(f[0])
        except InvalidOperation:
            raise DatasetError(f"{path}:{k}: bad timestamp {f[0]!r}") from None
        rows.append(f)
    if not rows:
        raise DatasetError(f"{path}: no entries")
    return rows


def tum_intrinsics(root: Path, given: Optional[Sequence[float]]) -> Intrinsics:
    """--intrinsics, else by the folder's name (freiburg1/2/3), else ROS's default 525/525/319.5/239.5."""
    if given is not None:
        return Intrinsics.of(given, "--intrinsics")
    found = re.findall(r"freiburg[123]", Path(root).resolve().as_posix())
    if found:
        return Intrinsics.of(TUM_INTRINSICS[found[-1]], f"TUM {found[-1]} (from the folder name)")
    return Intrinsics.of(ROS_DEFAULT_INTRINSICS, "ROS default (no freiburg1/2/3 in the folder name)")


def interpolate_pose(t: np.ndarray, p: np.ndarray, q: np.ndarray, at: float) -> np.ndarray:
    """world_T_camera at ``at`` (s) from sorted stamps ``t`` (N,), positions ``p`` (N, 3) and unit
    quaternions ``q`` (N, 4, x y z w): lerp + slerp between the two bracketing poses."""
    j = int(np.searchsorted(t, at, side="right"))
    i = max(0, j - 1)
    j = min(j, len(t) - 1)
    a = 0.0 if t[j] == t[i] else (at - t[i]) / (t[j] - t[i])
    pos = (1 - a) * p[i] + a * p[j]
    q0, q1 = q[i], q[j]
    c = float(q0 @ q1)
    if c < 0:
        q1, c = -q1, -c
    if c > 0.9995:
        qa = (1 - a) * q0 + a * q1
    else:
        th = np.arccos(c)
        qa = (np.sin((1 - a) * th) * q0 + np.sin(a * th) * q1) / np.sin(th)
    T = np.eye(4)
    T[:3, :3] = quat_to_R(*(float(x) for x in qa))
    T[:3, 3] = pos
    return T


def scan_tum(root: Path, max_dt_s: float = 0.02, start_ns: Optional[int] = None,
             intrinsics: Optional[Sequence[float]] = None,
             gravity: Optional[Sequence[float]] = None, max_pose_gap_s: float = 0.2) -> Dataset:
    """A TUM RGB-D folder: rgb.txt / depth.txt ("timestamp filename"), groundtruth.txt ("timestamp tx ty
    tz qx qy qz qw"). One frame per rgb entry: the nearest depth within ``max_dt_s``, the pose lerp/slerp
    interpolated at the rgb stamp."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    rgb = _read_list(root / "rgb.txt", 2, "timestamp filename")
    depth = _read_list(root / "depth.txt", 2, "timestamp filename")
    gt = _read_list(root / "groundtruth.txt", 8, "timestamp tx ty tz qx qy qz qw")
    try:
        g_arr = np.array(gt, dtype=float)
    except ValueError:
        raise DatasetError(f"{root / 'groundtruth.txt'}: a value is not a number") from None
    g_arr = g_arr[np.argsort(g_arr[:, 0], kind="stable")]
    gt_t, gt_p, gt_q = g_arr[:, 0], g_arr[:, 1:4], g_arr[:, 4:8]
    norms = np.linalg.norm(gt_q, axis=1)
    good = np.isfinite(g_arr).all(axis=1) & (np.abs(norms - 1.0) < 0.1)
    gt_q = gt_q / np.where(norms > 0, norms, 1.0)[:, None]
    d_ns = np.array([_stamp_ns(r[0]) for r in depth], dtype=np.int64)
    d_order = np.argsort(d_ns, kind="stable")
    d_sorted = d_ns[d_order]
    r_ns = [_stamp_ns(r[0]) for r in rgb]
    shift = 0 if start_ns is None else start_ns - min(r_ns)
    if min(r_ns) + shift < 0:
        raise DatasetError(f"{root / 'rgb.txt'}: stamps before 1970 (give --start-time)")
    max_dt_ns = int(max_dt_s * 1e9)
    frames = []
    for k, (row, t_ns) in enumerate(zip(rgb, r_ns)):
        j = int(np.searchsorted(d_sorted, t_ns))
        cands = [c for c in (j - 1, j) if 0 <= c < len(d_sorted)]
        best = min(cands, key=lambda c: abs(int(d_sorted[c]) - t_ns))
        dpath = root / depth[int(d_order[best])][1]
        ref = FrameRef(k, t_ns + shift, root / row[1], dpath, None)
        t_s = float(Decimal(row[0]))
        if abs(int(d_sorted[best]) - t_ns) > max_dt_ns:
            ref.skip = NO_DEPTH
        elif t_s < gt_t[0] or t_s > gt_t[-1]:
            ref.skip = OUTSIDE_GT
        else:
            hi = min(int(np.searchsorted(gt_t, t_s, side="right")), len(gt_t) - 1)
            lo = max(hi - 1, 0)
            if not (good[lo] and good[hi]):
                ref.skip = BAD_POSE
            elif gt_t[hi] - gt_t[lo] > max_pose_gap_s:
                ref.skip = POSE_GAP
            else:
                T = interpolate_pose(gt_t, gt_p, gt_q, t_s)
                ref.world_T_camera, ref.skip = (T, "") if check_pose(T) else (None, BAD_POSE)
        frames.append(ref)
    if gravity is not None:
        g, src = np.array(gravity, dtype=float), "--gravity"
    else:
        g, src = np.array([0.0, 0.0, -1.0]), "default: world -z (TUM's world z is up)"
    return Dataset("tum", root, frames, tum_intrinsics(root, intrinsics), g, src, tum_depth_to_mm)


def tum_depth_to_mm(d: np.ndarray) -> np.ndarray:
    """TUM depth (uint16, 5000 per metre) -> uint16 mm, rounded; 0 stays 0."""
    return ((d.astype(np.uint32) + 2) // 5).astype(np.uint16)


# ------------------------------------------------------------------------------------------ the images
def read_color(path: Path) -> Optional[np.ndarray]:
    """(H, W, 3) uint8 RGB, or None when unreadable."""
    import cv2
    img = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if img is None or img.ndim != 3:
        return None
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_depth_raw(path: Path) -> Optional[np.ndarray]:
    """(H, W) uint16 as stored, or None when unreadable or not 16-bit single channel."""
    import cv2
    d = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() else None
    if d is None or d.ndim != 2 or d.dtype != np.uint16:
        return None
    return d


def estimate_dataset_floor(ds: Dataset, map_R_world: np.ndarray) -> Tuple[float, int]:
    """The floor's map z (before the offset) from up to 40 depth frames across the dataset's frames with a
    pose. Returns (z, frames used)."""
    posed = [f for f in ds.frames if f.world_T_camera is not None]
    samples = []
    for i in floor_sample_indices(len(posed)):
        raw = read_depth_raw(posed[i].depth)
        if raw is not None:
            T = posed[i].world_T_camera
            assert T is not None
            samples.append((ds.depth_to_mm(raw).astype(np.float32) * np.float32(0.001), map_R_world @ T))
    if not samples:
        raise DatasetError(f"{ds.root}: no readable depth image with a pose to find the floor; "
                           "give --floor-z")
    K = ds.intrinsics
    try:
        return estimate_floor_z(samples, K.fx, K.fy, K.cx, K.cy), len(samples)
    except ValueError as e:
        raise DatasetError(f"{ds.root}: cannot find the floor ({e}); give --floor-z") from None


# ------------------------------------------------------------------------------------------ the messages
class _Messages:
    """Builds the contract's messages with the writer's typestore."""

    def __init__(self, types: Any, K: Intrinsics):
        self.T = types
        self.K = K

    def header(self, stamp_ns: int, frame_id: str) -> Any:
        T = self.T
        sec, nsec = divmod(int(stamp_ns), 1_000_000_000)
        return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nsec),
                                        frame_id=frame_id)

    def image(self, stamp_ns: int, img: np.ndarray, encoding: str) -> Any:
        h, w = img.shape[:2]
        data = np.ascontiguousarray(img).view(np.uint8).reshape(-1)
        return self.T["sensor_msgs/msg/Image"](header=self.header(stamp_ns, CAMERA_FRAME), height=h, width=w,
                                               encoding=encoding, is_bigendian=0, step=data.size // h,
                                               data=data)

    def camera_info(self, stamp_ns: int, width: int, height: int) -> Any:
        K = self.K
        k = np.array([K.fx, 0, K.cx, 0, K.fy, K.cy, 0, 0, 1], dtype=np.float64)
        p = np.array([K.fx, 0, K.cx, 0, 0, K.fy, K.cy, 0, 0, 0, 1, 0], dtype=np.float64)
        roi = self.T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                         do_rectify=False)
        return self.T["sensor_msgs/msg/CameraInfo"](
            header=self.header(stamp_ns, CAMERA_FRAME), height=height, width=width,
            distortion_model="plumb_bob", d=np.zeros(5), k=k, r=np.eye(3).reshape(-1), p=p,
            binning_x=0, binning_y=0, roi=roi)

    def _vec(self, v) -> Any:
        return self.T["geometry_msgs/msg/Vector3"](x=float(v[0]), y=float(v[1]), z=float(v[2]))

    def _quat(self, R: np.ndarray) -> Any:
        q = np.array(R_to_quat(R))
        q /= np.linalg.norm(q)
        return self.T["geometry_msgs/msg/Quaternion"](x=float(q[0]), y=float(q[1]), z=float(q[2]),
                                                      w=float(q[3]))

    def transform(self, stamp_ns: int, a_T_b: np.ndarray, parent: str, child: str) -> Any:
        T = self.T
        tf = T["geometry_msgs/msg/Transform"](translation=self._vec(a_T_b[:3, 3]), rotation=self._quat(a_T_b[:3, :3]))
        return T["geometry_msgs/msg/TransformStamped"](header=self.header(stamp_ns, parent), child_frame_id=child,
                                                       transform=tf)

    def tf(self, stamp_ns: int, map_T_base: np.ndarray, base_T_camera: np.ndarray) -> Any:
        return self.T["tf2_msgs/msg/TFMessage"](transforms=[
            self.transform(stamp_ns, map_T_base, MAP_FRAME, BASE_FRAME),
            self.transform(stamp_ns, base_T_camera, BASE_FRAME, CAMERA_FRAME)])

    def odometry(self, stamp_ns: int, map_T_base: np.ndarray, v_base: np.ndarray, yaw_rate: float) -> Any:
        T = self.T
        pos = map_T_base[:3, 3]
        pose = T["geometry_msgs/msg/Pose"](position=T["geometry_msgs/msg/Point"](x=float(pos[0]), y=float(pos[1]),
                                                                               z=float(pos[2])),
                                           orientation=self._quat(map_T_base[:3, :3]))
        twist = T["geometry_msgs/msg/Twist"](linear=self._vec(v_base), angular=self._vec((0.0, 0.0, yaw_rate)))
        return T["nav_msgs/msg/Odometry"](
            header=self.header(stamp_ns, MAP_FRAME), child_frame_id=BASE_FRAME,
            pose=T["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36)),
            twist=T["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=np.zeros(36)))


# -------------------------------------------------------------------------------------------- the writer
def select(frames: Sequence[FrameRef], stride: int) -> List[FrameRef]:
    if stride < 1:
        raise DatasetError(f"--stride must be >= 1, got {stride}")
    return list(frames[::stride])


def write_bag(ds: Dataset, out: Path, floor_z: Optional[float] = None, max_frames: Optional[int] = None,
              stride: int = 1, storage: str = "mcap", log: Optional[Callable[[str], None]] = None
              ) -> ImportSummary:
    """Write the dataset's frames (every ``stride``-th, at most ``max_frames`` written) into a new bag at
    ``out``. ``floor_z``: the floor's map z before the offset (None: estimated). ``log``: progress lines."""
    say = log or (lambda s: None)
    t_start = time.perf_counter()
    if max_frames is not None and max_frames < 1:
        raise DatasetError(f"--max-frames must be >= 1, got {max_frames}")
    chosen = select(ds.frames, stride)
    notes = [f"intrinsics: fx={ds.intrinsics.fx:g} fy={ds.intrinsics.fy:g} cx={ds.intrinsics.cx:g} "
             f"cy={ds.intrinsics.cy:g} ({ds.intrinsics.source})",
             f"gravity (world): {np.round(ds.gravity_world, 6).tolist()} ({ds.gravity_source})"]
    try:
        map_T_world = map_T_world_from_gravity(ds.gravity_world)
    except ValueError as e:
        raise DatasetError(f"--gravity: {e}") from None
    if floor_z is None:
        floor_z, n_used = estimate_dataset_floor(ds, map_T_world)
        notes.append(f"floor: {floor_z:.3f} m along -gravity (auto, {n_used} depth frames)")
    else:
        notes.append(f"floor: {floor_z:.3f} m along -gravity (--floor-z)")
    map_T_world[2, 3] = -floor_z
    for n in notes:
        say(n)
    out = Path(out)
    if out.exists():
        raise DatasetError(f"{out}: exists; a bag is written into a new folder")
    w = BagWriter(out, storage=storage)
    msgs = _Messages(w.typestore.types, ds.intrinsics)
    skipped: Counter = Counter()
    written = 0
    size: Optional[Tuple[int, int]] = None
    prev: Optional[Tuple[int, np.ndarray]] = None
    first_ns = last_ns = 0
    closing = False
    try:
        for topic, msgtype in TOPICS.items():
            w.add_topic(topic, msgtype)
        for f in chosen:
            if max_frames is not None and written >= max_frames:
                break
            if f.skip or f.world_T_camera is None:
                skipped[f.skip or BAD_POSE] += 1
                continue
            rgb = read_color(f.color)
            if rgb is None:
                skipped[BAD_COLOR] += 1
                continue
            raw = read_depth_raw(f.depth)
            if raw is None:
                skipped[BAD_DEPTH] += 1
                continue
            if raw.shape != rgb.shape[:2] or (size is not None and rgb.shape[:2] != size):
                skipped[BAD_SIZE] += 1
                continue
            size = (rgb.shape[0], rgb.shape[1])
            map_T_camera = map_T_world @ f.world_T_camera
            map_T_base = base_under_camera(map_T_camera)
            base_T_camera = invert_T(map_T_base) @ map_T_camera
            v_base, yaw_rate = _base_velocity(prev, f.stamp_ns, map_T_base)
            s = f.stamp_ns
            w.write_msg(TOPIC_TF, max(0, s - TF_LEAD_NS), msgs.tf(s, map_T_base, base_T_camera))
            w.write_msg(TOPIC_INFO, s, msgs.camera_info(s, size[1], size[0]))
            w.write_msg(TOPIC_COLOR, s, msgs.image(s, rgb, "rgb8"))
            w.write_msg(TOPIC_DEPTH, s, msgs.image(s, ds.depth_to_mm(raw), "16UC1"))
            w.write_msg(TOPIC_ODOM, s, msgs.odometry(s, map_T_base, v_base, yaw_rate))
            prev = (s, map_T_base)
            first_ns = s if written == 0 else first_ns
            last_ns = s
            written += 1
            if written % PROGRESS_EVERY == 0:
                el = time.perf_counter() - t_start
                say(f"  {written}/{max_frames or len(chosen)} frames ({el:.1f} s, {written / el:.1f} frames/s)")
        closing = True
        w.close()
    except BaseException:
        if not closing:
            w.close()
        shutil.rmtree(out, ignore_errors=True)    # no half-written bag left behind
        raise
    if written == 0:
        shutil.rmtree(out, ignore_errors=True)
        why = ", ".join(f"{n} {c}" for c, n in skipped.most_common()) or "no frame selected"
        raise DatasetError(f"{ds.root}: no usable frame ({why})")
    return ImportSummary(out, storage, written, dict(skipped), dict(w.counts), first_ns, last_ns,
                         time.perf_counter() - t_start, float(floor_z), notes)


def _base_velocity(prev: Optional[Tuple[int, np.ndarray]], stamp_ns: int, map_T_base: np.ndarray
                   ) -> Tuple[np.ndarray, float]:
    """Linear velocity (m/s, in base_link) and yaw rate (rad/s) since the previous written frame."""
    if prev is None or stamp_ns <= prev[0]:
        return np.zeros(3), 0.0
    dt_s = (stamp_ns - prev[0]) * 1e-9
    v_map = (map_T_base[:3, 3] - prev[1][:3, 3]) / dt_s
    dyaw = np.arctan2(map_T_base[1, 0], map_T_base[0, 0]) - np.arctan2(prev[1][1, 0], prev[1][0, 0])
    dyaw = (dyaw + np.pi) % (2 * np.pi) - np.pi
    return map_T_base[:3, :3].T @ v_map, float(dyaw / dt_s)


# ------------------------------------------------------------------------------------------ command line
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="memory-stack import",
        description="A dataset folder (TUM RGB-D or 7-Scenes layout) -> a rosbag2 bag (metadata.yaml + .mcap) "
                    "that `memory-stack replay` plays: /camera/color/image_raw (rgb8), /camera/depth/image_raw "
                    "(16UC1 mm), /camera/color/camera_info, /tf (map -> base_link -> "
                    "camera_color_optical_frame), /odom. The map frame has z up and the floor at z = 0.")
    sub = p.add_subparsers(dest="dataset", metavar="{tum,7scenes}", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("src", type=Path, help="the dataset folder")
    common.add_argument("--out", type=Path, required=True, help="the new bag folder (must not exist)")
    common.add_argument("--max-frames", type=int, default=None, metavar="N", help="write at most N frames")
    common.add_argument("--stride", type=int, default=1, metavar="K", help="every K-th frame (default 1)")
    common.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="default mcap")
    common.add_argument("--gravity", default=None, metavar="X,Y,Z",
                        help="gravity direction in world coordinates (default: 7-Scenes' gravity-direction.txt "
                             "when present, else world -z, i.e. the world's z is up)")
    common.add_argument("--floor-z", default="auto", metavar="auto|M",
                        help="the floor's height along -gravity in world metres; auto (default): the lowest "
                             "dense height of the depth points of 40 frames across the dataset")
    common.add_argument("--intrinsics", default=None, metavar="FX,FY,CX,CY", help="override the camera's K")
    s7 = sub.add_parser("7scenes", parents=[common], help="7-Scenes / tsdf-fusion layout (frame-N.color.jpg, "
                        ".depth.png, .pose.txt, camera-intrinsics.txt)",
                        description="frame-N.color.jpg|png, frame-N.depth.png (uint16 mm), frame-N.pose.txt "
                                    "(world_T_camera), camera-intrinsics.txt, optional gravity-direction.txt.")
    s7.add_argument("--fps", type=float, default=30.0, help="frame rate (the files carry no stamps; default 30)")
    s7.add_argument("--start-time", default=None, metavar="T",
                    help="first frame's stamp: ISO 8601 (no zone: UTC) or unix seconds (default: now, rounded "
                         "to the second)")
    st = sub.add_parser("tum", parents=[common], help="TUM RGB-D layout (rgb.txt, depth.txt, groundtruth.txt)",
                        description="rgb.txt/depth.txt ('timestamp filename'), groundtruth.txt ('timestamp tx ty "
                                    "tz qx qy qz qw'); depth 5000 per metre (written as mm). Intrinsics: "
                                    "--intrinsics, else freiburg1/2/3 by the folder name, else 525,525,319.5,239.5.")
    st.add_argument("--max-dt", type=float, default=0.02, metavar="S",
                    help="rgb <-> depth association: nearest stamp within S seconds (default 0.02)")
    st.add_argument("--max-pose-gap", type=float, default=0.2, metavar="S",
                    help="skip frames whose bracketing groundtruth poses are further apart (default 0.2 s)")
    st.add_argument("--start-time", default=None, metavar="T",
                    help="shift the stamps so the first rgb frame is at T: ISO 8601 (no zone: UTC) or unix "
                         "seconds (default: the files' own stamps)")
    return p


def run(args: argparse.Namespace, log: Callable[[str], None]) -> ImportSummary:
    start_ns = parse_start_time(args.start_time)
    K = parse_vector(args.intrinsics, 4, "--intrinsics") if args.intrinsics else None
    g = parse_vector(args.gravity, 3, "--gravity") if args.gravity else None
    if args.floor_z == "auto":
        floor_z = None
    else:
        floor_z = parse_vector(args.floor_z, 1, "--floor-z")[0]
    if args.dataset == "7scenes":
        ds = scan_7scenes(args.src, fps=args.fps, start_ns=start_ns, intrinsics=K, gravity=g)
    else:
        ds = scan_tum(args.src, max_dt_s=args.max_dt, start_ns=start_ns, intrinsics=K, gravity=g,
                      max_pose_gap_s=args.max_pose_gap)
    log(f"{ds.kind}: {len(ds.frames)} frames in {ds.root}")
    return write_bag(ds, args.out, floor_z=floor_z, max_frames=args.max_frames, stride=args.stride,
                     storage=args.storage, log=log)


def summary_lines(s: ImportSummary) -> Iterator[str]:
    yield (f"wrote {s.frames_written} frames to {s.bag} ({s.storage}), "
           f"{(s.end_ns - s.start_ns) * 1e-9:.2f} s of data from {s.start_ns * 1e-9:.3f}; "
           f"{s.wall_s:.1f} s, {s.frames_per_s:.1f} frames/s")
    for topic, n in sorted(s.topics.items()):
        yield f"  {topic}: {n} ({TOPICS[topic]})"
    for cause, n in sorted(s.skipped.items()):
        yield f"  skipped {n}: {cause}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))

    def log(line: str) -> None:
        print(line, flush=True)

    try:
        s = run(args, log)
    except (MemoryStackError, OSError) as e:
        print(f"memory-stack import: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("memory-stack import: interrupted (no bag written)", file=sys.stderr)
        return 130
    for line in summary_lines(s):
        log(line)
    return 0
