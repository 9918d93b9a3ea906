"""Negative evidence: a remembered object not detected where a view shows its location clearly.

For each view: the live tracks near the camera that the frame did not match are projected into the view
(visibility.py: in the frustum, in range, depth at or behind them). A visible tentative one-off is
rejected (a false positive); a confirmed one gets an absence row; after ``missing_after_absences`` it
is missing ("disappeared", with the views as evidence), and a look-alike newcomer seen elsewhere
since is merged with it (identity.py): it moved.
"""
from __future__ import annotations

from typing import Set

import numpy as np

from ..common.protocols import Evidence
from ..common.types import View
from ..common.visibility import VISIBLE, visibility
from .config import NS_PER_S, MemoryConfig
from .events import EventLog
from .identity import Tracker
from .records import MISSING, PRESENT, TENTATIVE, Track, object_id_str
from .repository import Repository
from .state import MemoryState

_MAX_ABSENCE_VIEWS = 6


class Absences:
    def __init__(self, config: MemoryConfig, state: MemoryState, repo: Repository, tracker: Tracker,
                 events: EventLog):
        self.config = config
        self.s = state
        self.repo = repo
        self.tracker = tracker
        self.events = events

    def absences_from_view(self, v: View, matched: Set[int]) -> None:
        ms = self.s
        if not ms.tracks:
            return
        if ms.active_dirty:
            ms.rebuild_active()
        cam = np.asarray(v.map_T_camera, float)[:3, 3]
        ab = self.config.absence
        d = np.linalg.norm(ms.act_pos - cam[None, :], axis=1)
        near = np.flatnonzero(d <= ab.max_range_m + 0.5)
        cand = [ms.act_ids[i] for i in near
                if ms.act_ids[i] not in matched and ms.tracks[ms.act_ids[i]].status in (PRESENT, TENTATIVE)]
        if not cand:
            return
        trs = [ms.tracks[i] for i in cand]
        pts = np.array([tr.pos for tr in trs])
        half = np.array([0.5 * tr.extent_m for tr in trs])
        vis = visibility(ab, v, pts, half)
        stamp = int(v.stamp_ns)
        rows = []
        for tr, s in zip(trs, vis):
            if s != VISIBLE or stamp <= tr.last_seen_ns:
                continue
            if tr.status == TENTATIVE:
                if tr.hits <= 1 or stamp - tr.last_seen_ns > NS_PER_S:
                    self.tracker.reject(tr)          # a one-off (false positive) not there when looked at again
                continue
            tr = ms.own_track(tr)
            aid = ms.take_id("absence")
            p = tr.pos
            rows.append((aid, tr.id, stamp, v.view_id, float(p[0]), float(p[1]), float(p[2])))
            ms.recent_abs.append((stamp, tr.id, v.view_id, (float(p[0]), float(p[1]), float(p[2]))))
            tr.absences_since_seen += 1
            tr.absence_views = (tr.absence_views + [v.view_id])[-_MAX_ABSENCE_VIEWS:]
            tr.absence_stamps = (tr.absence_stamps + [stamp])[-_MAX_ABSENCE_VIEWS:]
            ms.mark(tr)
            if tr.absences_since_seen >= ab.missing_after_absences:
                self.went_missing(tr, stamp)
        self.repo.add_absences(rows)

    def went_missing(self, tr: Track, stamp: int) -> None:
        ms = self.s
        tr.status = MISSING
        st = tr.stay
        kfs = [st.last_kf] + [ms.view_kf.get(v, "") for v in tr.absence_views]
        ev = Evidence([object_id_str(tr.id)], [st.last_obs], [st.place_id] if st.place_id >= 0 else [],
                      [st.end_ns] + list(tr.absence_stamps), list(dict.fromkeys(k for k in kfs if k)))
        e = self.events.add("disappeared", tr, stamp, st.pos, None, st.room_id, -1, ev)
        tr.disappeared_event = e.id
        ms.mark(tr)
        # it may already be known elsewhere: a newcomer of its class first seen after it was last seen here
        others = [x for x in ms.tracks.values() if x.status == PRESENT and x.id != tr.id]
        n = self.tracker.best_reid(
            tr, others, extra=lambda x: x.first_seen_ns > tr.last_seen_ns or not self.tracker.coexisted(x, tr))
        if n is not None:
            if n.first_seen_ns < tr.first_seen_ns:
                self.tracker.merge(new=tr, old=n)          # the older identity survives
            else:
                self.tracker.merge(new=n, old=tr)
