"""Re-identification: a remembered object and a record seen elsewhere (or again) are one object.

``best_reid`` picks the cheapest same-class, same-looking candidate (colour + appearance + detector
label); ``merge`` joins two records of one object seen at different places at different times (it moved
while memory was not looking): the older identity stays, their stays interleave in time, and a "moved"
is logged at every hand-over farther apart than both objects' extents (half the larger diagonal +
``move_margin_m``, at least ``stay_split_m``); ``reappeared`` settles a missing object seen again where it
was. ``coexisted`` tells two objects apart by time. The Tracker (identity.py), absences.py and
consolidation.py call these; records change through the MemoryState, the store through the Repository.
"""
from __future__ import annotations

from typing import Iterable, Optional, Protocol

import numpy as np

from ..common.protocols import Evidence
from .association import appearance_cost, color_distance
from .config import NS_PER_S, MemoryConfig
from .events import EventLog
from .extents import norm3
from .records import MERGED, MISSING, PRESENT, Track, object_id_str
from .repository import Repository
from .staleness import MoveStats
from .state import MemoryState


class ReidHost(Protocol):
    """What re-identification needs of the Tracker (identity.py) that owns it."""
    events: EventLog
    repo: Repository

    def class_sim(self, a: str, b: str) -> float: ...

    def pool_evidence(self, keep: Track, drop: Track) -> None: ...


class ReIdentifier:
    def __init__(self, config: MemoryConfig, state: MemoryState, tracker: ReidHost):
        self.config = config
        self.s = state
        self.tracker = tracker

    def reid_cost(self, a: Track, b: Track) -> float:
        cfg = self.config.association
        c = color_distance(a.color, b.color)
        if c > cfg.reid_max_color_distance:
            return float("inf")
        label = 0.0 if (a.label == b.label or not a.label or not b.label) else cfg.weight_label
        return c + appearance_cost(a.appearance, b.appearance) + label

    def best_reid(self, tr: Track, candidates: Iterable[Track], extra=None) -> Optional[Track]:
        """The cheapest same-class, same-looking candidate (``extra(candidate)`` must hold too)."""
        cfg = self.config.association
        best, best_cost = None, cfg.reid_max_cost
        for m in candidates:
            if self.tracker.class_sim(m.class_name, tr.class_name) < 0.99:
                continue
            c = self.reid_cost(m, tr)
            if c > best_cost or (extra is not None and not extra(m)):
                continue
            if c < best_cost or (c == best_cost and best is not None and m.last_seen_ns > best.last_seen_ns):
                best, best_cost = m, c
        return best

    def coexisted(self, a: Track, b: Track) -> bool:
        """True if a and b were seen within coexist_window_s of each other at least once (then they are
        two objects: one object cannot be at two places in one patrol)."""
        w = int(self.config.association.coexist_window_s * NS_PER_S)
        sa, sb = a.stays, b.stays
        i = j = 0
        while i < len(sa) and j < len(sb):
            x, y = sa[i], sb[j]
            if x.start_ns - w <= y.end_ns and y.start_ns - w <= x.end_ns:
                return True
            if x.end_ns < y.end_ns:
                i += 1
            else:
                j += 1
        return False

    def merge(self, new: Track, old: Track) -> None:
        """``new`` and ``old`` are one object seen at different places at different times (it moved while
        memory was not looking): keep old's identity, interleave their stays in time, and log a move at
        every hand-over between them."""
        ms = self.s
        drop = ms.own_track(new)
        keep = ms.own_track(old)
        missing = keep if keep.status == MISSING else (drop if drop.status == MISSING else None)
        absence_views = list(missing.absence_views) if missing is not None else []
        absence_stamps = list(missing.absence_stamps) if missing is not None else []
        latest = drop if drop.last_seen_ns > keep.last_seen_ns else keep
        missing_last = missing.stays[-1] if missing is not None else None
        latest_status = latest.status
        latest_abs = (latest.absences_since_seen, list(latest.absence_views), list(latest.absence_stamps),
                      [list(v) for v in latest.absence_vps], latest.absences_through)
        from_drop = {s.id for s in drop.stays}
        # a hand-over is a move only beyond both objects' extents (half their larger diagonal + margin)
        reach = max(self.config.association.stay_split_m,
                    0.5 * max(norm3(x.extent_max - x.extent_min) for x in (keep, drop))
                    + self.config.association.move_margin_m)
        for s in drop.stays:
            s.object_id = keep.id
            ms.dirty_stays[s.id] = s
        keep.stays = sorted(keep.stays + drop.stays, key=lambda s: (s.start_ns, s.id))
        if latest is drop:
            keep.pos = drop.pos.copy()
            keep.bbox_min, keep.bbox_max = drop.bbox_min.copy(), drop.bbox_max.copy()
            keep.ext_min, keep.ext_max = drop.extent_min.copy(), drop.extent_max.copy()
            keep.ext_samples, keep.ext_offered = [list(v) for v in drop.ext_samples], drop.ext_offered
            keep.n_window = drop.n_window
            if drop.appearance is not None:
                keep.appearance = drop.appearance.copy()
        keep.color = (keep.color + drop.color) / 2.0
        self.tracker.pool_evidence(keep, drop)
        # the object is now what the most recently seen of the two says
        keep.status = MISSING if latest_status == MISSING else PRESENT
        (keep.absences_since_seen, keep.absence_views, keep.absence_stamps, keep.absence_vps,
         keep.absences_through) = latest_abs
        # the newcomer's "appeared" and the missing one's "disappeared" are explained by the move
        for eid in (drop.appeared_event, missing.disappeared_event if missing is not None else -1):
            if eid >= 0:
                self.tracker.events.delete(eid)
        drop.appeared_event = -1
        if missing is not None:
            missing.disappeared_event = -1
        drop.status = MERGED
        drop.merged_into = keep.id
        ms.merged[drop.id] = keep.id
        ms.class_index.get(drop.class_name, set()).discard(drop.id)
        ms.class_index.setdefault(keep.class_name, set()).add(keep.id)
        del ms.tracks[drop.id]
        ms.active_dirty = True
        ms.mark(drop)
        ms.mark(keep, stay=True)
        # a move at every hand-over between the two former tracks
        stats = ms.class_stats.setdefault(keep.class_name, MoveStats())
        for a, b in zip(keep.stays, keep.stays[1:]):
            if (a.id in from_drop) == (b.id in from_drop) or norm3(a.pos - b.pos) <= reach:
                continue
            kfs = [a.last_kf, b.first_kf]
            stamps = [a.end_ns, b.start_ns]
            if a is missing_last:
                kfs[1:1] = [ms.view_kf.get(v, "") for v in absence_views]
                stamps[1:1] = absence_stamps
            ev = Evidence([object_id_str(keep.id)], [a.last_obs, b.first_obs],
                          [p for p in (a.place_id, b.place_id) if p >= 0], stamps,
                          list(dict.fromkeys(k for k in kfs if k)))
            self.tracker.events.add("moved", keep, b.start_ns, a.pos, b.pos, a.room_id, b.room_id, ev)
            keep.n_moves += 1
            stats.moves += 1
        for i, (st_ns, oid, o) in enumerate(ms.recent_obs):
            if oid == drop.id:
                ms.recent_obs[i] = (st_ns, keep.id, o)
        self.tracker.repo.reassign_observations(drop.id, keep.id)
        self.tracker.repo.reassign_absences(drop.id, keep.id)

    def reappeared(self, tr: Track, pos: np.ndarray, stamp: int, oid: int, kf: str) -> None:
        """A missing object is seen again near where it was: the absences were misses, or it came back."""
        tr.status = PRESENT
        ab = self.config.absence
        if tr.disappeared_event >= 0:
            ev = self.tracker.events.find(tr.disappeared_event)
            if ev is None:
                pass                      # the event was forgotten
            elif stamp - ev.stamp_ns <= ab.retract_disappeared_s * NS_PER_S:
                self.tracker.events.delete(ev.id)
            else:
                st = tr.stay
                e = Evidence([object_id_str(tr.id)], [oid], [st.place_id] if st.place_id >= 0 else [], [stamp],
                             [kf] if kf else [])
                self.tracker.events.add("appeared", tr, stamp, None, pos, -1, st.room_id, e)
            tr.disappeared_event = -1

