"""Perception's messages <-> core types: camera messages -> RGBDFrame, and PerceptionOutput parts ->
FrameObservations (one per frame: observations + the keyframe View, if any) / PlaceGraph / RoomSegmentation
(with the reverse conversions, for the memory and planner nodes and the tests). Generic pieces (time, poses,
images, camera info) come from basic.py."""
from __future__ import annotations

import array
from typing import Dict, List, Optional

import numpy as np
from geometry_msgs.msg import Point
from memory_interfaces.msg import FrameObservations, InstanceClassTable
from memory_interfaces.msg import ObjectObservation as ObjectObservationMsg
from memory_interfaces.msg import Place as PlaceMsg
from memory_interfaces.msg import PlaceGraph as PlaceGraphMsg
from memory_interfaces.msg import Room as RoomMsg
from memory_interfaces.msg import RoomSegmentation as RoomSegmentationMsg
from memory_interfaces.msg import View as ViewMsg
from nav_msgs.msg import OccupancyGrid
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from memory_nodes.common.errors import InputError
from memory_nodes.common.types import (
    ObjectObservation,
    PerceptionOutput,
    Place,
    PlaceGraph,
    RGBDFrame,
    Room,
    RoomSegmentation,
    View,
)

from .basic import (
    T_to_pose,
    bytes_field,
    camera_info_to_intrinsics,
    depth_from_image,
    image_to_numpy,
    intrinsics_to_camera_info,
    np_to_point,
    np_to_vector3,
    ns_to_time,
    numpy_to_image,
    point_to_np,
    pose_to_T,
    rgb_from_image,
    time_to_ns,
    vector3_to_np,
)

COLOR_ENCODINGS = ("rgb8", "bgr8")
DEPTH_ENCODINGS = ("32FC1", "16UC1")
INSTANCE_ENCODINGS = ("32SC1", "16UC1")

# ---------------------------------------------------------------------------------- camera -> core


def frame_from_messages(rgb: Image, depth: Image, info: CameraInfo, instances: Optional[Image] = None
                        ) -> RGBDFrame:
    """One synchronized set -> RGBDFrame (stamp of the colour image). InputError on anything malformed:
    unsupported_encoding, bad_step, size_mismatch, empty_image, bad_camera_info."""
    if rgb.encoding not in COLOR_ENCODINGS:
        raise InputError("unsupported_encoding", f"colour image is {rgb.encoding!r}, expected one of "
                         f"{COLOR_ENCODINGS}")
    if depth.encoding not in DEPTH_ENCODINGS:
        raise InputError("unsupported_encoding", f"depth image is {depth.encoding!r}, expected one of "
                         f"{DEPTH_ENCODINGS} (16UC1 in mm, 32FC1 in m)")
    if (rgb.width, rgb.height) != (depth.width, depth.height):
        raise InputError("size_mismatch", f"colour {rgb.width}x{rgb.height} vs depth {depth.width}x{depth.height}")
    K = camera_info_to_intrinsics(info)
    if (K.width, K.height) != (depth.width, depth.height):
        raise InputError("size_mismatch", f"camera info {K.width}x{K.height} vs images {depth.width}x{depth.height}")
    mask = None
    if instances is not None:
        if instances.encoding not in INSTANCE_ENCODINGS:
            raise InputError("unsupported_encoding", f"instance image is {instances.encoding!r}, expected one "
                             f"of {INSTANCE_ENCODINGS}")
        if (instances.width, instances.height) != (depth.width, depth.height):
            raise InputError("size_mismatch", f"instances {instances.width}x{instances.height} vs images "
                             f"{depth.width}x{depth.height}")
        mask = image_to_numpy(instances).astype(np.int32, copy=False)
    return RGBDFrame(stamp_ns=time_to_ns(rgb.header.stamp), rgb=rgb_from_image(rgb), depth_m=depth_from_image(depth),
                     intrinsics=K, frame_id=rgb.header.frame_id or depth.header.frame_id, instance_mask=mask)


def class_table_from_msg(msg: InstanceClassTable) -> Dict[int, str]:
    if len(msg.instance_ids) != len(msg.class_names):
        raise InputError("bad_class_table", f"{len(msg.instance_ids)} ids vs {len(msg.class_names)} names")
    return {int(i): str(c) for i, c in zip(msg.instance_ids, msg.class_names)}


def class_table_to_msg(table: Dict[int, str], stamp_ns: int = 0) -> InstanceClassTable:
    msg = InstanceClassTable()
    msg.header.stamp = ns_to_time(stamp_ns)
    ids = sorted(table)
    msg.instance_ids = ids
    msg.class_names = [table[i] for i in ids]
    return msg


# ---------------------------------------------------------------------------------- observations


def observation_to_msg(o: ObjectObservation, map_frame: str) -> ObjectObservationMsg:
    m = ObjectObservationMsg()
    m.header.stamp = ns_to_time(o.stamp_ns)
    m.header.frame_id = map_frame
    m.class_name = o.class_name
    m.score = float(o.score)
    m.centroid = np_to_point(o.centroid_m)
    m.bbox_min = np_to_vector3(o.bbox_min_m)
    m.bbox_max = np_to_vector3(o.bbox_max_m)
    m.num_points = int(o.num_points)
    m.color_rgb = [float(c) for c in o.color_rgb]
    m.appearance = [] if o.appearance is None else [float(v) for v in np.asarray(o.appearance).ravel()]
    m.distance_m = float(o.distance_m)
    m.view_id = o.view_id
    return m


def observation_from_msg(m: ObjectObservationMsg, place_id: int = -1) -> ObjectObservation:
    app = np.asarray(m.appearance, dtype=np.float32)
    return ObjectObservation(
        stamp_ns=time_to_ns(m.header.stamp), class_name=m.class_name, score=float(m.score),
        centroid_m=point_to_np(m.centroid), bbox_min_m=vector3_to_np(m.bbox_min),
        bbox_max_m=vector3_to_np(m.bbox_max), num_points=int(m.num_points),
        color_rgb=tuple(float(c) for c in m.color_rgb), appearance=app if app.size else None,
        distance_m=float(m.distance_m), view_id=m.view_id, place_id=place_id)


def frame_to_msg(out: PerceptionOutput, map_frame: str) -> FrameObservations:
    """One frame's observations and, when it is a keyframe, its View (no observations still says "processed")."""
    msg = FrameObservations()
    msg.header.stamp = ns_to_time(out.stamp_ns)
    msg.header.frame_id = map_frame
    msg.observations = [observation_to_msg(o, map_frame) for o in out.observations]
    msg.view = [view_to_msg(out.view, map_frame)] if out.view is not None else []
    msg.place_id = int(out.place_id)
    return msg


def observations_from_msg(msg: FrameObservations) -> List[ObjectObservation]:
    """The frame's observations (each with the frame's place id). An observation belongs to its frame:
    perception stamps both alike, so one stamped otherwise (by more than 1 s, or with nanosec out of range)
    is InputError ``observation_stamp`` — it could otherwise carry a far-future time past every frame check."""
    frame_ns = time_to_ns(msg.header.stamp)
    out = []
    for m in msg.observations:
        if not 0 <= int(m.header.stamp.nanosec) < 1_000_000_000:
            raise InputError("observation_stamp", f"observation nanosec {m.header.stamp.nanosec} outside [0, 1e9)")
        o = observation_from_msg(m, int(msg.place_id))
        if abs(o.stamp_ns - frame_ns) > 1_000_000_000:
            raise InputError("observation_stamp", f"observation stamped {o.stamp_ns} ns in a frame stamped "
                             f"{frame_ns} ns (more than 1 s apart)")
        out.append(o)
    return out


def frame_view_from_msg(msg: FrameObservations) -> Optional[View]:
    """The frame's View, None when the frame is not a keyframe; InputError / ValueError if it is malformed."""
    return view_from_msg(msg.view[0]) if len(msg.view) else None


def frame_from_msg(msg: FrameObservations) -> PerceptionOutput:
    """The whole frame (raises InputError / ValueError if any part is malformed)."""
    return PerceptionOutput(time_to_ns(msg.header.stamp), observations_from_msg(msg), frame_view_from_msg(msg),
                            int(msg.place_id))


# ---------------------------------------------------------------------------------- views


def view_to_msg(v: View, map_frame: str) -> ViewMsg:
    m = ViewMsg()
    m.header.stamp = ns_to_time(v.stamp_ns)
    m.header.frame_id = map_frame
    m.view_id = v.view_id
    m.camera_pose = T_to_pose(v.map_T_camera)
    m.camera_info = intrinsics_to_camera_info(v.intrinsics, "", v.stamp_ns)
    m.depth = numpy_to_image(np.asarray(v.depth_m, np.float32), "32FC1", "", v.stamp_ns)
    m.color = CompressedImage()
    m.color.header.stamp = m.header.stamp
    m.color.format = "jpeg"
    m.color.data = bytes_field(bytes(v.color_jpeg))
    m.place_id = int(v.place_id)
    m.detected_classes = list(v.detected_classes)
    return m


def view_from_msg(m: ViewMsg) -> View:
    depth = image_to_numpy(m.depth).astype(np.float32)
    return View(view_id=m.view_id, stamp_ns=time_to_ns(m.header.stamp), map_T_camera=pose_to_T(m.camera_pose),
                intrinsics=camera_info_to_intrinsics(m.camera_info), depth_m=depth,
                color_jpeg=bytes(m.color.data), place_id=int(m.place_id),
                detected_classes=list(m.detected_classes))


# ---------------------------------------------------------------------------------- places and rooms


def place_graph_to_msg(g: PlaceGraph, map_frame: str) -> PlaceGraphMsg:
    m = PlaceGraphMsg()
    m.header.stamp = ns_to_time(g.stamp_ns)
    m.header.frame_id = map_frame
    for p in g.places:
        pm = PlaceMsg()
        pm.id = int(p.place_id)
        pm.position = np_to_point(p.position_m)
        pm.room_id = int(p.room_id)
        pm.first_observed = ns_to_time(p.first_observed_ns)
        pm.last_observed = ns_to_time(p.last_observed_ns)
        m.places.append(pm)
    m.edge_sources = [int(a) for a, _ in g.edges]
    m.edge_targets = [int(b) for _, b in g.edges]
    return m


def place_graph_from_msg(m: PlaceGraphMsg) -> PlaceGraph:
    if len(m.edge_sources) != len(m.edge_targets):
        raise InputError("bad_place_graph", f"{len(m.edge_sources)} edge sources vs {len(m.edge_targets)} targets")
    places = [Place(int(p.id), point_to_np(p.position), int(p.room_id), time_to_ns(p.first_observed),
                    time_to_ns(p.last_observed)) for p in m.places]
    return PlaceGraph(time_to_ns(m.header.stamp), places,
                      [(int(a), int(b)) for a, b in zip(m.edge_sources, m.edge_targets)])


def rooms_to_msg(seg: RoomSegmentation, map_frame: str) -> RoomSegmentationMsg:
    """room_map.data holds room ids 0..126 (int8), -1 for unknown or wall."""
    m = RoomSegmentationMsg()
    m.header.stamp = ns_to_time(seg.stamp_ns)
    m.header.frame_id = map_frame
    for r in seg.rooms:
        rm = RoomMsg()
        rm.id = int(r.room_id)
        rm.label = r.label
        rm.label_confidence = float(r.label_confidence)
        rm.centroid = np_to_point(r.centroid_m)
        rm.area_m2 = float(r.area_m2)
        m.rooms.append(rm)
    grid = OccupancyGrid()
    grid.header = m.header
    rows, cols = seg.room_map.shape
    grid.info.resolution = float(seg.resolution_m)
    grid.info.width, grid.info.height = int(cols), int(rows)
    grid.info.origin.position = Point(x=float(seg.origin_xy_m[0]), y=float(seg.origin_xy_m[1]), z=0.0)
    grid.info.origin.orientation.w = 1.0
    ids = np.asarray(seg.room_map, np.int32)
    if ids.size and ids.max() > 126:
        raise InputError("too_many_rooms", f"room id {int(ids.max())} does not fit the int8 grid (0..126)")
    grid.data = array.array("b", ids.astype(np.int8).tobytes())
    m.room_map = grid
    return m


def rooms_from_msg(m: RoomSegmentationMsg) -> RoomSegmentation:
    info = m.room_map.info
    data = np.asarray(m.room_map.data, dtype=np.int8).astype(np.int16)
    if data.size != info.width * info.height:
        raise InputError("size_mismatch", f"room map has {data.size} cells for {info.width}x{info.height}")
    rooms = [Room(int(r.id), r.label, float(r.label_confidence), point_to_np(r.centroid), float(r.area_m2))
             for r in m.rooms]
    return RoomSegmentation(time_to_ns(m.header.stamp), rooms, data.reshape(info.height, info.width),
                            float(info.resolution), (float(info.origin.position.x), float(info.origin.position.y)))
