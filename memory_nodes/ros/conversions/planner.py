"""Planner messages <-> core types: Ask / AskActive requests and replies, Recall items, evidence.

Recall item contract assumed from memory/recall (RecallItem): a sighting or history span is
[stamp, until] = [first seen at that position, last seen there] (until zero = open); p_still_there is the
staleness model; event is "moved" | "appeared" | "disappeared" | "absent" for change / absence items and
"pose" for the robot's pose trail (object_id = view id, yaw_rad).
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

import numpy as np
from builtin_interfaces.msg import Time
from memory_interfaces.msg import AnswerCandidate, RecallItem

from memory_nodes.common.protocols import Absence, ChangeEvent, HistorySpan, PlaceInfo, PoseSample, Sighting
from memory_nodes.planner.answer import ANSWERED, CANNOT_PARSE, NOT_SURE, Answer
from memory_nodes.planner.planner import Feedback
from memory_nodes.planner.query import TimeWindow

from .basic import np_to_point, ns_to_time, point_to_np, time_to_ns
from .evidence import evidence_from_msg, evidence_to_msg  # noqa: F401 - re-exported for the node

STATUS_CODE = {ANSWERED: 0, NOT_SURE: 1, CANNOT_PARSE: 2}
YES_NO_UNKNOWN, YES_NO_YES, YES_NO_NO = 0, 1, 2


# ----------------------------------------------------------------------------------------- requests
def window_from_request(req) -> Optional[TimeWindow]:
    """The request's optional time window (zero stamps = unbounded; both zero = none)."""
    a, b = time_to_ns(req.window_start), time_to_ns(req.window_end)
    if a == 0 and b == 0:
        return None
    return TimeWindow(a if a > 0 else None, b if b > 0 else None, "request window")


# ------------------------------------------------------------------------------------------ replies
def candidates_to_msg(cands) -> List[AnswerCandidate]:
    out = []
    for c in cands:
        m = AnswerCandidate()
        m.text = c.text
        m.probability = float(min(1.0, max(0.0, c.probability)))
        m.place_id = int(c.place_id)
        out.append(m)
    return out


def fill_reply(reply, a: Answer, error_code: int = 0, error_msg: str = ""):
    """Fill an Ask.Response or AskActive.Result (same fields) from an Answer."""
    reply.status = STATUS_CODE[a.status]
    reply.query_kind = a.query_kind
    reply.reason = a.reason
    reply.reason_code = str(getattr(a.query, "reason_code", "") or "") if a.query is not None else ""
    reply.answer = a.answer
    reply.has_position = a.position_m is not None
    if a.position_m is not None:
        reply.position = np_to_point(a.position_m)
    reply.place_id = int(a.place_id)
    reply.room_id = int(a.room_id)
    reply.room_label = a.room_label
    reply.count = int(a.count)
    reply.time = ns_to_time(int(a.time_ns)) if a.time_ns > 0 else Time()
    reply.yes_no = YES_NO_UNKNOWN if a.yes_no is None else (YES_NO_YES if a.yes_no else YES_NO_NO)
    reply.best_guess = a.best_guess
    reply.probability = float(min(1.0, max(0.0, a.probability)))
    reply.top_answers = candidates_to_msg(a.top_answers)
    reply.evidence = evidence_to_msg(a.evidence)
    reply.path_m = float(a.path_m)
    reply.error_code = int(error_code)
    reply.error_msg = error_msg
    return reply


def fill_error(reply, error_code: int, error_msg: str, path_m: float = 0.0):
    reply.status = STATUS_CODE[NOT_SURE]
    reply.reason = error_msg
    reply.place_id = -1
    reply.room_id = -1
    reply.count = -1
    reply.path_m = float(path_m)
    reply.error_code = int(error_code)
    reply.error_msg = error_msg
    return reply


def fill_feedback(msg, fb: Feedback):
    msg.top_answers = candidates_to_msg(fb.top_answers)
    msg.current_target = fb.target_text
    msg.target_place_id = int(fb.target_place_id)
    msg.distance_travelled_m = float(fb.distance_travelled_m)
    msg.phase = fb.phase
    return msg


# ------------------------------------------------------------------------------------ recall items
def _pos(item: RecallItem) -> np.ndarray:
    return point_to_np(item.position)


def sighting_from_item(it: RecallItem) -> Sighting:
    first, last = time_to_ns(it.stamp), time_to_ns(it.until)
    if last == 0:
        last = first
    rgb = [float(c) for c in it.color_rgb]
    return Sighting(it.object_id, it.class_name, _pos(it), int(it.place_id), int(it.room_id), first, last,
                    float(it.p_still_there), color_rgb=(rgb[0], rgb[1], rgb[2]) if len(rgb) == 3 else (0.0, 0.0, 0.0),
                    receptacle=str(it.receptacle), evidence=evidence_from_msg(it.evidence))


def span_from_item(it: RecallItem) -> HistorySpan:
    start, end = time_to_ns(it.stamp), time_to_ns(it.until)
    return HistorySpan(it.object_id, it.class_name, _pos(it), int(it.place_id), int(it.room_id), start,
                       end if end > 0 else start, evidence_from_msg(it.evidence))


def change_from_item(it: RecallItem) -> ChangeEvent:
    to = _pos(it)
    return ChangeEvent(it.event or "moved", it.object_id, it.class_name, time_to_ns(it.stamp), None, to,
                       -1, int(it.room_id), evidence_from_msg(it.evidence))


def absence_from_item(it: RecallItem) -> Absence:
    refs = list(it.evidence.keyframe_refs)
    return Absence(it.object_id, it.class_name, time_to_ns(it.stamp), refs[0] if refs else "", _pos(it))


def pose_from_item(it: RecallItem) -> PoseSample:
    refs = list(it.evidence.keyframe_refs)
    return PoseSample(time_to_ns(it.stamp), _pos(it), float(it.yaw_rad), int(it.place_id), int(it.room_id),
                      it.object_id, refs[0] if refs else "")


def place_from_item(it: RecallItem, room_labels: Dict[int, str]) -> PlaceInfo:
    # memory/recall "places" items carry the room label in class_name
    return PlaceInfo(int(it.place_id), _pos(it), int(it.room_id), room_labels.get(int(it.room_id), "") or it.class_name)


_DIGITS = re.compile(r"(-?\d+)$")


def node_number(node_id: str) -> Optional[int]:
    """Trailing integer of a scene-graph node id ("room_3", "R3", "p12" -> 3, 3, 12)."""
    m = _DIGITS.search(node_id)
    return int(m.group(1)) if m else None


def scene_graph_rooms_places(graph, room_layer: int, place_layer: int
                             ) -> Tuple[Dict[int, str], Dict[int, np.ndarray], List[Tuple[int, int]]]:
    """(room id -> label, place id -> position, place-place edges) from a SceneGraph message."""
    rooms: Dict[int, str] = {}
    places: Dict[int, np.ndarray] = {}
    ids: Dict[str, Tuple[int, int]] = {}
    for n in graph.nodes:
        k = node_number(n.id)
        if k is None:
            continue
        ids[n.id] = (int(n.layer), k)
        if n.layer == room_layer:
            rooms[k] = n.semantic_label
        elif n.layer == place_layer:
            places[k] = point_to_np(n.position)
    edges = []
    for e in graph.edges:
        a, b = ids.get(e.source), ids.get(e.target)
        if a and b and a[0] == place_layer and b[0] == place_layer:
            edges.append((a[1], b[1]))
    return rooms, places, edges
