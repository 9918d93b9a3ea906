"""In-memory records of the memory core: tracks (objects), stays (where an object was, when), events,
places and rooms. Numbers are SI (m, ns); positions are map-frame (3,) float64 arrays.

Copy-on-write: every record carries the ``owner`` generation of the MemoryCore (or fork) that may mutate
it in place; a fork clones a record before its first mutation (see MemoryState.own_track).
"""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set

import numpy as np

from ..common.protocols import Evidence

TENTATIVE = "tentative"
PRESENT = "present"
MISSING = "missing"
REJECTED = "rejected"
MERGED = "merged"
LIVE_STATUSES = (TENTATIVE, PRESENT, MISSING)
CONFIRMED_STATUSES = (PRESENT, MISSING)


def object_id_str(i: int) -> str:
    return f"obj_{i:06d}"


def parse_object_id(s: str) -> Optional[int]:
    """int id of "obj_000042" (or "42"), else None."""
    s = s.strip()
    if s.startswith("obj_"):
        s = s[4:]
    return int(s) if s.isdecimal() else None


@dataclass
class Stay:
    """One stay of an object at one position: first to last sighting there."""
    id: int
    object_id: int
    start_ns: int
    end_ns: int
    pos: np.ndarray                      # (3,) running mean of the sightings (m)
    place_id: int
    room_id: int
    first_obs: int
    last_obs: int
    first_kf: str = ""
    last_kf: str = ""
    n_obs: int = 1


_REV = itertools.count(1)
# assigning one of these gives a Track a new ``rev`` (unique over the process; a clone keeps its
# original's until it changes): the arrays are replaced, never changed in place, so an unchanged rev
# means unchanged values (track_table.py)
_REV_FIELDS = frozenset({"bbox_min", "bbox_max", "ext_min", "ext_max", "color", "status"})


@dataclass
class Track:
    """An object as memory knows it (identity kept across frames and days)."""
    id: int
    status: str
    class_name: str                      # canonical class (weighted vote of its sightings)
    first_seen_ns: int
    last_seen_ns: int
    pos: np.ndarray                      # (3,) where it is believed to be (current stay's mean)
    bbox_min: np.ndarray                 # (3,) running mean of the detections' boxes (m): one typical view
    bbox_max: np.ndarray
    color: np.ndarray                    # (3,) running mean colour [0, 1]
    appearance: Optional[np.ndarray] = None   # (D,) unit vector or None
    votes: Dict[str, float] = field(default_factory=dict)   # canonical class -> summed score
    label: str = ""                      # most frequent class name as detected (e.g. "cup" for a mug)
    raw_votes: Dict[str, float] = field(default_factory=dict)
    hits: int = 0                        # frames with a sighting
    n_window: int = 0                    # sightings in the current stay's running mean (capped)
    stays: List[Stay] = field(default_factory=list)
    absences_since_seen: int = 0
    absence_views: List[str] = field(default_factory=list)   # view ids of the latest absences (capped)
    absence_stamps: List[int] = field(default_factory=list)
    n_moves: int = 0
    confirmed_ns: int = -1
    drift_hits: int = 0
    drift_sum: Optional[np.ndarray] = None
    disappeared_event: int = -1          # id of the open "disappeared" event, if any
    appeared_event: int = -1
    merged_into: int = -1
    cooccur: Set[int] = field(default_factory=set)   # tracks detected in one frame with it, nearby
    owner: int = 0
    # the merged extent of the current stay (m; a large object seen in parts): the trimmed union of a
    # sample of its sightings' boxes (identity.py), each sample [min x, y, z, max x, y, z]
    ext_min: Optional[np.ndarray] = None
    ext_max: Optional[np.ndarray] = None
    ext_samples: List[List[float]] = field(default_factory=list)
    ext_offered: int = 0                 # boxes offered to the sample in this stay
    viewpoints: List[List[float]] = field(default_factory=list)  # distinct camera poses it was seen from
    #                                      [x, y, z, forward x, y, z] (map frame), capped
    views_seen: int = 0                  # views (keyframes) with a sighting of it
    proven_misses: int = 0               # absences later contradicted by a sighting: the detector's misses
    drift_empty: int = 0                 # views showing the old spot empty while sightings drift away
    drift_vps: List[List[float]] = field(default_factory=list)  # distinct viewpoints of the drifting sightings
    absence_vps: List[List[float]] = field(default_factory=list)  # distinct viewpoints of the absences
    #                                      since the last sighting that showed a surface there, capped
    absences_through: int = 0            # absences since the last sighting whose depth showed the spot empty
    rev: int = field(default=0, init=False, repr=False, compare=False)   # see _REV_FIELDS (not stored)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in _REV_FIELDS:            # a new revision: what a TrackTable row is made of changed
            self.__dict__["rev"] = next(_REV)

    def __post_init__(self) -> None:
        self.__dict__["rev"] = next(_REV)
        if self.ext_min is None or self.ext_max is None:
            self.ext_min = np.minimum(self.bbox_min, self.bbox_max).astype(float).copy()
            self.ext_max = np.maximum(self.bbox_min, self.bbox_max).astype(float).copy()

    @property
    def extent_min(self) -> np.ndarray:
        assert self.ext_min is not None
        return self.ext_min

    @property
    def extent_max(self) -> np.ndarray:
        assert self.ext_max is not None
        return self.ext_max

    @property
    def confirmed(self) -> bool:
        return self.status in CONFIRMED_STATUSES

    @property
    def extent_m(self) -> float:
        """Diagonal of the typical box (m); cached while bbox_min / bbox_max are the same arrays (they are
        replaced, never changed in place)."""
        c = self.__dict__.get("_extent_m")
        if c is not None and c[0] is self.bbox_min and c[1] is self.bbox_max:
            return c[2]
        d = (self.bbox_max - self.bbox_min).tolist()
        e = math.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
        self.__dict__["_extent_m"] = (self.bbox_min, self.bbox_max, e)
        return e

    def extent_diag2(self) -> float:
        """Squared diagonal of the merged extent (m^2); cached while ext_min / ext_max are the same arrays
        (set_extent replaces them, nothing changes them in place)."""
        c = self.__dict__.get("_ext_diag2")
        if c is not None and c[0] is self.ext_min and c[1] is self.ext_max:
            return c[2]
        d = (self.extent_max - self.extent_min).tolist()
        e = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
        self.__dict__["_ext_diag2"] = (self.ext_min, self.ext_max, e)
        return e

    @property
    def stay(self) -> Stay:
        return self.stays[-1]

    def clone(self, owner: int) -> "Track":
        t = copy.copy(self)
        t.pos = self.pos.copy()
        t.bbox_min = self.bbox_min.copy()
        t.bbox_max = self.bbox_max.copy()
        t.color = self.color.copy()
        t.appearance = None if self.appearance is None else self.appearance.copy()
        t.votes = dict(self.votes)
        t.raw_votes = dict(self.raw_votes)
        t.stays = list(self.stays)
        if t.stays:                       # the open stay is mutated in place: copy it
            last = copy.copy(t.stays[-1])
            last.pos = last.pos.copy()
            t.stays[-1] = last
        t.absence_views = list(self.absence_views)
        t.absence_stamps = list(self.absence_stamps)
        t.drift_sum = None if self.drift_sum is None else self.drift_sum.copy()
        t.cooccur = set(self.cooccur)
        t.ext_min = self.extent_min.copy()
        t.ext_max = self.extent_max.copy()
        t.viewpoints = [list(v) for v in self.viewpoints]
        t.ext_samples = [list(v) for v in self.ext_samples]
        t.absence_vps = [list(v) for v in self.absence_vps]
        t.drift_vps = [list(v) for v in self.drift_vps]
        t.owner = owner
        return t

    # Track.to_json's lists of rows and the digits they are rounded to (rows replaced, never changed)
    ROW_LISTS = (("es", "ext_samples", 3), ("vp", "viewpoints", 4), ("avp", "absence_vps", 4),
                 ("dvp", "drift_vps", 4))

    def json_scalars(self) -> dict:
        """``to_json`` without its lists of rows (``ROW_LISTS``) and co-occurrences: what changes with
        nearly every sighting (the store serialises the rest apart, repository/tables.py's track_json)."""
        return {"pos": self.pos.tolist(), "bmin": self.bbox_min.tolist(), "bmax": self.bbox_max.tolist(),
                "color": self.color.tolist(),
                "app": None if self.appearance is None else [round(float(v), 5) for v in self.appearance],
                "votes": self.votes, "label": self.label, "raw": self.raw_votes, "hits": self.hits,
                "nw": self.n_window, "abs": self.absences_since_seen, "absv": self.absence_views,
                "abst": self.absence_stamps, "moves": self.n_moves, "conf": self.confirmed_ns,
                "dh": self.drift_hits, "ds": None if self.drift_sum is None else self.drift_sum.tolist(),
                "dis": self.disappeared_event, "app_ev": self.appeared_event, "into": self.merged_into,
                "emin": self.extent_min.tolist(), "emax": self.extent_max.tolist(),
                "vs": self.views_seen, "pm": self.proven_misses, "de": self.drift_empty, "eo": self.ext_offered,
                "ath": self.absences_through}

    def to_json(self) -> dict:
        d = self.json_scalars()
        d["co"] = sorted(self.cooccur)
        for key, name, digits in self.ROW_LISTS:
            d[key] = [[round(float(x), digits) for x in v] for v in getattr(self, name)]
        return d

    @staticmethod
    def from_row(tid: int, status: str, class_name: str, first: int, last: int, d: dict) -> "Track":
        return Track(
            id=tid, status=status, class_name=class_name, first_seen_ns=first, last_seen_ns=last,
            pos=np.array(d["pos"], float), bbox_min=np.array(d["bmin"], float),
            bbox_max=np.array(d["bmax"], float), color=np.array(d["color"], float),
            appearance=None if d.get("app") is None else np.array(d["app"], np.float32),
            votes=dict(d.get("votes", {})), label=d.get("label", ""), raw_votes=dict(d.get("raw", {})),
            hits=int(d.get("hits", 0)), n_window=int(d.get("nw", 0)),
            absences_since_seen=int(d.get("abs", 0)), absence_views=list(d.get("absv", [])),
            absence_stamps=[int(x) for x in d.get("abst", [])], n_moves=int(d.get("moves", 0)),
            confirmed_ns=int(d.get("conf", -1)), drift_hits=int(d.get("dh", 0)),
            drift_sum=None if d.get("ds") is None else np.array(d["ds"], float),
            disappeared_event=int(d.get("dis", -1)), appeared_event=int(d.get("app_ev", -1)),
            merged_into=int(d.get("into", -1)), cooccur={int(x) for x in d.get("co", [])},
            ext_min=None if d.get("emin") is None else np.array(d["emin"], float),
            ext_max=None if d.get("emax") is None else np.array(d["emax"], float),
            viewpoints=[[float(x) for x in v] for v in d.get("vp", [])], views_seen=int(d.get("vs", 0)),
            proven_misses=int(d.get("pm", 0)), drift_empty=int(d.get("de", 0)),
            ext_samples=[[float(x) for x in v] for v in d.get("es", [])], ext_offered=int(d.get("eo", 0)),
            absence_vps=[[float(x) for x in v] for v in d.get("avp", [])], absences_through=int(d.get("ath", 0)),
            drift_vps=[[float(x) for x in v] for v in d.get("dvp", [])])


@dataclass
class EventRec:
    id: int
    kind: str                            # moved | appeared | disappeared
    object_id: int
    class_name: str
    stamp_ns: int
    from_pos: Optional[np.ndarray]
    to_pos: Optional[np.ndarray]
    from_room: int
    to_room: int
    evidence: Evidence

    def to_json(self) -> dict:
        e = self.evidence
        return {"cls": self.class_name,
                "from": None if self.from_pos is None else [float(v) for v in self.from_pos],
                "to": None if self.to_pos is None else [float(v) for v in self.to_pos],
                "fr": self.from_room, "tr": self.to_room,
                "ev": {"o": e.object_ids, "obs": e.observation_ids, "p": e.place_ids, "t": e.stamps_ns,
                       "kf": e.keyframe_refs}}

    @staticmethod
    def from_row(eid: int, kind: str, oid: int, stamp: int, d: dict) -> "EventRec":
        ev = d.get("ev", {})
        return EventRec(eid, kind, oid, d.get("cls", ""), stamp,
                        None if d.get("from") is None else np.array(d["from"], float),
                        None if d.get("to") is None else np.array(d["to"], float),
                        int(d.get("fr", -1)), int(d.get("tr", -1)),
                        Evidence(list(ev.get("o", [])), [int(x) for x in ev.get("obs", [])],
                                 [int(x) for x in ev.get("p", [])], [int(x) for x in ev.get("t", [])],
                                 list(ev.get("kf", []))))


@dataclass
class PlaceRec:
    place_id: int
    pos: np.ndarray
    room_id: int
    first_ns: int
    last_ns: int


@dataclass
class RoomRec:
    room_id: int
    label: str
    confidence: float
    centroid: np.ndarray
    area_m2: float
    first_ns: int
    last_ns: int


@dataclass
class ObservationRecord:
    """A stored observation as read back (raw data, never altered) with its association."""
    id: int
    stamp_ns: int
    object_id: str                       # "" if not associated
    class_name: str                      # canonical
    raw_class: str                       # as detected
    score: float
    centroid_m: np.ndarray               # (3,) map frame (m)
    place_id: int
    room_id: int
    view_id: str
