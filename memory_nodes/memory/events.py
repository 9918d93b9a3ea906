"""The change log: moved / appeared / disappeared events, kept sorted by (stamp, id) in the state and
written through the repository. Tracking (identity.py, absences.py) adds and retracts events here."""
from __future__ import annotations

import bisect
from typing import Optional

import numpy as np

from ..common.protocols import Evidence
from .records import EventRec, Track
from .repository import Repository
from .state import MemoryState, event_key


class EventLog:
    def __init__(self, state: MemoryState, repo: Repository):
        self.s = state
        self.repo = repo

    def add(self, kind: str, tr: Track, stamp: int, from_pos, to_pos, from_room: int, to_room: int,
            ev: Evidence) -> EventRec:
        s = self.s
        e = EventRec(s.take_id("event"), kind, tr.id, tr.class_name, int(stamp),
                     None if from_pos is None else np.asarray(from_pos, float).copy(),
                     None if to_pos is None else np.asarray(to_pos, float).copy(), from_room, to_room, ev)
        key = (e.stamp_ns, e.id)
        i = bisect.bisect_right(s.event_keys, key)
        s.event_keys.insert(i, key)
        s.events.insert(i, e)
        if s.events_by_object is not None:
            mine = s.events_by_object.setdefault(e.object_id, [])
            mine.insert(bisect.bisect_right(mine, key, key=event_key), e)
        self.repo.add_event(e)
        return e

    def find(self, eid: int) -> Optional[EventRec]:
        for e in reversed(self.s.events):
            if e.id == eid:
                return e
        return None

    def delete(self, eid: int) -> None:
        s = self.s
        for i in range(len(s.events) - 1, -1, -1):
            if s.events[i].id == eid:
                e = s.events.pop(i)
                del s.event_keys[i]
                by = s.events_by_object
                mine = None if by is None else by.get(e.object_id)
                if by is not None and mine is not None:
                    mine[:] = [x for x in mine if x is not e]
                    if not mine:
                        del by[e.object_id]
                break
        self.repo.delete_event(eid)
