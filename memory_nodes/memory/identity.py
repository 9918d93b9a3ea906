"""Identity: which remembered object each detection is, across frames and days.

Per frame (``ingest_observations``): optimal assignment of the valid detections to the live tracks
(association.py's cost: distance, class, colour, appearance), new tentative tracks for the rest, running
updates of matched tracks (position window; a move within the gate opens a new stay and logs "moved"),
confirmation after repeated sightings, then consolidation (records right next to each other never seen
in one frame are one object: same class -> fused, a young record of another class -> absorbed as the
neighbour's confused detections). Re-identification (``best_reid``, ``merge``) joins a missing object
and a look-alike newcomer: it moved while memory was not looking. Absences (absences.py) call back into
``merge`` and ``reject``.

Works on a MemoryState (state.py), writes through a Repository, logs changes in the EventLog.
"""
from __future__ import annotations

from typing import Iterable, List, Optional, Set, Tuple

import numpy as np

from ..common.errors import InputError
from ..common.protocols import Evidence
from ..common.types import ObjectObservation, PerceptionOutput
from ..vocab import Vocabulary
from .association import appearance_cost, associate, color_distance
from .config import NS_PER_DAY, NS_PER_S, MemoryConfig
from .events import EventLog
from .records import MERGED, MISSING, PRESENT, REJECTED, TENTATIVE, Stay, Track, object_id_str
from .repository import Repository
from .staleness import MoveStats
from .state import MemoryState


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

    def valid_obs(self, o: ObjectObservation) -> bool:
        ms = self.s
        try:
            c = np.asarray(o.centroid_m, float).reshape(3)
            bmin = np.asarray(o.bbox_min_m, float).reshape(3)
            bmax = np.asarray(o.bbox_max_m, float).reshape(3)
        except (ValueError, TypeError):
            ms.warnings.append(InputError("bad_observation", "centroid/bbox must be 3-vectors"))
            return False
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(bmin)) and np.all(np.isfinite(bmax))):
            ms.warnings.append(InputError("nan_observation", f"non-finite geometry for {o.class_name!r}"))
            return False
        if not o.class_name or not str(o.class_name).strip():
            ms.warnings.append(InputError("bad_observation", "empty class name"))
            return False
        if not (0.0 <= float(o.score) <= 1.0) or not np.isfinite(o.score):
            ms.warnings.append(InputError("bad_observation", f"score {o.score} outside [0, 1]"))
            return False
        return True

    def ingest_observations(self, t: int, out: PerceptionOutput) -> Set[int]:
        ms = self.s
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
        matches: List[Tuple[int, int, float]] = []
        if eligible and ms.act_ids:
            trk = [ms.tracks[i] for i in ms.act_ids]
            gates = np.array([max(cfg.gate_m, cfg.gate_extent_factor * tr.extent_m) for tr in trk])
            el = np.array(eligible)
            raw = associate(cfg, pos[el], [canon[i] for i in eligible], colors[el], [apps[i] for i in eligible],
                            ms.act_pos, gates, [tr.class_name for tr in trk],
                            np.array([tr.color for tr in trk]).reshape(-1, 3), [tr.appearance for tr in trk],
                            self.class_sim, [str(obs[i].class_name) for i in eligible],
                            [tr.raw_votes for tr in trk])
            matches = [(eligible[a], b, c) for a, b, c in raw]
        obs_track = [-1] * n
        matched: Set[int] = set()
        for i, slot, _ in matches:
            tid = ms.act_ids[slot]
            obs_track[i] = tid
            matched.add(tid)
        new_tracks = []
        for i in eligible:
            if obs_track[i] < 0:
                obs_track[i] = ms.take_id("track")
                new_tracks.append(i)
        # tracks detected in one frame near each other are distinct objects (never absorbed or fused)
        ms.frame_cooc = {}
        near = cfg.cooccur_radius_m
        for a_i, i in enumerate(eligible):
            for j in eligible[a_i + 1:]:
                if float(np.linalg.norm(pos[i] - pos[j])) <= near:
                    ms.frame_cooc.setdefault(obs_track[i], set()).add(obs_track[j])
                    ms.frame_cooc.setdefault(obs_track[j], set()).add(obs_track[i])
        # rows first (ids are fixed), then track updates
        place_default = out.place_id
        rows = []
        for i, o in enumerate(obs):
            place = o.place_id if o.place_id >= 0 else place_default
            room = ms.room_at(pos[i], place)
            geom = np.concatenate([pos[i], np.asarray(o.bbox_min_m, float).reshape(3),
                                   np.asarray(o.bbox_max_m, float).reshape(3), colors[i],
                                   [float(o.distance_m)]]).astype(np.float32).tobytes()
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
                               apps[i], rows[i][6], rows[i][7], rows[i][8], t)
        for i in new_tracks:
            self.new_track(obs_track[i], obs[i], ids[i], canon[i], pos[i], colors[i], apps[i],
                            rows[i][6], rows[i][7], rows[i][8], t)
        self.consolidate({ms.resolve_track_id(obs_track[i]) for i in eligible})
        return matched

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

    def new_track(self, tid: int, o: ObjectObservation, oid: int, cls: str, pos: np.ndarray, color: np.ndarray,
                   app: Optional[np.ndarray], place: int, room: int, view_id: str, t: int) -> None:
        ms = self.s
        stamp = int(o.stamp_ns or t)
        kf = ms.view_kf.get(view_id, "")
        sid = ms.take_id("stay")
        tr = Track(id=tid, status=TENTATIVE, class_name=cls, first_seen_ns=stamp, last_seen_ns=stamp,
                   pos=pos.copy(), bbox_min=np.asarray(o.bbox_min_m, float).reshape(3).copy(),
                   bbox_max=np.asarray(o.bbox_max_m, float).reshape(3).copy(), color=color.copy(),
                   appearance=None if app is None else app.copy(), votes={cls: float(o.score)},
                   label=str(o.class_name), raw_votes={str(o.class_name): float(o.score)}, hits=1, n_window=1,
                   stays=[Stay(sid, tid, stamp, stamp, pos.copy(), place, room, oid, oid, kf, kf, 1)],
                   owner=ms.gen)
        tr.cooccur |= ms.frame_cooc.get(tid, set())
        ms.tracks[tid] = tr
        ms.active_dirty = True
        ms.mark(tr, stay=True)
        if self.config.association.confirm_hits <= 1:
            self.confirm(tr, t)

    def update_track(self, tr: Track, o: ObjectObservation, oid: int, cls: str, pos: np.ndarray,
                      color: np.ndarray, app: Optional[np.ndarray], place: int, room: int, view_id: str,
                      t: int) -> None:
        ms = self.s
        cfg = self.config.association
        tr = ms.own_track(tr)
        stamp = int(o.stamp_ns or t)
        kf = ms.view_kf.get(view_id, "")
        if tr.confirmed:
            ms.class_stats.setdefault(tr.class_name, MoveStats()).exposure_days += \
                max(0, stamp - tr.last_seen_ns) / NS_PER_DAY
        was_missing = tr.status == MISSING
        if was_missing:
            self.reappeared(tr, pos, stamp, oid, kf)
        tr.absences_since_seen = 0
        tr.absence_views.clear()
        tr.absence_stamps.clear()
        w = float(o.score)
        tr.votes[cls] = tr.votes.get(cls, 0.0) + w
        raw = str(o.class_name)
        tr.raw_votes[raw] = tr.raw_votes.get(raw, 0.0) + w
        tr.label = max(tr.raw_votes.items(), key=lambda kv: kv[1])[0]
        best = max(tr.votes.items(), key=lambda kv: kv[1])[0]
        if best != tr.class_name:
            if tr.confirmed:
                ms.class_index.get(tr.class_name, set()).discard(tr.id)
                ms.class_index.setdefault(best, set()).add(tr.id)
            tr.class_name = best
        tr.hits += 1
        tr.last_seen_ns = max(tr.last_seen_ns, stamp)
        k = min(tr.hits, cfg.position_window)
        tr.color += (color - tr.color) / k
        tr.bbox_min += (np.asarray(o.bbox_min_m, float).reshape(3) - tr.bbox_min) / k
        tr.bbox_max += (np.asarray(o.bbox_max_m, float).reshape(3) - tr.bbox_max) / k
        if app is not None:
            if tr.appearance is None or tr.appearance.shape != app.shape:
                tr.appearance = app.copy()
            else:
                a = tr.appearance + (app - tr.appearance) / k
                nrm = float(np.linalg.norm(a))
                tr.appearance = a / nrm if nrm > 0 else app.copy()
        st = tr.stay
        d = float(np.linalg.norm(pos - st.pos))
        split = max(cfg.stay_split_m, 0.25 * tr.extent_m)
        if tr.confirmed and d > split and tr.n_window >= cfg.stay_split_hits:
            tr.drift_hits += 1
            tr.drift_sum = pos.copy() if tr.drift_sum is None else tr.drift_sum + pos
            if tr.drift_hits >= cfg.stay_split_hits:
                new_pos = tr.drift_sum / tr.drift_hits
                tr.drift_hits, tr.drift_sum = 0, None
                self.start_stay(tr, new_pos, stamp, oid, kf, place, room, moved=True)
                return
        else:
            tr.drift_hits, tr.drift_sum = 0, None
            tr.n_window = min(tr.n_window + 1, cfg.position_window)
            st.pos = st.pos + (pos - st.pos) / tr.n_window
            tr.pos = st.pos.copy()
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
            if tr.hits >= cfg.confirm_hits:
                self.confirm(tr, t)
        elif was_missing:
            # found again: another missing track may be this very object, remembered at an old spot
            m = self.best_reid(tr, [x for x in ms.tracks.values() if x.status == MISSING and x.id != tr.id],
                                extra=lambda x: not self.coexisted(x, tr))
            if m is not None:
                if m.first_seen_ns < tr.first_seen_ns:
                    self.merge(new=tr, old=m)
                else:
                    self.merge(new=m, old=tr)

    def start_stay(self, tr: Track, pos: np.ndarray, stamp: int, oid: int, kf: str, place: int, room: int,
                    moved: bool) -> None:
        """Close the current stay and open one at ``pos`` (a move within the gate)."""
        ms = self.s
        old = tr.stay
        ms.dirty_stays[old.id] = old
        sid = ms.take_id("stay")
        room = ms.room_at(pos, place) if room < 0 else room
        tr.stays.append(Stay(sid, tr.id, stamp, stamp, pos.copy(), place, room, oid, oid, kf, kf, 1))
        tr.pos = pos.copy()
        tr.n_window = 1
        ms.receptacle_cache.pop((tr.id, old.id), None)
        slot = ms.act_slot.get(tr.id)
        if slot is not None and not ms.active_dirty:
            ms.act_pos[slot] = tr.pos
        if moved and tr.confirmed:
            tr.n_moves += 1
            ms.class_stats.setdefault(tr.class_name, MoveStats()).moves += 1
            ev = Evidence([object_id_str(tr.id)], [old.last_obs, oid], [p for p in (old.place_id, place) if p >= 0],
                          [old.end_ns, stamp], [r for r in (old.last_kf, kf) if r])
            self.events.add("moved", tr, stamp, old.pos, pos, old.room_id, room, ev)
        ms.mark(tr, stay=True)

    def confirm(self, tr: Track, t: int) -> None:
        ms = self.s
        tr = ms.own_track(tr)
        host = self.absorbing_host(tr)
        if host is not None:
            self.absorb(tr, host)
            return
        tr.status = PRESENT
        tr.confirmed_ns = t
        ms.class_index.setdefault(tr.class_name, set()).add(tr.id)
        ms.class_stats.setdefault(tr.class_name, MoveStats()).exposure_days += \
            max(0, tr.last_seen_ns - tr.first_seen_ns) / NS_PER_DAY
        ms.mark(tr, stay=True)
        # a confirmed newcomer may be a remembered object that moved while memory was not looking
        m = self.best_reid(tr, candidates=[x for x in ms.tracks.values()
                                            if x.status == MISSING and x.id != tr.id
                                            and x.last_seen_ns < tr.first_seen_ns])
        if m is not None:
            self.merge(new=tr, old=m)
            return
        self.maybe_appeared(tr)

    def absorbing_host(self, tr: Track) -> Optional[Track]:
        """A confirmed object of another class right where ``tr`` is, seen far more often and never in the
        same frame as it: ``tr`` is that object's confused detections."""
        ms = self.s
        cfg = self.config.association
        best, best_d = None, cfg.absorb_radius_m
        recent = tr.first_seen_ns - int(cfg.tentative_ttl_s * NS_PER_S)
        seen_with = {ms.resolve_track_id(c) for c in tr.cooccur}
        for x in ms.tracks.values():
            if x.status != PRESENT or x.id == tr.id or x.id in seen_with or x.class_name == tr.class_name:
                continue
            if x.hits < cfg.absorb_hits_ratio * tr.hits or x.last_seen_ns < recent:
                continue          # the host must be in view in this very pass, and well established
            d = float(np.linalg.norm(x.pos - tr.pos))
            if d <= best_d:
                best, best_d = x, d
        return best

    def consolidate(self, touched: Set[int]) -> None:
        """Two confirmed records right next to each other that were never detected in one frame are one
        object: the same class -> fuse them (duplicates from a gap in tracking); another class seen far
        less often -> it was the detector's confusion of its neighbour, absorb it."""
        ms = self.s
        cfg = self.config.association
        live = [ms.tracks[i] for i in touched if i in ms.tracks and ms.tracks[i].confirmed]
        if not live:
            return
        if ms.active_dirty:
            ms.rebuild_active()
        for tr in live:
            if tr.id not in ms.tracks:
                continue
            d = np.linalg.norm(ms.act_pos - tr.pos[None, :], axis=1)
            for k in np.flatnonzero(d <= cfg.absorb_radius_m):
                other = ms.tracks.get(ms.act_ids[k])
                if other is None or other.id == tr.id or not other.confirmed or tr.id not in ms.tracks:
                    continue
                seen_with = {ms.resolve_track_id(c) for c in tr.cooccur | other.cooccur}
                if other.id in seen_with or tr.id in seen_with or not self.coexisted(tr, other):
                    continue          # seen together, or at different times (one replaced the other)
                small, big = (tr, other) if tr.hits <= other.hits else (other, tr)
                if self.class_sim(tr.class_name, other.class_name) >= 0.99:
                    if color_distance(tr.color, other.color) > cfg.reid_max_color_distance:
                        continue
                    older, younger = (tr, other) if tr.first_seen_ns <= other.first_seen_ns else (other, tr)
                    self.merge(new=younger, old=older)
                elif big.hits >= cfg.absorb_hits_ratio * small.hits and small.hits <= 2 * cfg.confirm_hits:
                    self.absorb(small, big)        # only a young record: an established one is an object
                else:
                    continue
                if ms.active_dirty:
                    ms.rebuild_active()
                break

    def absorb(self, tr: Track, host: Track) -> None:
        ms = self.s
        host = ms.own_track(host)
        tr = ms.own_track(tr)
        if tr.confirmed:               # a phantom object: nothing it "did" happened
            ms.class_index.get(tr.class_name, set()).discard(tr.id)
            for e in [e for e in ms.events if e.object_id == tr.id]:
                self.events.delete(e.id)
            self.repo.reassign_absences(tr.id, host.id)
        for k, v in tr.votes.items():
            host.votes[k] = host.votes.get(k, 0.0) + v
        for k, v in tr.raw_votes.items():
            host.raw_votes[k] = host.raw_votes.get(k, 0.0) + v
        host.hits += tr.hits
        host.last_seen_ns = max(host.last_seen_ns, tr.last_seen_ns)
        hs = host.stay
        hs.end_ns = max(hs.end_ns, tr.last_seen_ns)
        hs.n_obs += sum(x.n_obs for x in tr.stays)
        host.cooccur |= tr.cooccur
        tr.status = MERGED
        tr.merged_into = host.id
        ms.merged[tr.id] = host.id
        del ms.tracks[tr.id]
        for s in tr.stays:
            ms.dirty_stays.pop(s.id, None)
        ms.active_dirty = True
        ms.mark(tr)
        ms.mark(host, stay=True)
        for i, (stamp, oid, o) in enumerate(ms.recent_obs):
            if oid == tr.id:
                ms.recent_obs[i] = (stamp, host.id, o)
        self.repo.delete_stays_of(tr.id)
        self.repo.reassign_observations(tr.id, host.id)

    def maybe_appeared(self, tr: Track) -> None:
        ms = self.s
        cfg = self.config.events
        st = tr.stay
        p = ms.places.get(st.place_id)
        known_since = p.first_ns if p is not None else (ms.episodes[0][0] if ms.episodes else tr.first_seen_ns)
        if tr.first_seen_ns - known_since >= cfg.appear_after_s * NS_PER_S:
            ev = Evidence([object_id_str(tr.id)], [st.first_obs], [st.place_id] if st.place_id >= 0 else [],
                          [st.start_ns], [st.first_kf] if st.first_kf else [])
            e = self.events.add("appeared", tr, st.start_ns, None, st.pos, -1, st.room_id, ev)
            tr.appeared_event = e.id

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
            if self.class_sim(m.class_name, tr.class_name) < 0.99:
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
        latest_abs = (latest.absences_since_seen, list(latest.absence_views), list(latest.absence_stamps))
        from_drop = {s.id for s in drop.stays}
        for s in drop.stays:
            s.object_id = keep.id
            ms.dirty_stays[s.id] = s
        keep.stays = sorted(keep.stays + drop.stays, key=lambda s: (s.start_ns, s.id))
        if latest is drop:
            keep.pos = drop.pos.copy()
            keep.bbox_min, keep.bbox_max = drop.bbox_min.copy(), drop.bbox_max.copy()
            keep.n_window = drop.n_window
            if drop.appearance is not None:
                keep.appearance = drop.appearance.copy()
        keep.color = (keep.color + drop.color) / 2.0
        for k, v in drop.votes.items():
            keep.votes[k] = keep.votes.get(k, 0.0) + v
        for k, v in drop.raw_votes.items():
            keep.raw_votes[k] = keep.raw_votes.get(k, 0.0) + v
        keep.hits += drop.hits
        keep.cooccur |= drop.cooccur
        keep.first_seen_ns = min(keep.first_seen_ns, drop.first_seen_ns)
        keep.last_seen_ns = max(keep.last_seen_ns, drop.last_seen_ns)
        # the object is now what the most recently seen of the two says
        keep.status = MISSING if latest_status == MISSING else PRESENT
        keep.absences_since_seen, keep.absence_views, keep.absence_stamps = latest_abs
        # the newcomer's "appeared" and the missing one's "disappeared" are explained by the move
        for eid in (drop.appeared_event, missing.disappeared_event if missing is not None else -1):
            if eid >= 0:
                self.events.delete(eid)
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
            if ((a.id in from_drop) == (b.id in from_drop)
                    or float(np.linalg.norm(a.pos - b.pos)) <= self.config.association.stay_split_m):
                continue
            kfs = [a.last_kf, b.first_kf]
            stamps = [a.end_ns, b.start_ns]
            if a is missing_last:
                kfs[1:1] = [ms.view_kf.get(v, "") for v in absence_views]
                stamps[1:1] = absence_stamps
            ev = Evidence([object_id_str(keep.id)], [a.last_obs, b.first_obs],
                          [p for p in (a.place_id, b.place_id) if p >= 0], stamps,
                          list(dict.fromkeys(k for k in kfs if k)))
            self.events.add("moved", keep, b.start_ns, a.pos, b.pos, a.room_id, b.room_id, ev)
            keep.n_moves += 1
            stats.moves += 1
        for i, (st_ns, oid, o) in enumerate(ms.recent_obs):
            if oid == drop.id:
                ms.recent_obs[i] = (st_ns, keep.id, o)
        self.repo.reassign_observations(drop.id, keep.id)
        self.repo.reassign_absences(drop.id, keep.id)

    def reappeared(self, tr: Track, pos: np.ndarray, stamp: int, oid: int, kf: str) -> None:
        """A missing object is seen again near where it was: the absences were misses, or it came back."""
        tr.status = PRESENT
        ab = self.config.absence
        if tr.disappeared_event >= 0:
            ev = self.events.find(tr.disappeared_event)
            if ev is None:
                pass                      # the event was forgotten
            elif stamp - ev.stamp_ns <= ab.retract_disappeared_s * NS_PER_S:
                self.events.delete(ev.id)
            else:
                st = tr.stay
                e = Evidence([object_id_str(tr.id)], [oid], [st.place_id] if st.place_id >= 0 else [], [stamp],
                             [kf] if kf else [])
                self.events.add("appeared", tr, stamp, None, pos, -1, st.room_id, e)
            tr.disappeared_event = -1

    def expire_tentative(self, t: int) -> None:
        ms = self.s
        ttl = int(self.config.association.tentative_ttl_s * NS_PER_S)
        if not ms.tracks:
            return
        dead = [tr for tr in ms.tracks.values() if tr.status == TENTATIVE and t - tr.last_seen_ns > ttl]
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
