"""Queries: the MemoryView reads (common/protocols.py) over a MemoryState.

Recall is served from the in-memory records (tracks, stays, events, places); only evidence look-ups
that reach past the recent, uncommitted rows (last sighting before a time, absences, raw observations,
keyframes of old views) read the store through the repository. Nothing here changes the state except
its caches. Callers hold the memory's lock (MemoryCore does).

Rooms of objects: a read names the room that contains the object's position in the latest room cut
(``room_of``), not a room id stored with it. The cut covers free floor only, and objects rest on furniture
and against walls (cells no room covers), so the position takes the nearest room cell within
``OBJECT_ROOM_RADIUS_M``, and between two rooms across a wall the room it was observed from
(``object_room``); a position no room is that near is in no room (-1). Only without any room cut does the
stored id (the room of the place the robot observed from) stand.
"""
from __future__ import annotations

import bisect
import heapq
import operator
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..common.errors import InputError, NotFoundError, StoreError
from ..common.place_graph import shortest_place_path
from ..common.protocols import Absence, Evidence, HistorySpan, PlaceInfo, PoseSample, Sighting
from ..common.types import RoomSegmentation
from ..vocab import Vocabulary
from .absences import miss_rate as absence_miss_rate
from .config import NS_PER_DAY, MemoryConfig
from .event_reads import EventReads
from .records import (
    MISSING,
    PRESENT,
    TENTATIVE,
    ObservationRecord,
    Stay,
    Track,
    object_id_str,
    parse_object_id,
)
from .repository import Repository
from .staleness import MoveStats, class_posterior, new_spot_share, object_prior, p_no_move, with_absences
from .state import MemoryState

_POSE_KEY = operator.itemgetter(0, 1)     # a pose row's (stamp, robot): newest first, ties by robot
# an object's position takes the nearest room cell within this (ground distance): the centre of a double
# bed or a deep counter is up to ~1 m from the free floor beside it
OBJECT_ROOM_RADIUS_M = 1.0
# the pose trail is read from the store newest first in pages of at least this many views
POSE_PAGE_ROWS = 256
# two rooms' floor this much nearer/farther apart (a wall and the obstacle margins on both sides) is a tie
OBJECT_ROOM_TIE_M = 0.25


class Queries(EventReads):
    def __init__(self, config: MemoryConfig, vocab: Vocabulary, state: MemoryState, repo: Repository):
        self.config = config
        self.vocab = vocab
        self.s = state
        self.repo = repo
        self._gone: Dict[str, int] = {}                  # class_gone's cache, valid for _gone_key
        self._gone_key: Tuple[int, int, int] = (-1, -1, -1)
        self._spots: Dict[int, Tuple[tuple, int, int]] = {}   # new_spot_odds: per track (key, kept, left)
        self._spot_share: Tuple[tuple, float, int] = ((), 0.5, 0)   # their share, first day, valid for key

    def now_ns(self) -> int:
        return self.s.now_ns

    def resolve(self, query: str) -> Tuple[Optional[int], Tuple[str, ...]]:
        """(object id, ()) for an id; (None, stored classes it names) for a class phrase."""
        ms = self.s
        q = str(query).strip()
        oid = parse_object_id(q) if q.startswith("obj_") else None
        if oid is not None:
            return oid, ()
        hit = ms.query_cache.get(q)
        if hit is not None:
            return None, hit
        res = self.vocab.resolve_class(q, allow_model=False)
        if res is None and not self.vocab.is_known(q):
            res = self.vocab.resolve_class(q)     # may load the embedding model once
        general = res[0] if res else self.vocab.canonical(q)
        stored = tuple(c for c in ms.class_index if c == general or self.vocab.is_a(c, general))
        if len(ms.query_cache) > 4096:
            ms.query_cache.clear()
        ms.query_cache[q] = stored
        return None, stored

    def tracks_for(self, query: str) -> List[Track]:
        ms = self.s
        oid, classes = self.resolve(query)
        if oid is not None:
            t = ms.tracks.get(oid)
            return [t] if t is not None and t.confirmed else []
        out: List[Track] = []
        for c in classes:
            out.extend(ms.tracks[i] for i in ms.class_index.get(c, ()) if i in ms.tracks)
        return out

    def track(self, object_id: str) -> Track:
        ms = self.s
        oid = parse_object_id(object_id)
        t = ms.tracks.get(oid) if oid is not None else None
        if t is None or not t.confirmed:
            raise NotFoundError(f"no object {object_id!r}")
        return t

    def room_of(self, pos: Optional[np.ndarray], stored: int = -1) -> int:
        """The room containing map position ``pos`` in the latest room cut; ``stored`` without a cut.
        Memoized per room cut on (cell, stored): every read asks it for every object it returns."""
        ms = self.s
        seg = ms.room_map
        if seg is None or pos is None or not np.all(np.isfinite(np.asarray(pos, float)[:2])):
            return object_room(seg, pos, stored)
        if ms.room_cache_cut is not seg:
            ms.room_cache.clear()
            ms.room_cache_cut = seg
        r, c = _cell(seg, pos)
        key = (c, r, stored)
        hit = ms.room_cache.get(key)
        if hit is None:
            hit = ms.room_cache[key] = _room_near_cell(np.asarray(seg.room_map), float(seg.resolution_m), r, c,
                                                       stored)
        return hit

    def stay_room(self, s: Stay) -> int:
        return self.room_of(s.pos, s.room_id)

    def stay_at(self, t: Track, t_ns: Optional[int]) -> Optional[Stay]:
        if t_ns is None:
            return t.stay
        i = bisect.bisect_right(t.stays, t_ns, key=_stay_start) - 1     # O(log stays): a year has thousands
        return t.stays[i] if i >= 0 else None

    def stay_evidence(self, t: Track, s: Stay) -> Evidence:
        obs = [s.first_obs] if s.first_obs == s.last_obs else [s.first_obs, s.last_obs]
        stamps = [s.start_ns] if s.start_ns == s.end_ns else [s.start_ns, s.end_ns]
        kfs = list(dict.fromkeys(k for k in (s.first_kf, s.last_kf) if k))
        return Evidence([object_id_str(t.id)], obs, [s.place_id] if s.place_id >= 0 else [], stamps, kfs)

    def p_stay_still_there(self, t: Track, s: Stay, t_ns: int) -> float:
        """P(the object is still at stay ``s`` at ``t_ns``): 0 once a later stay began, 1 within the stay,
        else Gamma-Poisson no-move odds of its class and own history, lowered by absences seen since."""
        nxt = None
        for x in t.stays:
            if x.start_ns > s.start_ns:
                nxt = x
                break
        if nxt is not None and t_ns >= nxt.start_ns:
            return 0.0
        if t_ns <= s.end_ns:
            return 1.0
        alpha, beta = self.object_gamma(t)
        p = p_no_move(alpha, beta, t_ns - s.end_ns)
        seen_days, gone_days = self.spot_days(t, s, t_ns)
        if seen_days <= 1 and not (nxt is None and t.absence_stamps):
            p *= self.new_spot_odds(s)      # a spot new to it, not looked at since (staleness.py)
        if nxt is None and t.absence_stamps:
            # the absences that are independent evidence (absences.py: each "spot seen empty", and one per
            # distinct viewpoint of a surface where it was not detected), read with this object's own miss
            # rate as memory learned it: absences later contradicted by a sighting are proven misses
            independent = t.absences_through + len(t.absence_vps)
            if t_ns >= t.absence_stamps[-1]:
                k = t.absences_since_seen
            else:
                k = sum(1 for a in t.absence_stamps if a <= t_ns)
            k = min(k, max(1, independent))
            ab = self.config.absence
            p = with_absences(p, k, self.miss_rate(t), ab.unexplained_change_prob)
            # things that left their spot often come back to it (put back after use): P(back there) is the
            # share of the days memory saw this spot with it there, out of those it saw the spot at all
            # (days of sightings there, and days of absences since), Beta(0, 1)-smoothed
            if seen_days > 1:
                r = seen_days / (seen_days + gone_days + 1.0)
                p = p + (1.0 - p) * r
        return p

    def spot_days(self, t: Track, s: Stay, t_ns: int) -> Tuple[int, int]:
        """(days with a sighting of t at stay s's spot, days since its last sighting with an absence there)."""
        r = self.config.association.gate_m
        days = set()
        for x in t.stays:
            if x.start_ns > t_ns:
                break
            if float(np.linalg.norm(np.asarray(x.pos[:2]) - np.asarray(s.pos[:2]))) <= r:
                days.add(x.start_ns // NS_PER_DAY)
                days.add(min(x.end_ns, t_ns) // NS_PER_DAY)
        gone = {a // NS_PER_DAY for a in t.absence_stamps if s.end_ns < a <= t_ns}
        return len(days), len(gone - days) or (1 if gone else 0)

    def new_spot_odds(self, s: Stay) -> float:
        """For a stay that began after memory's first day, the share of the spots objects were put at that
        were new to them where memory saw them again on a later day (staleness.new_spot_share, cached per
        track's record); 1 for a stay of memory's first day."""
        ms = self.s
        key = (id(ms), ms.now_ns, len(ms.tracks))
        if self._spot_share[0] != key:
            self._spot_share = (key, *new_spot_share(ms.tracks, self._spots, self.config.association.gate_m, MISSING))
        return self._spot_share[1] if s.start_ns // NS_PER_DAY > self._spot_share[2] else 1.0

    def miss_rate(self, t: Track) -> float:
        """P(not detected | there, in view) of this object, learned from its record and its class's
        (absences.miss_rate: the rate absences.py uses to decide it is missing)."""
        m = absence_miss_rate(self.config.absence, t, self.s.class_miss_counts())
        return float(min(max(m, 1e-3), 0.95))

    def class_gone(self, class_name: str) -> int:
        """Objects of a class memory saw leave their spot and never found again (missing now): moves the
        identity layer could not link to a new spot, so class_stats' move count does not hold them."""
        ms = self.s
        key = (id(ms), len(ms.tracks), len(ms.events))
        if self._gone_key != key:
            gone: Dict[str, int] = {}
            for tr in ms.tracks.values():
                if tr.status == MISSING:
                    gone[tr.class_name] = gone.get(tr.class_name, 0) + 1
            self._gone, self._gone_key = gone, key
        return self._gone.get(class_name, 0)

    def object_gamma(self, t: Track) -> Tuple[float, float]:
        ms = self.s
        cfg = self.config.staleness
        st = ms.class_stats.get(t.class_name, MoveStats())
        # the class's moves: the ones memory linked (moved here -> there) and the ones it saw only as gone
        stats = MoveStats(st.moves + self.class_gone(t.class_name), st.exposure_days)
        a_c, b_c = class_posterior(cfg, self.vocab.category(t.class_name), stats)
        a0, b0 = object_prior(cfg, a_c, b_c)
        exposure = max(0, t.last_seen_ns - t.first_seen_ns) / NS_PER_DAY
        return a0 + t.n_moves, b0 + exposure

    def receptacle(self, t: Track, s: Stay) -> str:
        ms = self.s
        key = (t.id, s.id)
        hit = ms.receptacle_cache.get(key)
        if hit is not None:
            return hit
        best, best_d = "", 1e9
        p = s.pos
        for c, ids in ms.class_index.items():
            if c == t.class_name or not self.vocab.is_receptacle(c):
                continue
            for i in ids:
                f = ms.tracks.get(i)
                if f is None or f.id == t.id:
                    continue
                lo, hi = f.bbox_min - 0.15, f.bbox_max + 0.15
                if lo[0] <= p[0] <= hi[0] and lo[1] <= p[1] <= hi[1] and p[2] >= f.bbox_min[2] - 0.1:
                    # the surface it stands on: its height near the top, and inside the footprint beats the
                    # 0.15 m margin (a mug on a table's edge is on the table, not on the chair back beside it)
                    dz = abs(p[2] - f.bbox_max[2])
                    outside = float(np.linalg.norm(np.maximum(0.0, np.maximum(f.bbox_min[:2] - p[:2],
                                                                               p[:2] - f.bbox_max[:2]))))
                    dxy = float(np.linalg.norm(p[:2] - f.pos[:2]))
                    d = dz + outside + 0.1 * dxy
                    if d < best_d:
                        best, best_d = c, d
        if len(ms.receptacle_cache) > 100_000:
            ms.receptacle_cache.clear()
        ms.receptacle_cache[key] = best
        return best

    def sighting(self, t: Track, s: Stay, t_ns: Optional[int], last_seen_ns: Optional[int] = None,
                  evidence: Optional[Evidence] = None) -> Sighting:
        ms = self.s
        at = ms.now_ns if t_ns is None else t_ns
        return Sighting(object_id=object_id_str(t.id), class_name=t.class_name, position_m=s.pos.copy(),
                        place_id=s.place_id, room_id=self.stay_room(s), first_seen_ns=s.start_ns,
                        last_seen_ns=s.end_ns if last_seen_ns is None else last_seen_ns,
                        p_still_there=self.p_stay_still_there(t, s, at),
                        color_rgb=(float(t.color[0]), float(t.color[1]), float(t.color[2])),
                        receptacle=self.receptacle(t, s),
                        evidence=evidence or self.stay_evidence(t, s))

    def last_obs_before(self, t: Track, before_ns: int) -> Optional[Tuple[int, int]]:
        """(observation id, stamp) of the object's last sighting at or before ``before_ns``."""
        ms = self.s
        best: Optional[Tuple[int, int]] = None
        for stamp, oid, obs_id in ms.recent_obs:
            if oid == t.id and stamp <= before_ns and (best is None or stamp > best[1]):
                best = (obs_id, stamp)
        stored = self.repo.last_observation_of(t.id, before_ns)
        if stored is not None and (best is None or stored[1] > best[1]):
            best = stored
        return best

    def last_seen(self, query: str, before_ns: Optional[int] = None) -> List[Sighting]:
        """Where each matching object was last seen (at or before ``before_ns``), most recent first."""
        out = []
        for t in self.tracks_for(query):
            if before_ns is None:
                out.append(self.sighting(t, t.stay, None))
                continue
            s = self.stay_at(t, before_ns)
            if s is None:
                continue
            if s.end_ns <= before_ns:
                out.append(self.sighting(t, s, before_ns))
                continue
            hit = self.last_obs_before(t, before_ns)
            last = hit[1] if hit else s.start_ns
            ev = self.stay_evidence(t, s)
            ev = Evidence(ev.object_ids, [s.first_obs] + ([hit[0]] if hit and hit[0] != s.first_obs else []),
                          ev.place_ids, list(dict.fromkeys([s.start_ns, last])),
                          [s.first_kf] if s.first_kf else [])
            out.append(self.sighting(t, s, before_ns, last_seen_ns=last, evidence=ev))
        out.sort(key=lambda x: -x.last_seen_ns)
        return out

    def where_at(self, object_id: str, t_ns: int) -> Optional[Sighting]:
        """Where the object was believed to be at ``t_ns`` (None if not yet known then)."""
        ms = self.s
        oid = parse_object_id(object_id)
        t = ms.tracks.get(oid) if oid is not None else None
        if t is None or not t.confirmed:
            return None
        s = self.stay_at(t, t_ns)
        return None if s is None else self.sighting(t, s, t_ns)

    def history(self, query: str, start_ns: Optional[int] = None,
                end_ns: Optional[int] = None) -> List[HistorySpan]:
        """Every stay of the matching objects overlapping [start_ns, end_ns], in time order."""
        lo = -1 if start_ns is None else start_ns
        hi = 2 ** 62 if end_ns is None else end_ns
        out = []
        for t in self.tracks_for(query):
            for s in t.stays:
                if s.end_ns >= lo and s.start_ns <= hi:
                    out.append(HistorySpan(object_id_str(t.id), t.class_name, s.pos.copy(), s.place_id,
                                           self.stay_room(s), s.start_ns, s.end_ns, self.stay_evidence(t, s)))
        out.sort(key=lambda h: (h.start_ns, h.object_id))
        return out

    def seen_between(self, start_ns: int, end_ns: int, limit: int = 0) -> List[HistorySpan]:
        """The objects observed within [start_ns, end_ns], one span each (first to last observation in the
        window; position, place and room of the last one; evidence: every observation id and stamp), in the
        order first seen. Committed observations come from the store, the rest from RAM (their position:
        the object's stay then). Unassociated detections and unconfirmed tracks are left out; ``limit`` > 0
        reads at most that many observations."""
        if limit < 0:
            raise InputError("bad_request", f"limit must be >= 0, got {limit}")
        if start_ns > end_ns:
            raise InputError("bad_request", f"window starts ({start_ns}) after it ends ({end_ns})")
        ms = self.s
        rows: List[Tuple[int, int, int, Optional[np.ndarray], int, int]] = []   # stamp, obs id, track, pos, place, room
        if self.repo.readable:
            for oid, stamp, obj, _cls, _raw, _score, centroid, place, room, _view in self.repo.observation_rows(
                    None, start_ns, end_ns, limit):
                if obj is not None:
                    rows.append((int(stamp), int(oid), int(obj), centroid, int(place), int(room)))
        stored = {r[1] for r in rows}
        for stamp, obj, obs_id in ms.recent_obs:
            if start_ns <= stamp <= end_ns and obs_id not in stored:
                rows.append((int(stamp), int(obs_id), int(obj), None, -1, -1))
        rows.sort()
        spans: Dict[int, HistorySpan] = {}
        for stamp, obs_id, obj, pos, place, room in rows:
            t = ms.tracks.get(obj)
            if t is None or not t.confirmed:
                continue
            if pos is None:
                s = self.stay_at(t, stamp)
                if s is None:
                    continue
                pos, place, room = s.pos, s.place_id, s.room_id
            h = spans.get(obj)
            if h is None:
                h = spans[obj] = HistorySpan(object_id_str(obj), t.class_name, np.asarray(pos, float).copy(), place,
                                             self.room_of(pos, room), stamp, stamp, Evidence([object_id_str(obj)]))
            h.end_ns, h.position_m, h.place_id = stamp, np.asarray(pos, float).copy(), place
            h.room_id = self.room_of(pos, room)
            h.evidence.observation_ids.append(obs_id)
            h.evidence.stamps_ns.append(stamp)
            if place >= 0 and place not in h.evidence.place_ids:
                h.evidence.place_ids.append(place)
        return list(spans.values())

    def objects_in(self, room_id: Optional[int] = None, place_id: Optional[int] = None,
                   t_ns: Optional[int] = None) -> List[Sighting]:
        """Objects believed in a room and/or at a place at ``t_ns`` (now if None), most certain first."""
        ms = self.s
        out = []
        for t in ms.tracks.values():
            if not t.confirmed:
                continue
            s = self.stay_at(t, t_ns)
            if s is None:
                continue
            if room_id is not None and room_id >= 0 and self.stay_room(s) != room_id:
                continue
            if place_id is not None and place_id >= 0 and s.place_id != place_id:
                continue
            out.append(self.sighting(t, s, t_ns))
        out.sort(key=lambda x: (-x.p_still_there, x.object_id))
        return out

    def count(self, class_name: str, room_id: Optional[int] = None,
              t_ns: Optional[int] = None) -> Tuple[int, Evidence]:
        """How many objects of a class (in a room) are believed there at ``t_ns``: P(still there) >= 0.5."""
        ms = self.s
        n = 0
        ev = Evidence()
        for t in self.tracks_for(class_name):
            s = self.stay_at(t, t_ns)
            if s is None or (room_id is not None and room_id >= 0 and self.stay_room(s) != room_id):
                continue
            at = ms.now_ns if t_ns is None else t_ns
            if self.p_stay_still_there(t, s, at) >= 0.5:
                n += 1
                ev = ev.merged(self.stay_evidence(t, s))
        return n, ev

    def absences(self, object_id: str, since_ns: Optional[int] = None) -> List[Absence]:
        """Times the object's remembered location was in view, unoccluded, and it was not detected."""
        ms = self.s
        oid = parse_object_id(object_id)
        if oid is None:
            return []
        t = ms.tracks.get(oid)
        cls = t.class_name if t is not None else ""
        lo = -1 if since_ns is None else since_ns
        seen = set()
        out = []
        for stamp, view, x, y, z in self.repo.absences_of(oid, lo):
            seen.add((stamp, view))
            out.append(Absence(object_id_str(oid), cls, stamp, view, np.array([x, y, z])))
        for stamp, o, view, p in ms.recent_abs:
            if o == oid and stamp >= lo and (stamp, view) not in seen:
                out.append(Absence(object_id_str(oid), cls, stamp, view, np.array(p)))
        out.sort(key=lambda a: a.stamp_ns)
        return out

    def p_still_there(self, object_id: str, t_ns: int) -> float:
        t = self.track(object_id)
        s = self.stay_at(t, t_ns)
        return 0.0 if s is None else self.p_stay_still_there(t, s, t_ns)

    def class_move_rate_per_day(self, class_name: str) -> float:
        """Posterior mean move rate (moves per day) of a class, learned from its objects' history."""
        ms = self.s
        c = self.vocab.canonical(class_name)
        res = self.vocab.resolve_class(class_name, allow_model=False)
        if res is not None:
            c = res[0]
        a, b = class_posterior(self.config.staleness, self.vocab.category(c),
                               ms.class_stats.get(c, MoveStats()))
        return a / b

    def places(self) -> List[PlaceInfo]:
        ms = self.s
        out = []
        for pid in sorted(ms.places):
            p = ms.places[pid]
            rid = ms.room_at(p.pos, -1) if ms.room_map is not None else p.room_id
            rid = rid if rid >= 0 else p.room_id
            r = ms.rooms.get(rid)
            out.append(PlaceInfo(pid, p.pos.copy(), rid, r.label if r else "unknown"))
        return out

    def place_edges(self) -> List[Tuple[int, int]]:
        return sorted(self.s.edges)

    def path_between_places(self, a: int, b: int) -> List[int]:
        """Shortest traversed path (by floor length) from place a to place b; [] if none."""
        return shortest_place_path({pid: p.pos for pid, p in self.s.places.items()}, self.s.edges, a, b)[1]

    def rooms(self) -> Dict[int, str]:
        return {rid: r.label for rid, r in sorted(self.s.rooms.items())}

    def robot_poses(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None,
                    room_id: Optional[int] = None, limit: int = 0) -> List[PoseSample]:
        """The robot's pose trail: the camera pose of every stored view stamped in [start_ns, end_ns] (None =
        open), only those in ``room_id`` if given (the room of the pose in the latest room cut, as objects'
        rooms are), oldest first; ``limit`` > 0 keeps the latest ``limit`` (read newest first, page by page,
        so "the last time in the kitchen" never reads the whole history). Committed views come from the
        store, the rest (all of them in a memory without a store) from RAM."""
        if limit < 0:
            raise InputError("bad_request", f"limit must be >= 0, got {limit}")
        if start_ns is not None and end_ns is not None and start_ns > end_ns:
            raise InputError("bad_request", f"window starts ({start_ns}) after it ends ({end_ns})")
        lo = -1 if start_ns is None else start_ns
        hi = 2 ** 62 if end_ns is None else end_ns
        ram = sorted((r for r in self.s.recent_poses if lo <= r[0] <= hi), key=_POSE_KEY, reverse=True)
        rows = heapq.merge(ram, self._stored_poses_newest_first(start_ns, end_ns, max(POSE_PAGE_ROWS, 2 * limit)),
                           key=_POSE_KEY, reverse=True)
        out: List[PoseSample] = []
        seen = set()
        for r in rows:
            if r[1] in seen:
                continue                      # a fork's RAM row its root committed since
            seen.add(r[1])
            p = self._pose_sample(r)
            if room_id is not None and room_id >= 0 and p.room_id != room_id:
                continue
            out.append(p)
            if 0 < limit <= len(out):
                break
        out.reverse()
        return out

    def _stored_poses_newest_first(self, start_ns: Optional[int], end_ns: Optional[int], page: int):
        below = None
        while self.repo.readable:
            rows = self.repo.view_poses(start_ns, end_ns, newest_first=True, limit=page, below=below)
            yield from rows
            if len(rows) < page:
                return
            below = (rows[-1][0], rows[-1][1])

    def _pose_sample(self, r: tuple) -> PoseSample:
        stamp, view, place, room, x, y, z, yaw, ref = r
        pos = np.array([x, y, z], dtype=float)
        return PoseSample(int(stamp), pos, float(yaw), int(place), self.room_of(pos, int(room)), str(view), str(ref))

    # ------------------------------------------------------------------------------ extras
    def objects(self, include_missing: bool = True) -> List[str]:
        """Ids of all confirmed objects."""
        ms = self.s
        return sorted(object_id_str(t.id) for t in ms.tracks.values()
                      if t.status == PRESENT or (include_missing and t.status == MISSING))

    def get_object(self, object_id: str) -> Sighting:
        """The object's current belief (NotFoundError if unknown)."""
        t = self.track(object_id)
        return self.sighting(t, t.stay, None)

    def object_label(self, object_id: str) -> str:
        """The class name the detector most often gave this object (e.g. "cup" for a canonical "mug")."""
        return self.track(object_id).label

    def is_confirmed(self, track_id: int) -> bool:
        ms = self.s
        t = ms.tracks.get(ms.resolve_track_id(track_id))
        return t is not None and t.confirmed

    def episodes(self) -> List[Tuple[int, int]]:
        """(start_ns, end_ns) of each episode: a run of input without a gap longer than episode_gap_s."""
        return [(s, e) for s, e in self.s.episodes]

    def room_label(self, room_id: int) -> str:
        ms = self.s
        r = ms.rooms.get(room_id)
        return r.label if r is not None else "unknown"

    def stats(self) -> Dict[str, int]:
        ms = self.s
        by: Dict[str, int] = {}
        for t in ms.tracks.values():
            by[t.status] = by.get(t.status, 0) + 1
        return {"observations": ms.counts["observations"], "views": ms.counts["views"],
                "objects": by.get(PRESENT, 0) + by.get(MISSING, 0), "missing": by.get(MISSING, 0),
                "tentative": by.get(TENTATIVE, 0), "events": len(ms.events), "places": len(ms.places),
                "rooms": len(ms.rooms), "episodes": len(ms.episodes)}

    # -- raw observations (read-only access to what was stored)
    def observations(self, object_id: Optional[str] = None, start_ns: Optional[int] = None,
                     end_ns: Optional[int] = None, limit: int = 0) -> List[ObservationRecord]:
        """Stored observations (committed ones), oldest first."""
        if not self.repo.readable:
            raise StoreError("raw observations are only kept by a persistent memory")
        rows = self.repo.observation_rows(None if object_id is None else parse_object_id(object_id), start_ns,
                                          end_ns, limit)
        return [ObservationRecord(oid, stamp, object_id_str(obj) if obj is not None else "", cls, raw, score,
                                  centroid, place, room, view)
                for oid, stamp, obj, cls, raw, score, centroid, place, room, view in rows]

    def count_observations(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None) -> int:
        ms = self.s
        if not self.repo.readable:
            return ms.counts["observations"]
        return self.repo.count_observations(start_ns, end_ns)

    def view_keyframe(self, view_id: str) -> str:
        """The keyframe ref of a view ("" if it had none, or it was thinned or forgotten)."""
        ms = self.s
        ref = ms.view_kf.get(view_id)
        if ref is None:
            ref = self.repo.view_keyframe(view_id)
        return ref or ""

    def keyframe(self, ref: str) -> Optional[bytes]:
        """JPEG bytes of a keyframe ref (None if thinned, forgotten or in-memory)."""
        return self.repo.keyframe(ref)


def _stay_start(s: Stay) -> int:
    return s.start_ns


def object_room(seg: Optional[RoomSegmentation], pos: Optional[np.ndarray], observed_room: int = -1) -> int:
    """The room of room cut ``seg`` that contains an object at map position ``pos`` (m): the room of its
    cell, else of the nearest room cell within OBJECT_ROOM_RADIUS_M, else -1. Between two rooms' floors
    within OBJECT_ROOM_TIE_M of each other (an object against the wall between them), ``observed_room``
    (the room the robot observed it from) when it is one of them: the camera rarely sees through walls.
    Without a cut (or a position): ``observed_room``."""
    if seg is None or pos is None or not np.all(np.isfinite(np.asarray(pos, float)[:2])):
        return observed_room
    r, c = _cell(seg, pos)
    return _room_near_cell(np.asarray(seg.room_map), float(seg.resolution_m), r, c, observed_room)


def _cell(seg: RoomSegmentation, pos: np.ndarray) -> Tuple[int, int]:
    """(row, column) of the room map cell under map position ``pos``."""
    res = float(seg.resolution_m)
    return (int(np.floor((float(pos[1]) - seg.origin_xy_m[1]) / res)),
            int(np.floor((float(pos[0]) - seg.origin_xy_m[0]) / res)))


def _room_near_cell(grid: np.ndarray, res: float, r: int, c: int, observed_room: int) -> int:
    """object_room for the object's cell (r, c) of room map ``grid`` (cells of ``res`` m)."""
    if 0 <= r < grid.shape[0] and 0 <= c < grid.shape[1] and grid[r, c] >= 0:
        return int(grid[r, c])
    k = int(np.ceil(OBJECT_ROOM_RADIUS_M / res))
    r0, c0 = max(r - k, 0), max(c - k, 0)
    win = grid[r0:max(r + k + 1, 0), c0:max(c + k + 1, 0)]
    rr, cc = np.nonzero(win >= 0)
    d = np.hypot(rr + r0 - r, cc + c0 - c) * res
    near = d <= OBJECT_ROOM_RADIUS_M
    if not np.any(near):
        return -1
    d, ids = d[near], win[rr[near], cc[near]]
    i = int(np.argmin(d))
    if observed_room >= 0 and observed_room != int(ids[i]):
        mine = ids == observed_room
        if np.any(mine) and float(d[mine].min()) <= float(d[i]) + OBJECT_ROOM_TIE_M:
            return observed_room
    return int(ids[i])
