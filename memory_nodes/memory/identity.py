"""Identity: which remembered object each detection is, across frames and days.

Per frame (``ingest_observations``): duplicates of one object in the frame are set aside
(consolidation.py: their boxes are class votes), then optimal assignment of the valid detections to the
live tracks (association.py's cost: distance or extent overlap, class, colour, appearance; near classes
such as table / desk vote within one track), new tentative tracks for the rest, running updates of
matched tracks, confirmation, then consolidation (consolidation.py: a large object seen in parts, a gap
in tracking, a confused detection).

A track's merged extent (``ext_min`` / ``ext_max``, extents.py) is the trimmed union of its stay's
sightings' boxes: a table seen in parts grows one object, while a few boxes that spill into the
background do not grow it. Its position is the running mean of the stay's centroids.

Confirmation: ``confirm_hits`` sightings in distinct frames from ``confirm_views`` distinct viewpoints
(camera poses of the views, ``confirm_view_baseline_m`` / ``confirm_view_rotation_rad`` apart; input
without views counts frames): an unsure detector's false positive persists over frames, seldom over
viewpoints. Sightings the detector is sure of (mean score >= ``confirm_frames_min_score``) confirm by
frames alone.

A move within the gate ("moved"): ``stay_split_hits`` sightings in a row with centroids outside the
stay's extent grown by ``move_margin_m`` (so no drift of a large object's partial centroids), and either
the old spot seen empty (extents.py's ``spot_seen_through``: the depth lies past where it was; nothing of
its class detected there) in ``move_empty_views`` views (seen-through absences count too), or the new
position seen from ``move_views`` distinct viewpoints (one viewpoint's offset can be its own bias: a
chair's centre shifts with the side it is seen from); ``move_views_small_shift`` of them for a shift
within ``move_views_min_shift`` x the diagonal of its merged extent: what of a big object is in view (a
chair behind a table) moves its centroid alike from two viewpoints (on the real 7-Scenes kitchen a chair
"moved" 0.38 m and back that way, 0.66 m across).
Re-identification (reid.py) joins a missing object and a look-alike newcomer: it moved while memory was
not looking. Absences (absences.py) call back into ``reid.merge`` and ``reject``.

Works on a MemoryState (state.py), writes through a Repository, logs changes in the EventLog.
"""
from __future__ import annotations

from typing import List, Optional, Set, Tuple

import numpy as np

from ..common.errors import InputError
from ..common.protocols import Evidence
from ..common.types import ObjectObservation, PerceptionOutput, View
from ..vocab import Vocabulary
from .association import associate, inside_fraction
from .class_pairs import ClassPairs
from .config import NS_PER_DAY, NS_PER_S, MemoryConfig
from .consolidation import Consolidator
from .events import EventLog
from .extents import add_distinct, grow_extent, is_large, norm3, outside_extent, pool_extent, spot_seen_through
from .records import MISSING, PRESENT, REJECTED, TENTATIVE, Stay, Track, object_id_str
from .reid import ReIdentifier
from .repository import Repository
from .staleness import MoveStats
from .state import MemoryState
from .track_table import TrackAttr, TrackTable
from .validate import MAX_STAMP_NS, observation_problem

_MAX_VIEW_POSES = 4096       # view id -> camera pose, for the viewpoints of sightings


def _blob(a: Optional[np.ndarray]) -> Optional[bytes]:
    return None if a is None else a.astype(np.float32).tobytes()


class Tracker:
    def __init__(self, config: MemoryConfig, vocab: Vocabulary, state: MemoryState, repo: Repository,
                 events: EventLog):
        self.config = config
        self.vocab = vocab
        self.s = state
        self.repo = repo
        self.events = events
        self.consolidator = Consolidator(config, state, self)
        self.reid = ReIdentifier(config, state, self)
        self.table = TrackTable(config.association)     # the live tracks' gates, extents, colours
        self._pairs: Optional[ClassPairs] = None
        self._pairs_of: object = None
        # the frame being ingested: its view (or None) and its detections' classes and boxes
        self._view: Optional[View] = None
        self._frame_cls: List[str] = []
        self._frame_box: Tuple[np.ndarray, np.ndarray] = (np.zeros((0, 3)), np.zeros((0, 3)))
        self._tentative_since: Optional[Tuple[dict, int]] = None     # see expire_tentative

    @property
    def pairs(self) -> ClassPairs:
        """class_sim and near as blocks, for as long as the state's class_sim cache lives (class_pairs.py)."""
        if self._pairs is None or self._pairs_of is not self.s.sim_cache:
            self._pairs, self._pairs_of = ClassPairs(self.class_sim, self.near), self.s.sim_cache
        return self._pairs

    def valid_obs(self, o: ObjectObservation) -> bool:
        """validate.py's checks; a bad observation is skipped with a warning naming the cause."""
        bad = observation_problem(o)
        if bad:
            self.s.warnings.append(InputError(*bad))
            return False
        return True

    def _set_view(self, view: Optional[View]) -> None:
        """This frame's view (None if it has none or a bad pose); its camera pose is kept by view id."""
        self._view = None
        if view is None:
            return
        T = np.asarray(view.map_T_camera, float)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)) or not view.view_id:
            return
        self._view = view
        vp = self.s.view_pose
        vp[view.view_id] = np.concatenate([T[:3, 3], T[:3, 2]])
        while len(vp) > _MAX_VIEW_POSES:
            vp.popitem(last=False)

    def ingest_observations(self, t: int, out: PerceptionOutput) -> Set[int]:
        ms = self.s
        self._set_view(out.view)
        obs = [o for o in out.observations if self.valid_obs(o)]
        if not obs:
            return set()
        cfg = self.config.association
        if ms.active_dirty:
            ms.rebuild_active()
        n = len(obs)
        first_id = ms.take_id("obs", n)
        ids = list(range(first_id, first_id + n))
        canon = [self.vocab.canonical(o.class_name) for o in obs]
        pos = np.array([np.asarray(o.centroid_m, float).reshape(3) for o in obs])
        b0 = np.array([np.asarray(o.bbox_min_m, float).reshape(3) for o in obs])
        b1 = np.array([np.asarray(o.bbox_max_m, float).reshape(3) for o in obs])
        bmin, bmax = np.minimum(b0, b1), np.maximum(b0, b1)
        self._frame_cls, self._frame_box = canon, (bmin, bmax)
        colors = np.array([np.asarray(o.color_rgb, float).reshape(3) for o in obs])
        apps = []
        for o in obs:
            a = None if o.appearance is None else np.asarray(o.appearance, np.float32).ravel()
            if a is not None and a.size:
                nrm = float(np.linalg.norm(a))
                a = a / nrm if nrm > 0 and np.isfinite(nrm) else None
            else:
                a = None
            apps.append(a)
        eligible = [i for i, o in enumerate(obs) if float(o.score) >= cfg.min_score]
        # one object detected twice in this frame (table and desk over one table): the weaker box votes
        dup = self.consolidator.frame_duplicates(eligible, canon, [float(o.score) for o in obs], pos, bmin, bmax)
        primary = [i for i in eligible if i not in dup]
        matches: List[Tuple[int, int, float]] = []
        inside: Optional[np.ndarray] = None
        trk: List[Track] = []
        if primary and ms.act_ids:
            trk = [ms.tracks[i] for i in ms.act_ids]
            tab = self.table
            tab.refresh(ms.act_ids, trk)
            el = np.array(primary)
            inside = inside_fraction(bmin[el], bmax[el], tab.lo, tab.hi)
            raw = associate(cfg, pos[el], [canon[i] for i in primary], colors[el], [apps[i] for i in primary],
                            ms.act_pos, tab.gate, TrackAttr(trk, "class_name"), tab.color,
                            TrackAttr(trk, "appearance"), self.class_sim, [str(obs[i].class_name) for i in primary],
                            TrackAttr(trk, "raw_votes"), inside=inside, near=self.near, pairs=self.pairs)
            matches = [(primary[a], b, c) for a, b, c in raw]
        obs_track = [-1] * n
        matched: Set[int] = set()
        for i, slot, _ in matches:
            tid = ms.act_ids[slot]
            obs_track[i] = tid
            matched.add(tid)
        new_tracks = []
        for k, i in enumerate(primary):
            if obs_track[i] >= 0:
                continue
            part = self.part_of_track(inside[k] if inside is not None else None, canon[i], trk)
            if part is not None:      # a part of a large object another box of which matched: one object
                obs_track[i] = part
                dup[i] = -1
                continue
            obs_track[i] = ms.take_id("track")
            new_tracks.append(i)
        for i, j in dup.items():
            if j >= 0:
                obs_track[i] = obs_track[j]
        primary = [i for i in primary if i not in dup]
        # tracks detected in one frame near each other are distinct objects (never absorbed or fused)
        ms.frame_cooc = {}
        if len(primary) > 1:
            pp = pos[primary]
            dd = pp[:, None, :] - pp[None, :, :]
            close = np.sqrt(np.einsum("ijk,ijk->ij", dd, dd)) <= cfg.cooccur_radius_m
            np.fill_diagonal(close, False)
            cooc = ms.frame_cooc
            tids = [obs_track[i] for i in primary]
            # per detection, the tracks of the others within the radius (a pair counts both ways)
            for a_i, row in enumerate(close.tolist()):
                if any(row):
                    got = {tj for tj, c in zip(tids, row) if c}
                    have = cooc.get(tids[a_i])
                    if have is None:
                        cooc[tids[a_i]] = got
                    else:
                        have |= got
        # rows first (ids are fixed), then track updates
        place_default = out.place_id
        rows = []
        # float32[13] per row: centroid, box min, box max (as detected), colour, distance
        geoms = np.concatenate([pos, b0, b1, colors, np.array([[float(o.distance_m)] for o in obs])],
                               axis=1).astype(np.float32)
        for i, o in enumerate(obs):
            place = o.place_id if o.place_id >= 0 else place_default
            room = ms.room_at(pos[i], place)
            geom = geoms[i].tobytes()
            rows.append((ids[i], int(o.stamp_ns or t), obs_track[i] if obs_track[i] >= 0 else None,
                         canon[i], o.class_name, float(o.score), int(place), int(room), o.view_id or
                         (out.view.view_id if out.view is not None else ""), geom, int(o.num_points),
                         _blob(apps[i])))
        ms.counts["observations"] += n
        self.repo.add_observations(rows)
        for r in rows:
            if r[2] is not None:
                ms.recent_obs.append((r[1], r[2], r[0]))
        ms.last_assignment = [(r[0], r[2]) for r in rows if r[2] is not None]
        for i, slot, _ in matches:
            self.update_track(ms.tracks[ms.act_ids[slot]], obs[i], ids[i], canon[i], pos[i], colors[i],
                              apps[i], rows[i][6], rows[i][7], rows[i][8], t, (bmin[i], bmax[i]))
        for i in new_tracks:
            self.new_track(obs_track[i], obs[i], ids[i], canon[i], pos[i], colors[i], apps[i],
                           rows[i][6], rows[i][7], rows[i][8], t)
        for i in dup:
            tr = ms.tracks.get(ms.resolve_track_id(obs_track[i]))
            if tr is not None:
                self.class_vote(tr, canon[i], str(obs[i].class_name), float(obs[i].score))
        self.consolidator.consolidate({ms.resolve_track_id(obs_track[i]) for i in primary})
        return matched

    def large(self, tr: Track) -> bool:
        """An object seen in parts: its merged extent's diagonal at least part_min_extent_m."""
        return is_large(tr, self.config.association.part_min_extent_m)

    def part_of_track(self, inside_row: Optional[np.ndarray], cls: str, trk: List[Track]) -> Optional[int]:
        """The large live track of the same or a near class whose merged extent holds most of this box (at
        least extent_gate_overlap), if any: the box is a part of that object."""
        if inside_row is None or not len(trk):
            return None
        cfg = self.config.association
        best, best_f = None, cfg.extent_gate_overlap
        for k in np.flatnonzero(inside_row >= best_f).tolist():     # in order, as a scan of every track
            f, tr = inside_row[k], trk[k]
            if f < best_f or tr.id not in self.s.tracks or not self.large(tr):
                continue
            if tr.class_name == cls or self.near(cls, tr.class_name):
                best, best_f = tr.id, float(f)
        return best

    def class_sim(self, a: str, b: str) -> float:
        """1 for the same canonical class, 0.85 when one is a kind of the other, else the vocabulary's
        embedding similarity (which never makes look-alike but distinct classes equal)."""
        ms = self.s
        if a == b:
            return 1.0
        key = (a, b) if a < b else (b, a)
        hit = ms.sim_cache.get(key)
        if hit is None:
            if self.vocab.is_a(a, b) or self.vocab.is_a(b, a):
                hit = 0.85
            else:
                hit = self.vocab.class_similarity(a, b)
            ms.sim_cache[key] = hit
        return hit

    def near(self, a: str, b: str) -> bool:
        """Classes a detector confuses on one object (table / desk): one vocabulary category and at least
        ``near_class_similarity`` alike (a kind of the other always is)."""
        if a == b:
            return True
        s = self.class_sim(a, b)
        return s >= 0.85 or (s >= self.config.association.near_class_similarity
                             and self.vocab.category(a) == self.vocab.category(b))

    def class_vote(self, tr: Track, cls: str, raw: str, score: float) -> None:
        """A detection's class counts for the track (the track's class is the weighted vote)."""
        tr = self.s.own_track(tr)
        tr.votes[cls] = tr.votes.get(cls, 0.0) + score
        tr.raw_votes[raw] = tr.raw_votes.get(raw, 0.0) + score
        self.revote(tr)
        self.s.mark(tr)

    def pool_evidence(self, keep: Track, drop: Track) -> None:
        """What ``drop`` saw counts for ``keep`` (one object): class votes, sightings, views, viewpoints,
        proven misses, the tracks seen apart from it, first and last sightings."""
        for k, v in drop.votes.items():
            keep.votes[k] = keep.votes.get(k, 0.0) + v
        for k, v in drop.raw_votes.items():
            keep.raw_votes[k] = keep.raw_votes.get(k, 0.0) + v
        self.revote(keep)
        keep.hits += drop.hits
        keep.views_seen += drop.views_seen
        keep.proven_misses += drop.proven_misses
        for vp in drop.viewpoints:
            self.add_viewpoint(keep, np.asarray(vp, float))
        # a new set, not changed in place: consolidation caches what it resolves to by identity and size
        keep.cooccur = (keep.cooccur | drop.cooccur) - {keep.id, drop.id}
        keep.first_seen_ns = min(keep.first_seen_ns, drop.first_seen_ns)
        keep.last_seen_ns = max(keep.last_seen_ns, drop.last_seen_ns)

    def revote(self, tr: Track) -> None:
        """The track's class and label from its votes (class index kept in step)."""
        ms = self.s
        if tr.raw_votes:
            tr.label = max(tr.raw_votes, key=tr.raw_votes.__getitem__)   # the first of the largest
        if not tr.votes:
            return
        best = max(tr.votes, key=tr.votes.__getitem__)
        if best != tr.class_name:
            if tr.confirmed:
                ms.class_index.get(tr.class_name, set()).discard(tr.id)
                ms.class_index.setdefault(best, set()).add(tr.id)
            tr.class_name = best

    # ------------------------------------------------------------------------------ viewpoints
    def add_viewpoint(self, tr: Track, vp: Optional[np.ndarray]) -> None:
        """Remember where tr was seen from (capped), if no stored viewpoint is as good as this one."""
        cfg = self.config.association
        add_distinct(tr.viewpoints, vp, cfg.confirm_view_baseline_m, cfg.confirm_view_rotation_rad)

    def views_enough(self, tr: Track) -> bool:
        """Seen from confirm_views distinct viewpoints (input without views: frames are all there is), unless
        the detector is sure of it (mean score >= confirm_frames_min_score: frames suffice). Sightings that
        came with views (viewpoints) also need one in a view itself (a keyframe that shows it): a false
        positive that flickers between keyframes for a few frames is not an object memory could show
        evidence of (on the real 7-Scenes kitchen, such a "chair" on the floor, seen in 3 frames from two
        viewpoints and in no keyframe, was confirmed and then reported "disappeared")."""
        cfg = self.config.association
        if tr.viewpoints and tr.views_seen == 0:
            return False
        if not tr.viewpoints or len(tr.viewpoints) >= cfg.confirm_views:
            return True
        return sum(tr.raw_votes.values()) >= cfg.confirm_frames_min_score * tr.hits

    # ------------------------------------------------------------------------------ extents
    def grow_extent(self, tr: Track, b0: np.ndarray, b1: np.ndarray) -> None:
        grow_extent(tr, b0, b1, self.config.association.extent_trim_frac)

    def pool_extent(self, host: Track, other: Track) -> None:
        pool_extent(host, other, self.config.association.extent_trim_frac)

    # ------------------------------------------------------------------------------ tracks
    def new_track(self, tid: int, o: ObjectObservation, oid: int, cls: str, pos: np.ndarray, color: np.ndarray,
                  app: Optional[np.ndarray], place: int, room: int, view_id: str, t: int) -> None:
        ms = self.s
        stamp = int(o.stamp_ns or t)
        kf = ms.view_kf.get(view_id, "")
        sid = ms.take_id("stay")
        b0, b1 = np.asarray(o.bbox_min_m, float).reshape(3), np.asarray(o.bbox_max_m, float).reshape(3)
        tr = Track(id=tid, status=TENTATIVE, class_name=cls, first_seen_ns=stamp, last_seen_ns=stamp,
                   pos=pos.copy(), bbox_min=np.minimum(b0, b1), bbox_max=np.maximum(b0, b1), color=color.copy(),
                   appearance=None if app is None else app.copy(), votes={cls: float(o.score)},
                   label=str(o.class_name), raw_votes={str(o.class_name): float(o.score)}, hits=1, n_window=1,
                   stays=[Stay(sid, tid, stamp, stamp, pos.copy(), place, room, oid, oid, kf, kf, 1)],
                   owner=ms.gen, views_seen=int(self._view is not None))
        tr.cooccur |= ms.frame_cooc.get(tid, set())
        self.add_viewpoint(tr, ms.view_pose.get(view_id))
        self.grow_extent(tr, tr.bbox_min, tr.bbox_max)
        ms.tracks[tid] = tr
        if self._tentative_since is not None and stamp < self._tentative_since[1]:
            self._tentative_since = (self._tentative_since[0], stamp)
        ms.active_dirty = True
        ms.mark(tr, stay=True)
        if self.config.association.confirm_hits <= 1 and self.views_enough(tr):
            self.confirm(tr, t)

    def update_track(self, tr: Track, o: ObjectObservation, oid: int, cls: str, pos: np.ndarray,
                     color: np.ndarray, app: Optional[np.ndarray], place: int, room: int, view_id: str,
                     t: int, box: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> None:
        """A matched sighting of ``tr``; ``box``: its (min, max) corners, if the caller has them already."""
        ms = self.s
        cfg = self.config.association
        tr = ms.own_track(tr)
        stamp = int(o.stamp_ns or t)
        kf = ms.view_kf.get(view_id, "")
        if tr.confirmed:
            stats = ms.class_stats.get(tr.class_name)
            if stats is None:
                stats = ms.class_stats[tr.class_name] = MoveStats()
            stats.exposure_days += max(0, stamp - tr.last_seen_ns) / NS_PER_DAY
        was_missing = tr.status == MISSING
        if was_missing:
            self.reid.reappeared(tr, pos, stamp, oid, kf)
        elif tr.absences_since_seen > 0:
            tr.proven_misses += tr.absences_since_seen     # it was there: those absences were misses
        tr.absences_since_seen = 0
        if tr.absence_vps:
            tr.absence_vps = []
        if tr.absences_through:
            tr.absences_through = 0
        tr.absence_views.clear()
        tr.absence_stamps.clear()
        tr.views_seen += int(self._view is not None)
        w = float(o.score)
        tr.votes[cls] = tr.votes.get(cls, 0.0) + w
        raw = str(o.class_name)
        tr.raw_votes[raw] = tr.raw_votes.get(raw, 0.0) + w
        self.revote(tr)
        tr.hits += 1
        tr.last_seen_ns = max(tr.last_seen_ns, stamp)
        self.add_viewpoint(tr, ms.view_pose.get(view_id))
        k = min(tr.hits, cfg.position_window)
        if box is None:
            b0, b1 = np.asarray(o.bbox_min_m, float).reshape(3), np.asarray(o.bbox_max_m, float).reshape(3)
            b0, b1 = np.minimum(b0, b1), np.maximum(b0, b1)
        else:
            b0, b1 = box
        # new arrays, never changed in place: Track caches what it derives from them by identity
        tr.color = tr.color + (color - tr.color) / k
        tr.bbox_min = tr.bbox_min + (b0 - tr.bbox_min) / k
        tr.bbox_max = tr.bbox_max + (b1 - tr.bbox_max) / k
        if app is not None:
            if tr.appearance is None or tr.appearance.shape != app.shape:
                tr.appearance = app.copy()
            else:
                a = tr.appearance + (app - tr.appearance) / k
                nrm = float(np.linalg.norm(a))
                tr.appearance = a / nrm if nrm > 0 else app.copy()
        st = tr.stay
        d = norm3(pos - st.pos)
        split = max(cfg.stay_split_m, 0.25 * tr.extent_m)
        if (tr.confirmed and d > split and tr.n_window >= cfg.stay_split_hits
                and outside_extent(tr, pos, cfg.move_margin_m)):
            tr.drift_hits += 1
            tr.drift_sum = pos.copy() if tr.drift_sum is None else tr.drift_sum + pos
            if self.old_spot_seen_empty(tr):
                tr.drift_empty += 1
            add_distinct(tr.drift_vps, ms.view_pose.get(view_id), cfg.confirm_view_baseline_m,
                         cfg.confirm_view_rotation_rad)
            shift = norm3(tr.drift_sum / tr.drift_hits - st.pos)
            small = shift * shift <= cfg.move_views_min_shift ** 2 * tr.extent_diag2()
            by_views = len(tr.drift_vps) >= (cfg.move_views_small_shift if small else cfg.move_views)
            if tr.drift_hits >= cfg.stay_split_hits and (tr.drift_empty >= cfg.move_empty_views or by_views):
                new_pos = tr.drift_sum / tr.drift_hits
                tr.drift_hits, tr.drift_sum, tr.drift_empty, tr.drift_vps = 0, None, 0, []
                self.start_stay(tr, new_pos, stamp, oid, kf, place, room, moved=True, box=(b0, b1))
                return
        else:
            tr.drift_hits, tr.drift_sum, tr.drift_empty, tr.drift_vps = 0, None, 0, []
            tr.n_window = min(tr.n_window + 1, cfg.position_window)
            st.pos = st.pos + (pos - st.pos) / tr.n_window
            tr.pos = st.pos.copy()
            self.grow_extent(tr, b0, b1)
        st.end_ns = max(st.end_ns, stamp)
        st.last_obs = oid
        if kf:
            st.last_kf = kf
            if not st.first_kf:
                st.first_kf = kf
        st.n_obs += 1
        if st.place_id < 0 and place >= 0:
            st.place_id = place
        if st.room_id < 0 and room >= 0:
            st.room_id = room
        slot = ms.act_slot.get(tr.id)
        if slot is not None and not ms.active_dirty:
            ms.act_pos[slot] = tr.pos
        ms.mark(tr, stay=True)
        tr.cooccur |= ms.frame_cooc.get(tr.id, set())
        if tr.status == TENTATIVE:
            if tr.hits >= cfg.confirm_hits and self.views_enough(tr):
                self.confirm(tr, t)
        elif was_missing:
            # found again: another missing track may be this very object, remembered at an old spot
            m = self.reid.best_reid(tr, [x for x in ms.tracks.values() if x.status == MISSING and x.id != tr.id],
                               extra=lambda x: not self.reid.coexisted(x, tr))
            if m is not None:
                if m.first_seen_ns < tr.first_seen_ns:
                    self.reid.merge(new=tr, old=m)
                else:
                    self.reid.merge(new=m, old=tr)

    def old_spot_seen_empty(self, tr: Track) -> bool:
        """This frame's view sees through the stay's spot (``spot_seen_through``: a view that shows a
        surface there may show the object, undetected) and nothing of tr's class (or a kind of it; for a
        large object a near class too) was detected where any box of the stay was (untrimmed: a part of it
        is not "elsewhere")."""
        v = self._view
        if v is None or not spot_seen_through(self.config.absence, v, tr.stay.pos, tr.extent_m):
            return False
        lo, hi = self._frame_box
        m = self.config.association.move_margin_m
        smp = np.asarray(tr.ext_samples, float).reshape(-1, 6)
        e0 = smp[:, :3].min(axis=0) if smp.size else tr.extent_min       # every box of the stay, untrimmed
        e1 = smp[:, 3:].max(axis=0) if smp.size else tr.extent_max
        big = self.large(tr)
        for c, a, b in zip(self._frame_cls, lo, hi):
            if not (np.all(a <= e1 + m) and np.all(e0 - m <= b)):
                continue
            if self.class_sim(c, tr.class_name) >= 0.85 or (big and self.near(c, tr.class_name)):
                return False
        return True

    def start_stay(self, tr: Track, pos: np.ndarray, stamp: int, oid: int, kf: str, place: int, room: int,
                   moved: bool, box: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> None:
        """Close the current stay and open one at ``pos`` (a move within the gate)."""
        ms = self.s
        old = tr.stay
        old_pos = old.pos.copy()
        ms.dirty_stays[old.id] = old
        sid = ms.take_id("stay")
        room = ms.room_at(pos, place) if room < 0 else room
        tr.stays.append(Stay(sid, tr.id, stamp, stamp, pos.copy(), place, room, oid, oid, kf, kf, 1))
        tr.pos = pos.copy()
        tr.n_window = 1
        if box is not None:                 # the extent starts over where it is now
            tr.ext_samples, tr.ext_offered = [], 0
            self.grow_extent(tr, box[0], box[1])
            tr.bbox_min, tr.bbox_max = box[0].copy(), box[1].copy()
        ms.receptacle_cache.pop((tr.id, old.id), None)
        slot = ms.act_slot.get(tr.id)
        if slot is not None and not ms.active_dirty:
            ms.act_pos[slot] = tr.pos
        if moved and tr.confirmed:
            tr.n_moves += 1
            ms.class_stats.setdefault(tr.class_name, MoveStats()).moves += 1
            ev = Evidence([object_id_str(tr.id)], [old.last_obs, oid], [p for p in (old.place_id, place) if p >= 0],
                          [old.end_ns, stamp], [r for r in (old.last_kf, kf) if r])
            self.events.add("moved", tr, stamp, old_pos, pos, old.room_id, room, ev)
        ms.mark(tr, stay=True)

    def confirm(self, tr: Track, t: int) -> None:
        ms = self.s
        tr = ms.own_track(tr)
        host = self.consolidator.absorbing_host(tr)
        if host is not None:
            self.consolidator.absorb(tr, host)
            return
        tr.status = PRESENT
        tr.confirmed_ns = t
        ms.class_index.setdefault(tr.class_name, set()).add(tr.id)
        ms.class_stats.setdefault(tr.class_name, MoveStats()).exposure_days += \
            max(0, tr.last_seen_ns - tr.first_seen_ns) / NS_PER_DAY
        ms.mark(tr, stay=True)
        # a confirmed newcomer may be a remembered object that moved while memory was not looking
        # (only one that arrived: a first sighting in a place memory has hardly known is no evidence of a move)
        m = self.reid.best_reid(tr, candidates=[x for x in ms.tracks.values()
                                           if x.status == MISSING and x.id != tr.id
                                           and x.last_seen_ns < tr.first_seen_ns]) if self.arrived(tr) else None
        if m is not None:
            self.reid.merge(new=tr, old=m)
            return
        self.maybe_appeared(tr)

    def arrived(self, tr: Track) -> bool:
        """tr was first seen in a place memory had known for ``events.appear_after_s`` by then: it arrived
        there ("appeared"), or it moved there if a look-alike went missing elsewhere. A first sighting in a
        place memory has just begun to see (a new place, a camera's first minutes) says neither: the
        object may always have been there, and a look-alike missing elsewhere is a detector's miss or
        another object, not a move (a static real kitchen made one such "moved")."""
        ms = self.s
        st = tr.stays[0] if tr.stays else tr.stay
        p = ms.places.get(st.place_id)
        known_since = p.first_ns if p is not None else (ms.episodes[0][0] if ms.episodes else tr.first_seen_ns)
        return tr.first_seen_ns - known_since >= self.config.events.appear_after_s * NS_PER_S

    def maybe_appeared(self, tr: Track) -> None:
        st = tr.stay
        if self.arrived(tr):
            ev = Evidence([object_id_str(tr.id)], [st.first_obs], [st.place_id] if st.place_id >= 0 else [],
                          [st.start_ns], [st.first_kf] if st.first_kf else [])
            e = self.events.add("appeared", tr, st.start_ns, None, st.pos, -1, st.room_id, ev)
            tr.appeared_event = e.id

    def expire_tentative(self, t: int) -> None:
        """Reject the tentative tracks not seen for ``tentative_ttl_s``. The tracks are scanned only when one
        can be due: ``_tentative_since`` is (the tracks dict, a stamp at or before every tentative track's
        last sighting), kept by the scan and by ``new_track`` (a track's last sighting only grows, and only
        new tracks are tentative)."""
        ms = self.s
        ttl = int(self.config.association.tentative_ttl_s * NS_PER_S)
        if not ms.tracks:
            return
        since = self._tentative_since
        if since is not None and since[0] is ms.tracks and t - since[1] <= ttl:
            return
        dead = []
        oldest = MAX_STAMP_NS
        for tr in ms.tracks.values():
            if tr.status == TENTATIVE:
                if t - tr.last_seen_ns > ttl:
                    dead.append(tr)
                elif tr.last_seen_ns < oldest:
                    oldest = tr.last_seen_ns
        self._tentative_since = (ms.tracks, oldest)
        for tr in dead:
            self.reject(tr)

    def reject(self, tr: Track) -> None:
        ms = self.s
        tr = ms.own_track(tr)
        tr.status = REJECTED
        del ms.tracks[tr.id]
        ms.active_dirty = True
        ms.mark(tr)
        for s in tr.stays:
            ms.dirty_stays.pop(s.id, None)
        self.repo.delete_stays_of(tr.id)
        # a rejected id is never asked about again (ids are not reused; a rejection is no merge): the
        # records detected with it forget it, or every false positive near an object stays in its
        # co-occurrence set for good (a robot-year: thousands of ids per track, in RAM and in every row
        # write). The set is replaced, not changed in place (its caches go by identity and size).
        tid = tr.id
        for c in tr.cooccur:
            x = ms.tracks.get(c)
            if x is not None and tid in x.cooccur:
                x = ms.own_track(x)
                x.cooccur = x.cooccur - {tid}
                ms.mark(x)
