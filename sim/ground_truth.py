"""The ground-truth log: every object's receptacle, room and pose over time (scorers only).

File format (docs/ground_truth_format.md): JSON Lines, first line a header
``{"format": "household_ground_truth", "version": 1, ...}``, then one record per line, ordered by time.
An object's state holds from its record's ``t_ns`` until its next record.
"""
from __future__ import annotations

import bisect
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from memory_nodes.common.errors import NotFoundError, StoreError

GT_FORMAT = "household_ground_truth"
GT_VERSION = 1


@dataclass(frozen=True)
class ObjectState:
    """Where one object is from ``t_ns`` on (until its next state)."""
    t_ns: int
    object_id: str
    present: bool                         # False: not in the home (used up, not yet appeared)
    furniture_id: str                     # receptacle ("" when absent)
    surface_index: int                    # which surface of the receptacle (-1 when absent)
    room_id: int                          # -1 when absent
    position_m: Tuple[float, float, float]  # object centre, map frame (0,0,0 when absent)
    yaw_rad: float
    cause: str                            # routine that put it there ("initial", "breakfast", "tidy" ...)

    def to_record(self) -> Dict[str, Any]:
        return {"type": "object", "t_ns": self.t_ns, "object_id": self.object_id, "present": self.present,
                "furniture_id": self.furniture_id, "surface": self.surface_index, "room_id": self.room_id,
                "pose": [self.position_m[0], self.position_m[1], self.position_m[2], self.yaw_rad],
                "cause": self.cause}

    @staticmethod
    def from_record(r: Dict[str, Any]) -> "ObjectState":
        p = r["pose"]
        return ObjectState(int(r["t_ns"]), str(r["object_id"]), bool(r["present"]), str(r["furniture_id"]),
                           int(r["surface"]), int(r["room_id"]), (float(p[0]), float(p[1]), float(p[2])),
                           float(p[3]), str(r.get("cause", "")))


@dataclass(frozen=True)
class FurniturePose:
    """Pose of a furniture piece that moves (chairs drift) from ``t_ns`` on."""
    t_ns: int
    furniture_id: str
    x_m: float
    y_m: float
    yaw_rad: float
    cause: str = ""

    def to_record(self) -> Dict[str, Any]:
        return {"type": "furniture", "t_ns": self.t_ns, "furniture_id": self.furniture_id,
                "pose": [self.x_m, self.y_m, self.yaw_rad], "cause": self.cause}

    @staticmethod
    def from_record(r: Dict[str, Any]) -> "FurniturePose":
        p = r["pose"]
        return FurniturePose(int(r["t_ns"]), str(r["furniture_id"]), float(p[0]), float(p[1]), float(p[2]),
                             str(r.get("cause", "")))


class GroundTruthLog:
    """In-memory ground truth with time queries; ``save``/``load`` the versioned JSONL file."""

    def __init__(self, header: Dict[str, Any]):
        self.header = dict(header)
        self.header["format"] = GT_FORMAT
        self.header["version"] = GT_VERSION
        self.header.setdefault("days_simulated", 0)
        self._obj: Dict[str, List[ObjectState]] = {}
        self._obj_t: Dict[str, List[int]] = {}
        self._furn: Dict[str, List[FurniturePose]] = {}
        self._furn_t: Dict[str, List[int]] = {}
        world = self.header.get("world") or {}
        self._known = {str(o["object_id"]) for o in world.get("objects", [])}

    # -- header ---------------------------------------------------------------------------------------------
    @property
    def seed(self) -> int:
        return int(self.header["seed"])

    @property
    def world_hash(self) -> str:
        return str(self.header["world_hash"])

    @property
    def days_simulated(self) -> int:
        """Days 0 .. days_simulated-1 are complete."""
        return int(self.header["days_simulated"])

    @days_simulated.setter
    def days_simulated(self, n: int) -> None:
        self.header["days_simulated"] = int(n)

    # -- writing --------------------------------------------------------------------------------------------
    def add_object_state(self, s: ObjectState) -> None:
        times = self._obj_t.setdefault(s.object_id, [])
        if times and s.t_ns < times[-1]:
            raise StoreError(f"ground truth: {s.object_id} state at {s.t_ns} before its last one {times[-1]}")
        self._obj.setdefault(s.object_id, []).append(s)
        times.append(s.t_ns)

    def add_furniture_pose(self, p: FurniturePose) -> None:
        times = self._furn_t.setdefault(p.furniture_id, [])
        if times and p.t_ns < times[-1]:
            raise StoreError(f"ground truth: {p.furniture_id} pose at {p.t_ns} before its last one")
        self._furn.setdefault(p.furniture_id, []).append(p)
        times.append(p.t_ns)

    def truncate_after(self, t_ns: int) -> None:
        """Drop every record later than ``t_ns`` (to resimulate from there)."""
        for d, dt in ((self._obj, self._obj_t), (self._furn, self._furn_t)):
            for k in list(d):
                i = bisect.bisect_right(dt[k], t_ns)
                del d[k][i:]
                del dt[k][i:]

    # -- queries --------------------------------------------------------------------------------------------
    def object_ids(self) -> List[str]:
        """Every object of the world (including ones that appear only later)."""
        return sorted(self._known | set(self._obj))

    def object_state(self, object_id: str, t_ns: int) -> ObjectState:
        """State of ``object_id`` at ``t_ns`` (not present before its first record)."""
        if object_id not in self._obj:
            if object_id not in self._known:
                raise NotFoundError(f"object {object_id!r} not in the ground truth")
            i = -1
        else:
            i = bisect.bisect_right(self._obj_t[object_id], int(t_ns)) - 1
        if i < 0:
            return ObjectState(int(t_ns), object_id, False, "", -1, -1, (0.0, 0.0, 0.0), 0.0, "not_yet")
        return self._obj[object_id][i]

    def object_states(self, t_ns: int) -> Dict[str, ObjectState]:
        return {oid: self.object_state(oid, t_ns) for oid in self.object_ids()}

    def object_history(self, object_id: str, start_ns: Optional[int] = None,
                       end_ns: Optional[int] = None) -> List[ObjectState]:
        """States that begin in [start_ns, end_ns), preceded by the one in force at start_ns."""
        if object_id not in self._obj:
            if object_id not in self._known:
                raise NotFoundError(f"object {object_id!r} not in the ground truth")
            return []
        states, times = self._obj[object_id], self._obj_t[object_id]
        i0 = 0 if start_ns is None else max(0, bisect.bisect_right(times, start_ns) - 1)
        i1 = len(states) if end_ns is None else bisect.bisect_left(times, end_ns)
        return list(states[i0:i1])

    def changes(self, start_ns: int, end_ns: int) -> List[ObjectState]:
        """Every object state that begins in [start_ns, end_ns), by time then object id."""
        out = []
        for oid, times in self._obj_t.items():
            a, b = bisect.bisect_left(times, start_ns), bisect.bisect_left(times, end_ns)
            out += self._obj[oid][a:b]
        out.sort(key=lambda s: (s.t_ns, s.object_id))
        return out

    def furniture_pose(self, furniture_id: str, t_ns: int) -> Optional[FurniturePose]:
        """Pose of a moving furniture piece at ``t_ns``; None if it never moved (use its nominal pose)."""
        times = self._furn_t.get(furniture_id)
        if not times:
            return None
        i = bisect.bisect_right(times, int(t_ns)) - 1
        return self._furn[furniture_id][max(i, 0)] if i >= 0 else None

    def moving_furniture_ids(self) -> List[str]:
        return sorted(self._furn)

    def records(self) -> Iterable[Dict[str, Any]]:
        allrec: List[Tuple[int, int, str, Dict[str, Any]]] = []
        for oid, states in self._obj.items():
            allrec += [(s.t_ns, 1, oid, s.to_record()) for s in states]
        for fid, poses in self._furn.items():
            allrec += [(p.t_ns, 0, fid, p.to_record()) for p in poses]
        allrec.sort(key=lambda r: (r[0], r[1], r[2]))
        return (r[3] for r in allrec)

    # -- files ----------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the JSONL file (``.gz`` suffix: gzip) atomically; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(tmp, "wt", encoding="utf-8") as f:
            f.write(json.dumps(self.header, sort_keys=True) + "\n")
            for r in self.records():
                f.write(json.dumps(r, sort_keys=True) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "GroundTruthLog":
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"ground truth file not found: {path}")
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rt", encoding="utf-8") as f:
                header = json.loads(f.readline())
                if not isinstance(header, dict) or header.get("format") != GT_FORMAT:
                    raise StoreError(f"{path}: not a {GT_FORMAT} file")
                if int(header.get("version", -1)) != GT_VERSION:
                    raise StoreError(f"{path}: ground truth version {header.get('version')} "
                                     f"(this code reads {GT_VERSION})")
                log = cls(header)
                for n, line in enumerate(f, start=2):
                    if not line.strip():
                        continue
                    r = json.loads(line)
                    if r.get("type") == "object":
                        log.add_object_state(ObjectState.from_record(r))
                    elif r.get("type") == "furniture":
                        log.add_furniture_pose(FurniturePose.from_record(r))
                    else:
                        raise StoreError(f"{path}:{n}: unknown record type {r.get('type')!r}")
        except (ValueError, KeyError, TypeError, OSError) as e:
            raise StoreError(f"{path}: corrupt ground truth ({e})") from e
        return log
