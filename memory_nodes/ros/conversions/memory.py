"""Memory's messages <-> core types: recall results -> RecallItem, the scene graph -> SceneGraph and
MarkerArray, perception topics -> PerceptionOutput (pairing is the node's job), ingest progress.

RecallItem contract (what the planner's RosMemoryView reads): a sighting or history span has
[stamp, until] = [first seen at that position, last seen there]; p_still_there is the staleness model at
the query time; change items carry event = moved | appeared | disappeared, position = where it went (or
where it was, for "disappeared"); absence items carry event = "absent", stamp = when, and the view's
keyframe ref (if kept) as evidence.keyframe_refs[0]; count items carry count and the evidence; robot pose
items carry event = "pose", object_id = the view id, stamp, position, yaw_rad, place, room and the view's
keyframe ref (if kept) as evidence.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Vector3
from memory_interfaces.msg import IngestProgress, RecallItem, SceneGraph, SceneGraphEdge, SceneGraphNode
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from memory_nodes.common.protocols import Absence, ChangeEvent, Evidence, HistorySpan, PlaceInfo, PoseSample, Sighting

from .basic import np_to_point, np_to_vector3, ns_to_time
from .evidence import evidence_to_msg

# ------------------------------------------------------------------------------------------- recall


def sighting_to_item(s: Sighting) -> RecallItem:
    it = RecallItem()
    it.object_id = s.object_id
    it.class_name = s.class_name
    it.position = np_to_point(s.position_m)
    it.place_id = int(s.place_id)
    it.room_id = int(s.room_id)
    it.stamp = ns_to_time(s.first_seen_ns)
    it.until = ns_to_time(s.last_seen_ns)
    it.p_still_there = float(s.p_still_there)
    it.receptacle = str(s.receptacle or "")
    it.color_rgb = [float(c) for c in s.color_rgb]
    it.evidence = evidence_to_msg(s.evidence)
    return it


def span_to_item(h: HistorySpan) -> RecallItem:
    it = RecallItem()
    it.object_id = h.object_id
    it.class_name = h.class_name
    it.position = np_to_point(h.position_m)
    it.place_id = int(h.place_id)
    it.room_id = int(h.room_id)
    it.stamp = ns_to_time(h.start_ns)
    it.until = ns_to_time(h.end_ns)
    it.p_still_there = 1.0
    it.evidence = evidence_to_msg(h.evidence)
    return it


def pose_to_item(p: PoseSample) -> RecallItem:
    it = RecallItem()
    it.object_id = p.view_id
    it.event = "pose"
    it.position = np_to_point(p.position_m)
    it.yaw_rad = float(p.yaw_rad)
    it.place_id = int(p.place_id)
    it.room_id = int(p.room_id)
    it.stamp = ns_to_time(p.stamp_ns)
    it.evidence = evidence_to_msg(Evidence(place_ids=[p.place_id] if p.place_id >= 0 else [], stamps_ns=[p.stamp_ns],
                                           keyframe_refs=[p.keyframe_ref] if p.keyframe_ref else []))
    return it


def change_to_item(e: ChangeEvent) -> RecallItem:
    it = RecallItem()
    it.object_id = e.object_id
    it.class_name = e.class_name
    pos = e.to_position_m if e.to_position_m is not None else e.from_position_m
    if pos is not None:
        it.position = np_to_point(pos)
    it.room_id = int(e.to_room_id if e.to_position_m is not None else e.from_room_id)
    it.place_id = int(e.evidence.place_ids[-1]) if e.evidence.place_ids else -1
    it.stamp = ns_to_time(e.stamp_ns)
    it.event = e.kind
    it.evidence = evidence_to_msg(e.evidence)
    return it


def absence_to_item(a: Absence, keyframe_ref: str = "") -> RecallItem:
    it = RecallItem()
    it.object_id = a.object_id
    it.class_name = a.class_name
    it.position = np_to_point(a.position_m)
    it.place_id = -1
    it.room_id = -1
    it.stamp = ns_to_time(a.stamp_ns)
    it.event = "absent"
    it.evidence = evidence_to_msg(Evidence([a.object_id], [], [], [a.stamp_ns], [keyframe_ref] if keyframe_ref else []))
    return it


def place_to_item(p: PlaceInfo) -> RecallItem:
    it = RecallItem()
    it.object_id = ""
    it.class_name = p.room_label
    it.position = np_to_point(p.position_m)
    it.place_id = int(p.place_id)
    it.room_id = int(p.room_id)
    return it


def count_to_item(class_name: str, n: int, ev: Evidence, room_id: int, t_ns: int) -> RecallItem:
    it = RecallItem()
    it.class_name = class_name
    it.count = int(n)
    it.room_id = int(room_id)
    it.place_id = -1
    it.stamp = ns_to_time(t_ns)
    it.evidence = evidence_to_msg(ev)
    return it


def staleness_to_item(object_id: str, class_name: str, p: float, t_ns: int) -> RecallItem:
    it = RecallItem()
    it.object_id = object_id
    it.class_name = class_name
    it.p_still_there = float(p)
    it.place_id = -1
    it.room_id = -1
    it.stamp = ns_to_time(t_ns)
    return it


# --------------------------------------------------------------------------------------- progress


def ingest_progress_msg(through_ns: int, observations_total: int, views_total: int, frame_id: str,
                        stamp: Optional[Time] = None) -> IngestProgress:
    m = IngestProgress()
    m.header.frame_id = frame_id
    m.header.stamp = stamp if stamp is not None else ns_to_time(max(0, through_ns))
    m.ingested_through = ns_to_time(max(0, through_ns))
    m.observations_total = int(observations_total)
    m.views_total = int(views_total)
    return m


# ------------------------------------------------------------------------------------- scene graph


def _t(ns) -> Time:
    return ns_to_time(max(0, int(ns)))


def scene_graph_to_msg(g, stamp_ns: int, frame_id: str) -> SceneGraph:
    """networkx graph from MemoryCore.scene_graph() -> SceneGraph message."""
    m = SceneGraph()
    m.header.stamp = _t(stamp_ns)
    m.header.frame_id = frame_id
    for nid, d in g.nodes(data=True):
        n = SceneGraphNode()
        n.id = str(nid)
        n.layer = int(d["layer"])
        n.semantic_label = str(d.get("semantic_label", ""))
        n.position = np_to_point(d["position"])
        if "bbox_min" in d:
            n.bbox_min = np_to_vector3(d["bbox_min"])
            n.bbox_max = np_to_vector3(d["bbox_max"])
        n.first_observed = _t(d.get("first_observed_ns", 0))
        n.last_observed = _t(d.get("last_observed_ns", 0))
        n.confidence = float(d.get("confidence", 1.0))
        m.nodes.append(n)
    for u, v, d in g.edges(data=True):
        e = SceneGraphEdge()
        e.source, e.target = str(u), str(v)
        e.interlayer = bool(d.get("interlayer", False))
        e.first_observed = _t(d.get("first_observed_ns", 0))
        e.last_observed = _t(d.get("last_observed_ns", 0))
        m.edges.append(e)
    return m


_LAYER_Z = {2: 0.0, 3: 0.05, 4: 2.6}


def markers_from_graph(g, stamp_ns: int, frame_id: str, max_objects: int = 2000) -> MarkerArray:
    """RViz / Foxglove markers: objects (cubes in their colour of certainty: green fresh -> red stale),
    places (small spheres), place edges (lines), room labels and object labels (text)."""
    stamp = _t(stamp_ns)
    out = MarkerArray()
    clear = Marker()
    clear.header.frame_id = frame_id
    clear.header.stamp = stamp
    clear.action = Marker.DELETEALL
    out.markers.append(clear)

    def base(ns: str, mid: int, kind: int) -> Marker:
        mk = Marker()
        mk.header.frame_id = frame_id
        mk.header.stamp = stamp
        mk.ns = ns
        mk.id = mid
        mk.type = kind
        mk.action = Marker.ADD
        mk.pose.orientation.w = 1.0
        return mk

    places = base("places", 0, Marker.SPHERE_LIST)
    places.scale = Vector3(x=0.15, y=0.15, z=0.15)
    places.color = ColorRGBA(r=0.2, g=0.4, b=1.0, a=0.8)
    edges = base("place_edges", 0, Marker.LINE_LIST)
    edges.scale.x = 0.03
    edges.color = ColorRGBA(r=0.3, g=0.5, b=1.0, a=0.6)
    n_obj = 0
    for nid, d in g.nodes(data=True):
        layer = d["layer"]
        p = np.asarray(d["position"], float)
        if layer == 3:
            places.points.append(Point(x=float(p[0]), y=float(p[1]), z=_LAYER_Z[3]))
        elif layer == 4:
            txt = base("rooms", len(out.markers), Marker.TEXT_VIEW_FACING)
            txt.pose.position = Point(x=float(p[0]), y=float(p[1]), z=_LAYER_Z[4])
            txt.scale.z = 0.4
            txt.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
            txt.text = f"{d.get('semantic_label', '')} ({nid})"
            out.markers.append(txt)
        elif layer == 2 and n_obj < max_objects:
            n_obj += 1
            c = float(d.get("confidence", 1.0))
            cube = base("objects", n_obj, Marker.CUBE)
            cube.pose.position = Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))
            if "bbox_min" in d:
                size = np.clip(np.asarray(d["bbox_max"]) - np.asarray(d["bbox_min"]), 0.05, 5.0)
                cube.scale = Vector3(x=float(size[0]), y=float(size[1]), z=float(size[2]))
            else:
                cube.scale = Vector3(x=0.1, y=0.1, z=0.1)
            cube.color = ColorRGBA(r=float(1.0 - c), g=float(c), b=0.2, a=0.8)
            out.markers.append(cube)
            label = base("object_labels", n_obj, Marker.TEXT_VIEW_FACING)
            label.pose.position = Point(x=float(p[0]), y=float(p[1]), z=float(p[2]) + 0.2)
            label.scale.z = 0.12
            label.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=0.9)
            label.text = f"{d.get('semantic_label', '')} {c:.2f}"
            out.markers.append(label)
    pos = {nid: np.asarray(d["position"], float) for nid, d in g.nodes(data=True) if d["layer"] == 3}
    for u, v, d in g.edges(data=True):
        if u in pos and v in pos and not d.get("interlayer", False):
            for q in (pos[u], pos[v]):
                edges.points.append(Point(x=float(q[0]), y=float(q[1]), z=_LAYER_Z[3]))
    out.markers.append(places)
    out.markers.append(edges)
    return out
