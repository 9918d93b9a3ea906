"""Input checks at the core's boundary: every field of a PerceptionOutput, before anything is stored.

    check_stamp(t)             -> InputError (bad_stamp) for a stamp outside [1, MAX_STAMP_NS]
    observation_problem(o)     -> None, or (cause, text) for an observation to skip
    view_problem(v)            -> None, or (cause, text) for a view to store without
    rooms_problem(seg)         -> None, or (cause, text) for a room segmentation to skip
    place_problem(p)           -> None, or (cause, text) for a place to skip

The limits are the ranges a real robot in a house can produce (metres, [0, 1] colours, ids that fit
SQLite's and the messages' integers) with wide margins; anything outside is garbage, reported by cause
(the node logs one line per cause and counts it on /diagnostics) and never stored. The ROS conversions
call the same checks, so a message and an in-process frame are judged alike.
"""
from __future__ import annotations

import math
import re
from typing import Any, Optional, Tuple

import numpy as np

from ..common.errors import InputError
from ..common.types import ObjectObservation, Place, RoomSegmentation, View

MAX_STAMP_NS = 2 ** 62                 # about year 2116: larger stamps are garbage
MAX_COORD_M = 1.0e4                    # |x|, |y|, |z| of anything in the map frame
MAX_DISTANCE_M = 1.0e3
MAX_ID = 2 ** 31 - 1                   # place / room ids (int32 in the messages)
MAX_NAME_CHARS = 128                   # class names, room labels
MAX_VIEW_ID_CHARS = 256
MAX_APPEARANCE_DIM = 4096
MAX_POINTS = 10 ** 9
MAX_JPEG_BYTES = 16 * 2 ** 20
MAX_IMAGE_SIDE_PX = 16384
MAX_DETECTED = 1024                    # detected classes of one view
MAX_GRID_CELLS = 4 * 10 ** 7           # room map cells

Problem = Optional[Tuple[str, str]]


def check_stamp(t: Any) -> int:
    """The stamp as int ns; InputError(bad_stamp) for 0 (no stamp), negative or absurd ones."""
    try:
        ti = int(t)
    except (TypeError, ValueError, OverflowError) as e:
        raise InputError("bad_stamp", f"stamp {t!r} is not an integer") from e
    if ti <= 0 or ti > MAX_STAMP_NS:
        raise InputError("bad_stamp", f"stamp {ti} ns outside (0, {MAX_STAMP_NS}]")
    return ti


def name_problem(name: Any, what: str, max_chars: int = MAX_NAME_CHARS, empty_ok: bool = False) -> Problem:
    if not isinstance(name, str):
        return "bad_string", f"{what} is {type(name).__name__}, not a string"
    if len(name) > max_chars:
        return "long_string", f"{what} has {len(name)} characters (at most {max_chars})"
    if not empty_ok and not name.strip():
        return "bad_string", f"{what} is empty"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "control_characters", f"{what} {name[:40]!r} holds control characters"
    return None


def _vec(x: Any, n: int) -> Optional[np.ndarray]:
    try:
        a = np.asarray(x, float).reshape(n)
    except (TypeError, ValueError):
        return None
    return a


def _finite_in(x: float, lo: float, hi: float) -> bool:
    return math.isfinite(x) and lo <= x <= hi


def id_problem(i: Any, what: str, lo: int = -1) -> Problem:
    try:
        v = int(i)
    except (TypeError, ValueError, OverflowError):
        return "bad_id", f"{what} {i!r} is not an integer"
    if not lo <= v <= MAX_ID:
        return "bad_id", f"{what} {v} outside [{lo}, {MAX_ID}]"
    return None


_CONTROL = re.compile("[\x00-\x1f\x7f]")      # what name_problem calls control characters


def _plain_name_ok(name: Any, max_chars: int, empty_ok: bool) -> bool:
    """name_problem(name, ...) is None (the common case, without building a message)."""
    return (isinstance(name, str) and len(name) <= max_chars and (empty_ok or bool(name.strip()))
            and _CONTROL.search(name) is None)


def _plain_floats(x: Any) -> Optional[list]:
    """x as 3 Python numbers when it plainly is 3 numbers (a (3,) numeric array, a tuple or list of 3
    floats / ints), else None (then the general checks decide)."""
    if type(x) is np.ndarray:
        if x.shape != (3,) or x.dtype.kind not in "fiub":
            return None
        return x.tolist()
    if type(x) in (tuple, list) and len(x) == 3 and all(isinstance(v, (float, int)) for v in x):
        return [float(v) for v in x]
    return None


def _plainly_valid(o: ObjectObservation) -> bool:
    """True only if observation_problem(o) is None, decided with plain floats for the usual input types
    (every frame's every detection is checked); False: let the general checks decide and say why."""
    c, b0, b1, rgb = (_plain_floats(o.centroid_m), _plain_floats(o.bbox_min_m), _plain_floats(o.bbox_max_m),
                      _plain_floats(o.color_rgb))
    if c is None or b0 is None or b1 is None or rgb is None or o.appearance is not None:
        return False
    for v in c + b0 + b1:
        if not (math.isfinite(v) and -MAX_COORD_M <= v <= MAX_COORD_M):
            return False
    if b0[0] > b1[0] or b0[1] > b1[1] or b0[2] > b1[2]:
        return False
    for v in rgb:
        if not (math.isfinite(v) and 0.0 <= v <= 1.0):
            return False
    if not (_plain_name_ok(o.class_name, MAX_NAME_CHARS, False)
            and _plain_name_ok(o.view_id, MAX_VIEW_ID_CHARS, True)):
        return False
    p = o.place_id
    if type(p) is not int or not -1 <= p <= MAX_ID:
        return False
    try:
        score, dist, n = float(o.score), float(o.distance_m), int(o.num_points)
    except (TypeError, ValueError, OverflowError):
        return False
    return _finite_in(score, 0.0, 1.0) and _finite_in(dist, 0.0, MAX_DISTANCE_M) and 0 <= n <= MAX_POINTS


def observation_problem(o: ObjectObservation) -> Problem:
    if _plainly_valid(o):
        return None
    c, b0, b1 = _vec(o.centroid_m, 3), _vec(o.bbox_min_m, 3), _vec(o.bbox_max_m, 3)
    if c is None or b0 is None or b1 is None:
        return "bad_observation", "centroid/bbox must be 3-vectors"
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(b0)) and np.all(np.isfinite(b1))):
        return "nan_observation", f"non-finite geometry for {str(o.class_name)[:40]!r}"
    if max(np.abs(c).max(), np.abs(b0).max(), np.abs(b1).max()) > MAX_COORD_M:
        return "out_of_range", f"geometry beyond {MAX_COORD_M:g} m for {str(o.class_name)[:40]!r}"
    if np.any(b0 > b1):
        return "inverted_box", f"bbox_min > bbox_max for {str(o.class_name)[:40]!r}"
    p = name_problem(o.class_name, "class name")
    if p:
        return p
    try:
        score, dist, n = float(o.score), float(o.distance_m), int(o.num_points)
    except (TypeError, ValueError, OverflowError):
        return "bad_observation", "score, distance_m and num_points must be numbers"
    if not _finite_in(score, 0.0, 1.0):
        return "bad_observation", f"score {score} outside [0, 1]"
    if not _finite_in(dist, 0.0, MAX_DISTANCE_M):
        return "bad_distance", f"distance_m {dist} outside [0, {MAX_DISTANCE_M:g}]"
    if not 0 <= n <= MAX_POINTS:
        return "bad_observation", f"num_points {n} outside [0, {MAX_POINTS}]"
    rgb = _vec(o.color_rgb, 3)
    if rgb is None or not np.all(np.isfinite(rgb)) or np.any(rgb < 0.0) or np.any(rgb > 1.0):
        return "bad_color", f"color_rgb {o.color_rgb!r} is not 3 values in [0, 1]"
    if o.appearance is not None:
        a = np.asarray(o.appearance)
        if a.size > MAX_APPEARANCE_DIM:
            return "bad_appearance", f"appearance has {a.size} values (at most {MAX_APPEARANCE_DIM})"
        if a.size and not np.all(np.isfinite(a.astype(float))):
            return "bad_appearance", "appearance has non-finite values"
    p = name_problem(o.view_id, "view id", MAX_VIEW_ID_CHARS, empty_ok=True)
    return p or id_problem(o.place_id, "place id")


def view_problem(v: View) -> Problem:
    p = name_problem(v.view_id, "view id", MAX_VIEW_ID_CHARS)
    if p:
        return p
    k = v.intrinsics
    try:
        w, h, f = int(k.width), int(k.height), [float(x) for x in (k.fx, k.fy, k.cx, k.cy)]
    except (TypeError, ValueError, OverflowError):
        return "bad_intrinsics", "intrinsics must be numbers"
    if not (0 < w <= MAX_IMAGE_SIDE_PX and 0 < h <= MAX_IMAGE_SIDE_PX):
        return "bad_intrinsics", f"image size {w}x{h} outside 1..{MAX_IMAGE_SIDE_PX}"
    if not all(math.isfinite(x) for x in f) or f[0] <= 0 or f[1] <= 0:
        return "bad_intrinsics", f"focal lengths / principal point {f} must be finite, fx, fy > 0"
    T = np.asarray(v.map_T_camera, float)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)) or np.abs(T[:3, 3]).max() > MAX_COORD_M:
        return "bad_view_pose", f"view {v.view_id}: map_T_camera must be a finite 4x4 within {MAX_COORD_M:g} m"
    if len(v.color_jpeg) > MAX_JPEG_BYTES:
        return "bad_keyframe", f"view {v.view_id}: {len(v.color_jpeg)} bytes of JPEG (at most {MAX_JPEG_BYTES})"
    if len(v.detected_classes) > MAX_DETECTED:
        return "bad_view", f"view {v.view_id}: {len(v.detected_classes)} detected classes"
    for c in v.detected_classes:
        p = name_problem(c, "detected class")
        if p:
            return p
    d = np.asarray(v.depth_m)
    if d.size and d.dtype.kind == "f" and np.isinf(d).any():
        return "bad_view_depth", f"view {v.view_id}: depth holds inf (0 or NaN mark no depth)"
    return id_problem(v.place_id, "place id")


def place_problem(p: Place) -> Problem:
    pos = _vec(p.position_m, 3)
    if pos is None or not np.all(np.isfinite(pos)) or np.abs(pos).max() > MAX_COORD_M:
        return "bad_place", f"place {p.place_id}: position must be finite, within {MAX_COORD_M:g} m"
    for t in (p.first_observed_ns, p.last_observed_ns):
        if not 0 <= int(t) <= MAX_STAMP_NS:
            return "bad_place", f"place {p.place_id}: stamp {t} out of range"
    return id_problem(p.place_id, "place id", 0) or id_problem(p.room_id, "room id")


def rooms_problem(seg: RoomSegmentation) -> Problem:
    grid = np.asarray(seg.room_map)
    try:
        res = float(seg.resolution_m)
        ox, oy = float(seg.origin_xy_m[0]), float(seg.origin_xy_m[1])
    except (TypeError, ValueError, IndexError):
        return "bad_rooms", "resolution and origin must be numbers"
    if grid.ndim != 2 or grid.size > MAX_GRID_CELLS:
        return "bad_rooms", f"room map must be 2-D with at most {MAX_GRID_CELLS} cells, got {grid.shape}"
    if not (math.isfinite(res) and 1e-4 <= res <= 100.0):
        return "bad_rooms", f"room map resolution {res} m outside [1e-4, 100]"
    if not (_finite_in(ox, -MAX_COORD_M, MAX_COORD_M) and _finite_in(oy, -MAX_COORD_M, MAX_COORD_M)):
        return "bad_rooms", f"room map origin ({ox}, {oy}) must be finite, within {MAX_COORD_M:g} m"
    for r in seg.rooms:
        p = id_problem(r.room_id, "room id", 0) or name_problem(r.label, "room label", empty_ok=True)
        if p:
            return p
        c = _vec(r.centroid_m, 3)
        try:
            conf, area = float(r.label_confidence), float(r.area_m2)
        except (TypeError, ValueError):
            return "bad_rooms", f"room {r.room_id}: confidence and area must be numbers"
        if c is None or not np.all(np.isfinite(c)) or np.abs(c).max() > MAX_COORD_M:
            return "bad_rooms", f"room {r.room_id}: centroid must be finite, within {MAX_COORD_M:g} m"
        if not _finite_in(conf, 0.0, 1.0) or not _finite_in(area, 0.0, 1e8):
            return "bad_rooms", f"room {r.room_id}: confidence {conf} / area {area} m2 out of range"
    return None
