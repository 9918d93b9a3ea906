"""Cross-robot questions for one robot (repository/fleet.py's server, read through its pool): asked of the
fleet server, answered from the robot's own memory when the server is unreachable or none is configured
(``FleetAnswer.source`` = "local", ``note`` why). Rooms are each robot's own: a room named in a question
keeps sightings in rooms their robots call so (fleet_rooms), and this robot's own answer uses its own names.
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from ...common.errors import StoreError
from .fleet import FleetAnswer, FleetServer, FleetSighting


class FleetView:
    """Cross-robot questions for one robot: asked of the fleet server, answered from the robot's own memory
    when the server is unreachable (``FleetAnswer.source`` = "local", ``note`` why)."""

    def __init__(self, robot_id: str, memory, server: Optional[FleetServer], min_score: float = 0.0,
                 vocab=None):
        self.robot_id = robot_id
        self.memory = memory               # this robot's MemoryCore (MemoryView)
        self.server = server
        self.min_score = min_score
        self.vocab = vocab                 # None: the memory's (a MemoryView over ROS has none of its own)
        self._classes: List[str] = []

    def _classes_for(self, query: str) -> List[str]:
        vocab = self.vocab if self.vocab is not None else self.memory.vocab
        res = vocab.resolve_class(query, allow_model=False)
        general = res[0] if res else vocab.canonical(query)
        if self.server is not None and general not in self._classes:
            self._classes = self.server.classes()
        return [c for c in self._classes if c == general or vocab.is_a(c, general)] or [general]

    def _local(self, query: str, since_ns: Optional[int], why: BaseException,
               before_ns: Optional[int] = None, room: str = "") -> FleetAnswer:
        out = []
        names = self._own_rooms()
        for s in (self.memory.last_seen(query) if before_ns is None else self.memory.last_seen(query, before_ns)):
            if since_ns is not None and s.last_seen_ns < since_ns:
                continue
            if room and names.get(s.room_id, "") != room:
                continue
            obs = s.evidence.observation_ids[-1] if s.evidence.observation_ids else -1
            out.append(FleetSighting(self.robot_id, s.class_name, s.class_name,
                                     int(s.object_id.split("_")[-1]) if s.object_id.startswith("obj_") else None,
                                     s.last_seen_ns, s.place_id, s.room_id, np.asarray(s.position_m, float),
                                     float(s.p_still_there), int(obs), "", names.get(s.room_id, "")))
        out.sort(key=lambda x: -x.stamp_ns)
        if self.server is None:
            return FleetAnswer(out, "local", "no fleet server configured (fleet.url is empty): this robot's own "
                                             "memory only")
        return FleetAnswer(out, "local", f"fleet server unreachable ({type(why).__name__}): this robot's own "
                                         "memory only")

    def _own_rooms(self) -> dict:
        """This robot's room names by id (its memory's rooms; {} when it has none)."""
        try:
            rooms = self.memory.rooms()
        except Exception:               # a MemoryView without rooms: ids only
            return {}
        return {int(k): str(v) for k, v in rooms.items()} if isinstance(rooms, dict) else {}

    def which_robot_saw_last(self, query: str, before_ns: Optional[int] = None, room: str = "") -> FleetAnswer:
        """The most recent sighting of ``query`` by any robot (at or before ``before_ns``; in a room its robot
        calls ``room``, e.g. "kitchen": each robot's own room names)."""
        try:
            if self.server is None:
                raise StoreError("no fleet server configured")
            hit = self.server.last_seen_by_any(self._classes_for(query), before_ns, self.min_score, room)
            return FleetAnswer([hit] if hit else [])
        except Exception as e:
            a = self._local(query, None, e, before_ns, room)
            a.sightings = a.sightings[:1]
            return a

    def seen_since(self, query: str, since_ns: int, until_ns: Optional[int] = None, room: str = "") -> FleetAnswer:
        """Each robot's latest sighting of ``query`` in [since_ns, until_ns] (None: up to now; in a room its
        robot calls ``room``)."""
        try:
            if self.server is None:
                raise StoreError("no fleet server configured")
            return FleetAnswer(self.server.seen_since(self._classes_for(query), since_ns, until_ns, self.min_score,
                                                      room))
        except Exception as e:
            return self._local(query, since_ns, e, until_ns, room)
