"""Negative evidence: a remembered object not detected where a view shows its location clearly.

For each view: the live tracks near the camera that the frame did not match are projected into the view
(visibility.py: in the frustum, in range, depth at or behind them); a large object also needs
``min_extent_in_view_frac`` of its merged extent's corners in the frustum (a table whose corner shows
is not "seen"). A visible tentative one-off is rejected (a false positive); a confirmed one gets an
absence row. It is missing ("disappeared", with the views as evidence) once the absences since its last
sighting are unlikely to be the detector's misses. An absence whose depth lies beyond the object's far
side (``seen_through_margin_m``: the spot seen empty) counts each time; one that shows a surface where
the object was (it may be there, undetected) counts once per distinct viewpoint
(``distinct_view_baseline_m`` / ``distinct_view_rotation_rad`` apart, or ``distinct_view_interval_s``
apart in time: a detector that misses an object from one side misses it again from there, in the same
pass). k such absences make it missing when k >=
``missing_after_absences`` and P(miss)^k <=
``max_false_missing_prob``, with P(miss) the object's own rate, (proven misses + w * class rate)
/ (proven misses + views with a sighting + w), w = ``miss_prior_views``, and the class rate learned the
same way from the class's other records with ``detector_miss_prob`` as its prior (``miss_rate``: an
object the detector finds one view in three, or of a class it often misses, needs more empty views than
one it always finds). An absence while the object's
sightings drift away is the "old spot seen empty" that a move within the gate needs (identity.py). A
look-alike newcomer seen elsewhere since is merged with it (identity.py): it moved.
"""
from __future__ import annotations

import math
from typing import Dict, Set, Tuple

import numpy as np

from ..common.geometry import row_norms3
from ..common.protocols import Evidence
from ..common.types import View
from ..common.visibility import NOT_VISIBLE, VISIBLE, visibility
from .config import NS_PER_S, AbsenceConfig, MemoryConfig
from .events import EventLog
from .extents import add_distinct, norm3, spot_seen_through
from .identity import Tracker
from .records import CONFIRMED_STATUSES, MISSING, PRESENT, TENTATIVE, Track, object_id_str
from .repository import Repository
from .state import MemoryState


def miss_rate(ab: AbsenceConfig, tr: Track, class_counts: Dict[str, Tuple[int, int]]) -> float:
    """P(not detected | there, in view) of ``tr``, learned from the robot's own record at two levels: its
    class's rate over the class's other confirmed records, (their proven misses + w * detector_miss_prob) /
    (the views they were there in + w), and the object's own, (its proven misses + w * class rate) / (its
    proven misses + its views with a sighting + w), w = ``miss_prior_views``. An object seen in two views
    says little of itself; a class the detector keeps missing (books, lying flat) says how far two views
    can be trusted, and the object's own record takes over as it grows."""
    w = ab.miss_prior_views
    misses, there = class_counts.get(tr.class_name, (0, 0))
    if tr.status in CONFIRMED_STATUSES:          # the others of its class: not itself twice
        misses, there = misses - tr.proven_misses, there - tr.proven_misses - tr.views_seen
    misses = max(0, misses)                      # (counts a frame older than the record: never below 0)
    p_class = (misses + w * ab.detector_miss_prob) / (max(misses, there) + w)
    return (tr.proven_misses + w * p_class) / (tr.proven_misses + tr.views_seen + w)

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
        d = row_norms3(ms.act_pos - cam[None, :])
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
        for tr0, s in zip(trs, vis):
            # an earlier track of this view that went missing may have merged this one (gone from tracks) or
            # changed it (a clone installed in its place): read it afresh
            tr = ms.tracks.get(tr0.id)
            if tr is None or tr.status not in (PRESENT, TENTATIVE):
                continue
            if s != VISIBLE or stamp <= tr.last_seen_ns or not self.extent_in_view(v, tr):
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
            vp = ms.view_pose.get(v.view_id)
            through = spot_seen_through(ab, v, tr.pos, tr.extent_m)
            if vp is None or through:
                tr.absences_through += 1             # depth behind where it was: empty, whatever the detector
                independent = True
            else:                                    # a surface there, not detected: once per viewpoint
                independent = add_distinct(tr.absence_vps, vp, ab.distinct_view_baseline_m,
                                           ab.distinct_view_rotation_rad, stamp / NS_PER_S, ab.distinct_view_interval_s)
            if tr.drift_hits > 0 and through:
                tr.drift_empty += 1                  # its old spot seen empty while it shows up nearby
            tr.absence_views = (tr.absence_views + [v.view_id])[-_MAX_ABSENCE_VIEWS:]
            tr.absence_stamps = (tr.absence_stamps + [stamp])[-_MAX_ABSENCE_VIEWS:]
            ms.mark(tr)
            if independent and tr.absences_through + len(tr.absence_vps) >= self.absences_needed(tr):
                self.went_missing(tr, stamp)
        self.repo.add_absences(rows)

    def extent_in_view(self, v: View, tr: Track) -> bool:
        """Enough of the merged extent's corners in the view's frustum and range."""
        ab = self.config.absence
        lo, hi = tr.extent_min, tr.extent_max
        if norm3(hi - lo) <= 2.0 * ab.occlusion_tolerance_m or ab.min_extent_in_view_frac <= 0.0:
            return True                              # small: its centre says it all
        corners = np.array([[(lo, hi)[i][0], (lo, hi)[j][1], (lo, hi)[k][2]]
                            for i in (0, 1) for j in (0, 1) for k in (0, 1)])
        st = visibility(ab, v, corners, np.full(8, 0.5 * norm3(hi - lo)))
        return float(np.mean(st != NOT_VISIBLE)) >= ab.min_extent_in_view_frac

    def absences_needed(self, tr: Track) -> int:
        """Absences in a row that make tr missing (see the module doc)."""
        ab = self.config.absence
        p_miss = min(max(miss_rate(ab, tr, self.s.class_miss_counts()), 1e-6), 0.999)
        k = math.ceil(math.log(ab.max_false_missing_prob) / math.log(p_miss) - 1e-9)
        return max(ab.missing_after_absences, k)

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
        # it may already be known elsewhere: a newcomer of its class first seen after it was last seen here,
        # the younger of the two having arrived where it was first seen (Tracker.arrived)
        others = [x for x in ms.tracks.values() if x.status == PRESENT and x.id != tr.id]
        arrived = self.tracker.arrived
        n = self.tracker.reid.best_reid(
            tr, others, extra=lambda x: (x.first_seen_ns > tr.last_seen_ns or not self.tracker.reid.coexisted(x, tr))
            and arrived(x if (x.first_seen_ns, x.id) > (tr.first_seen_ns, tr.id) else tr))
        if n is not None:
            if n.first_seen_ns < tr.first_seen_ns:
                self.tracker.reid.merge(new=tr, old=n)          # the older identity survives
            else:
                self.tracker.reid.merge(new=n, old=tr)
