"""Change-event reads of the MemoryView (``changes``, ``changes_of``): a mixin of queries.Queries.

A robot-year holds tens of thousands of change events, and "what changes did the mug go through" over all
history returns thousands of them, so the reads are shaped for that:
- ``changes_of`` reads the events of the objects asked about from a per-object index
  (``MemoryState.events_by_object``, built on first use and kept in step by events.EventLog), not a scan of
  every event in the window;
- an event's rooms (``room_of`` its from / to positions in the latest room cut) are worked out once per
  room cut and event (events never change: a retraction deletes one, a correction adds another).
Every call still returns new ChangeEvent records (callers may keep or change them).
"""
from __future__ import annotations

import bisect
import heapq
from typing import Dict, List, Optional, Tuple

from ..common.protocols import ChangeEvent, Evidence
from .records import EventRec, object_id_str
from .state import MemoryState, event_key


class EventReads:
    s: MemoryState
    _ev_rooms: Dict[int, Tuple[int, int]]
    _ev_rooms_cut: object

    def room_of(self, pos, stored: int = -1) -> int:      # queries.Queries's
        raise NotImplementedError

    def tracks_for(self, query: str) -> list:             # queries.Queries's
        raise NotImplementedError

    def event_rooms(self, e: EventRec) -> Tuple[int, int]:
        """(from room, to room) of the event in the latest room cut, memoized per cut."""
        cut = self.s.room_map
        if self.__dict__.get("_ev_rooms_cut", False) is not cut:
            self._ev_rooms, self._ev_rooms_cut = {}, cut
        hit = self._ev_rooms.get(e.id)
        if hit is None:
            hit = self._ev_rooms[e.id] = (
                e.from_room if e.from_pos is None else self.room_of(e.from_pos, e.from_room),
                e.to_room if e.to_pos is None else self.room_of(e.to_pos, e.to_room))
        return hit

    def event_out(self, e: EventRec) -> ChangeEvent:
        fr, to = self.event_rooms(e)
        v = e.evidence
        return ChangeEvent(e.kind, object_id_str(e.object_id), e.class_name, e.stamp_ns,
                           None if e.from_pos is None else e.from_pos.copy(),
                           None if e.to_pos is None else e.to_pos.copy(), fr, to,
                           Evidence(list(v.object_ids), list(v.observation_ids), list(v.place_ids),
                                    list(v.stamps_ns), list(v.keyframe_refs)))

    def changes(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None,
                room_id: Optional[int] = None) -> List[ChangeEvent]:
        """moved / appeared / disappeared events in the window (and room), in time order."""
        evs = self._events_between(start_ns, end_ns)
        if room_id is not None and room_id >= 0:
            evs = [e for e in evs if room_id in self.event_rooms(e)]
        return [self.event_out(e) for e in evs]

    def _events_between(self, start_ns: Optional[int], end_ns: Optional[int]) -> List[EventRec]:
        """The stored events stamped in [start_ns, end_ns] (None = open), in time order."""
        ms = self.s
        lo = bisect.bisect_left(ms.event_keys, (-1 if start_ns is None else start_ns, -1))
        hi = bisect.bisect_right(ms.event_keys, ((2 ** 62) if end_ns is None else end_ns, 2 ** 62))
        return ms.events[lo:hi]

    def changes_of(self, query: str, start_ns: Optional[int] = None,
                   end_ns: Optional[int] = None) -> List[ChangeEvent]:
        """``changes`` restricted to an object id or class phrase (in time order)."""
        by = self.s.object_events()
        lo = (-1 if start_ns is None else start_ns, -1)
        hi = ((2 ** 62) if end_ns is None else end_ns, 2 ** 62)
        runs = []
        for t in self.tracks_for(query):
            evs = by.get(t.id)
            if evs:
                a = bisect.bisect_left(evs, lo, key=event_key)
                b = bisect.bisect_right(evs, hi, key=event_key)
                if a < b:
                    runs.append(evs[a:b])
        merged = runs[0] if len(runs) == 1 else list(heapq.merge(*runs, key=event_key)) if runs else []
        return [self.event_out(e) for e in merged]
