"""The two protocols the planner core depends on: MemoryView (what memory can tell) and Navigator (how
the robot moves and looks). The memory core implements MemoryView in-process; the planner node
implements it over the memory node's services; the benchmark implements Navigator in-process and the
planner node over NavigateToPose.

Every recall result carries Evidence. Times are int ns; positions metres in the map frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Protocol, Sequence, Tuple, runtime_checkable

import numpy as np

from .types import ObjectObservation, View


@dataclass
class Evidence:
    object_ids: List[str] = field(default_factory=list)
    observation_ids: List[int] = field(default_factory=list)
    place_ids: List[int] = field(default_factory=list)
    stamps_ns: List[int] = field(default_factory=list)
    keyframe_refs: List[str] = field(default_factory=list)

    def merged(self, other: "Evidence") -> "Evidence":
        def u(a, b):
            return list(dict.fromkeys(list(a) + list(b)))
        return Evidence(u(self.object_ids, other.object_ids), u(self.observation_ids, other.observation_ids),
                        u(self.place_ids, other.place_ids), u(self.stamps_ns, other.stamps_ns),
                        u(self.keyframe_refs, other.keyframe_refs))


@dataclass
class Sighting:
    """An object as memory knows it at some time: where it was seen and how sure memory is still."""
    object_id: str
    class_name: str
    position_m: np.ndarray               # (3,)
    place_id: int
    room_id: int
    first_seen_ns: int                   # start of the current stay at this position
    last_seen_ns: int                    # last sighting at this position
    p_still_there: float                 # staleness model at the query time, [0, 1]
    color_rgb: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    receptacle: str = ""                 # nearest furniture class if known
    evidence: Evidence = field(default_factory=Evidence)


@dataclass
class HistorySpan:
    """One stay of an object: seen at one position from start_ns to end_ns (last sighting there)."""
    object_id: str
    class_name: str
    position_m: np.ndarray
    place_id: int
    room_id: int
    start_ns: int
    end_ns: int
    evidence: Evidence = field(default_factory=Evidence)


@dataclass
class ChangeEvent:
    """moved / appeared / disappeared, with the observations that prove it."""
    kind: str                            # "moved" | "appeared" | "disappeared"
    object_id: str
    class_name: str
    stamp_ns: int                        # when the change was detected
    from_position_m: Optional[np.ndarray]
    to_position_m: Optional[np.ndarray]
    from_room_id: int = -1
    to_room_id: int = -1
    evidence: Evidence = field(default_factory=Evidence)


@dataclass
class Absence:
    """An object's remembered location was in view and not occluded, but it was not detected."""
    object_id: str
    class_name: str
    stamp_ns: int
    view_id: str
    position_m: np.ndarray


@dataclass
class PoseSample:
    """Where the robot's camera was at one stamp: the pose of a stored view (keyframe). The trail of these,
    oldest first, is the robot's own pose history (common/trajectory.py reads answers from it)."""
    stamp_ns: int
    position_m: np.ndarray               # (3,) camera position, map frame
    yaw_rad: float                       # heading of the optical axis in the map x-y plane (0 = +x, CCW)
    place_id: int                        # the place the robot was at (-1 unknown)
    room_id: int                         # the room containing position_m in the latest room cut (-1 none)
    view_id: str = ""
    keyframe_ref: str = ""               # the view's stored keyframe, "" if none or thinned


@dataclass
class PlaceInfo:
    place_id: int
    position_m: np.ndarray               # (3,)
    room_id: int
    room_label: str


@runtime_checkable
class MemoryView(Protocol):
    """Read access to long-term memory. ``query`` is an object id or a class name (synonyms resolve)."""

    def now_ns(self) -> int: ...

    def last_seen(self, query: str, before_ns: Optional[int] = None) -> List[Sighting]: ...

    def where_at(self, object_id: str, t_ns: int) -> Optional[Sighting]: ...

    def history(self, query: str, start_ns: Optional[int] = None,
                end_ns: Optional[int] = None) -> List[HistorySpan]: ...

    def objects_in(self, room_id: Optional[int] = None, place_id: Optional[int] = None,
                   t_ns: Optional[int] = None) -> List[Sighting]: ...

    def count(self, class_name: str, room_id: Optional[int] = None,
              t_ns: Optional[int] = None) -> Tuple[int, Evidence]: ...

    def changes(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None,
                room_id: Optional[int] = None) -> List[ChangeEvent]: ...

    def absences(self, object_id: str, since_ns: Optional[int] = None) -> List[Absence]: ...

    def p_still_there(self, object_id: str, t_ns: int) -> float: ...

    def class_move_rate_per_day(self, class_name: str) -> float: ...

    def seen_between(self, start_ns: int, end_ns: int, limit: int = 0) -> List[HistorySpan]:
        """The objects observed within [start_ns, end_ns], one span each: its first and last observation in
        the window, the position / place / room of the last, the observations as evidence; first seen first."""
        ...

    def places(self) -> List[PlaceInfo]: ...

    def place_edges(self) -> List[Tuple[int, int]]: ...

    def path_between_places(self, a: int, b: int) -> List[int]: ...

    def rooms(self) -> Dict[int, str]: ...   # room id -> label

    def room_at(self, position_m: np.ndarray, observed_room_id: int = -1) -> int:
        """The room that contains map position ``position_m`` (m, (3,) or (2,)) by memory's room map (its
        latest room cut); ``observed_room_id`` (the room the robot saw it from) breaks a tie at the wall
        between two rooms and is the answer where memory has no room map; -1 where no room holds it."""
        ...

    def robot_poses(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None,
                    room_id: Optional[int] = None, limit: int = 0) -> List[PoseSample]:
        """The robot's poses stamped in [start_ns, end_ns] (None = open), only those in ``room_id`` if
        given, oldest first; ``limit`` > 0 keeps the latest ``limit`` of them."""
        ...


@dataclass
class LookResult:
    """What the robot saw when it looked from one pose (e.g. a yaw sweep)."""
    views: List[View]
    observations: List[ObjectObservation]


@runtime_checkable
class Navigator(Protocol):
    """Moving and looking. Poses are (x_m, y_m, yaw_rad) in the map frame."""

    def current_pose(self) -> Tuple[float, float, float]: ...

    def path_cost_m(self, start: Tuple[float, float, float], goal: Tuple[float, float, float]) -> float:
        """Length of the path the robot would drive; inf if unreachable."""
        ...

    def go_to(self, goal: Tuple[float, float, float]) -> float:
        """Drive there; returns the distance actually driven (m). Raises on failure."""
        ...

    def look(self) -> LookResult: ...


def stack_evidence(items: Sequence[Evidence]) -> Evidence:
    out = Evidence()
    for e in items:
        out = out.merged(e)
    return out
