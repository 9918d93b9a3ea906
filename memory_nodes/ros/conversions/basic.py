"""Generic conversions between ROS 2 messages and core types: time, poses, images, camera info.

The only place (with the sibling modules of this package) where messages meet core types. Image decoding
checks encoding, size, step and endianness and raises InputError with a stable ``cause`` so callers can
log once per cause.
"""
from __future__ import annotations

import array
import sys
from typing import Optional

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Pose, Quaternion, Transform, TransformStamped, Vector3
from sensor_msgs.msg import CameraInfo, Image

from memory_nodes.common.errors import InputError
from memory_nodes.common.geometry import R_to_quat, quat_to_R
from memory_nodes.common.types import CameraIntrinsics

# ---------------------------------------------------------------- time


def ns_to_time(ns: int) -> Time:
    ns = int(ns)
    if ns < 0:
        ns = 0
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def time_to_ns(t: Time) -> int:
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


def ns_to_duration(ns: int) -> Duration:
    ns = max(0, int(ns))
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


# ---------------------------------------------------------------- geometry


def T_to_pose(T: np.ndarray) -> Pose:
    x, y, z, w = R_to_quat(T[:3, :3])
    return Pose(position=Point(x=float(T[0, 3]), y=float(T[1, 3]), z=float(T[2, 3])),
                orientation=Quaternion(x=x, y=y, z=z, w=w))


def pose_to_T(p: Pose) -> np.ndarray:
    q = p.orientation
    if not all(np.isfinite([q.x, q.y, q.z, q.w, p.position.x, p.position.y, p.position.z])):
        raise InputError("bad_pose", "pose has non-finite values")
    if q.x == 0.0 and q.y == 0.0 and q.z == 0.0 and q.w == 0.0:
        raise InputError("bad_pose", "zero quaternion")
    T = np.eye(4)
    T[:3, :3] = quat_to_R(q.x, q.y, q.z, q.w)
    T[:3, 3] = (p.position.x, p.position.y, p.position.z)
    return T


def T_to_transform(T: np.ndarray) -> Transform:
    x, y, z, w = R_to_quat(T[:3, :3])
    return Transform(translation=Vector3(x=float(T[0, 3]), y=float(T[1, 3]), z=float(T[2, 3])),
                     rotation=Quaternion(x=x, y=y, z=z, w=w))


def transform_to_T(t: Transform) -> np.ndarray:
    q = t.rotation
    T = np.eye(4)
    T[:3, :3] = quat_to_R(q.x, q.y, q.z, q.w)
    T[:3, 3] = (t.translation.x, t.translation.y, t.translation.z)
    return T


def make_transform_stamped(T: np.ndarray, parent: str, child: str, stamp_ns: int) -> TransformStamped:
    msg = TransformStamped()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = parent
    msg.child_frame_id = child
    msg.transform = T_to_transform(T)
    return msg


def point_to_np(p: Point) -> np.ndarray:
    return np.array([p.x, p.y, p.z], dtype=float)


def np_to_point(a) -> Point:
    return Point(x=float(a[0]), y=float(a[1]), z=float(a[2]))


def np_to_vector3(a) -> Vector3:
    return Vector3(x=float(a[0]), y=float(a[1]), z=float(a[2]))


def vector3_to_np(v: Vector3) -> np.ndarray:
    return np.array([v.x, v.y, v.z], dtype=float)


# ---------------------------------------------------------------- camera info


def intrinsics_to_camera_info(K: CameraIntrinsics, frame_id: str, stamp_ns: int) -> CameraInfo:
    msg = CameraInfo()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = frame_id
    msg.width, msg.height = int(K.width), int(K.height)
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [K.fx, 0.0, K.cx, 0.0, K.fy, K.cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [K.fx, 0.0, K.cx, 0.0, 0.0, K.fy, K.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def camera_info_to_intrinsics(msg: CameraInfo) -> CameraIntrinsics:
    k = list(msg.k)
    if msg.width <= 0 or msg.height <= 0 or len(k) != 9 or k[0] <= 0 or k[4] <= 0:
        raise InputError("bad_camera_info", f"width={msg.width} height={msg.height} k={k}")
    return CameraIntrinsics(int(msg.width), int(msg.height), float(k[0]), float(k[4]), float(k[2]), float(k[5]))


# ---------------------------------------------------------------- images

# encoding -> (numpy dtype, channels)
_ENCODINGS = {
    "rgb8": (np.uint8, 3), "bgr8": (np.uint8, 3), "rgba8": (np.uint8, 4), "bgra8": (np.uint8, 4),
    "mono8": (np.uint8, 1), "8UC1": (np.uint8, 1), "8UC3": (np.uint8, 3),
    "mono16": (np.uint16, 1), "16UC1": (np.uint16, 1), "16SC1": (np.int16, 1),
    "32FC1": (np.float32, 1), "32SC1": (np.int32, 1), "64FC1": (np.float64, 1),
}


def image_to_numpy(msg: Image) -> np.ndarray:
    """Decode an Image honouring step (row padding) and endianness. (H, W) or (H, W, C)."""
    enc = msg.encoding
    if enc not in _ENCODINGS:
        raise InputError("unsupported_encoding", f"encoding {enc!r} not in {sorted(_ENCODINGS)}")
    dtype, ch = _ENCODINGS[enc]
    h, w = int(msg.height), int(msg.width)
    if h <= 0 or w <= 0:
        raise InputError("empty_image", f"{w}x{h}")
    itemsize = np.dtype(dtype).itemsize
    row_bytes = w * ch * itemsize
    step = int(msg.step)
    if step < row_bytes:
        raise InputError("bad_step", f"step {step} < width*channels*bytes {row_bytes} ({enc})")
    data = msg.data
    buf = np.frombuffer(bytes(data) if not isinstance(data, (bytes, bytearray, memoryview, np.ndarray))
                        else data, dtype=np.uint8)
    if buf.size < step * (h - 1) + row_bytes:
        raise InputError("size_mismatch", f"{buf.size} bytes for {w}x{h} {enc} with step {step}")
    rows = np.lib.stride_tricks.as_strided(buf, shape=(h, row_bytes), strides=(step, 1))
    dt = np.dtype(dtype)
    if itemsize > 1:
        dt = dt.newbyteorder(">" if msg.is_bigendian else "<")
    arr = np.ascontiguousarray(rows).view(dt).reshape(h, w, ch) if ch > 1 else \
        np.ascontiguousarray(rows).view(dt).reshape(h, w)
    if itemsize > 1 and dt.byteorder not in ("=", "|") and dt.byteorder != ("<" if sys.byteorder == "little" else ">"):
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def numpy_to_image(arr: np.ndarray, encoding: str, frame_id: str = "", stamp_ns: Optional[int] = None) -> Image:
    if encoding not in _ENCODINGS:
        raise InputError("unsupported_encoding", encoding)
    dtype, ch = _ENCODINGS[encoding]
    a = np.ascontiguousarray(arr, dtype=dtype)
    if (ch == 1 and a.ndim != 2) or (ch > 1 and (a.ndim != 3 or a.shape[2] != ch)):
        raise InputError("size_mismatch", f"array shape {a.shape} does not fit {encoding}")
    msg = Image()
    if stamp_ns is not None:
        msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(a.shape[0]), int(a.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = int(sys.byteorder == "big")
    msg.step = int(a.shape[1] * ch * a.itemsize)
    msg.data = array.array("B", a.tobytes())  # array.array skips rclpy's per-byte field check
    return msg


def rgb_from_image(msg: Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB from rgb8/bgr8/rgba8/bgra8."""
    arr = image_to_numpy(msg)
    enc = msg.encoding
    if enc in ("rgb8", "8UC3"):
        return arr
    if enc == "bgr8":
        return arr[:, :, ::-1].copy()
    if enc == "rgba8":
        return arr[:, :, :3].copy()
    if enc == "bgra8":
        return arr[:, :, 2::-1].copy()
    raise InputError("unsupported_encoding", f"colour image with encoding {enc!r}")


def bytes_field(data: bytes) -> "array.array":
    """A uint8[] field value that rclpy accepts without checking every byte in Python (that check costs
    tens of ms per image)."""
    return array.array("B", data)


def depth_from_image(msg: Image) -> np.ndarray:
    """(H, W) float32 metres from 32FC1 (m) or 16UC1/mono16 (mm); 0 becomes NaN."""
    arr = image_to_numpy(msg)
    enc = msg.encoding
    if enc == "32FC1":
        d = arr.astype(np.float32, copy=True)
    elif enc in ("16UC1", "mono16"):
        d = arr.astype(np.float32) * 0.001
    elif enc == "64FC1":
        d = arr.astype(np.float32)
    else:
        raise InputError("unsupported_encoding", f"depth image with encoding {enc!r}")
    d[~np.isfinite(d) | (d <= 0.0)] = np.nan
    return d
