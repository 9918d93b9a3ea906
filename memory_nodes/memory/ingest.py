"""Ingest: one PerceptionOutput per frame, in time order, into the memory state and the store.

    places / rooms -> view (keyframe file, view row, pose trail) -> observations and identity (identity.py)
    -> absences from the view (absences.py) -> tentative tracks expire -> episode -> retention when due
    -> a batched commit every ``commit_every_frames`` frames or ``commit_every_s`` of input time.

One camera stream gives one frame per stamp: a frame at a stamp already taken is refused, as
``duplicate_frame`` when it is the same frame (a resend: idempotent, across restarts too) and as
``conflicting_frame`` when anything in it differs (the first one stays); see ``_check_duplicate``.

``commit`` writes every dirty record and the new ``ingested_through_ns`` in one transaction: all input
stamped at or before it is durable once it returns.
"""
from __future__ import annotations

from typing import Optional, Set

import numpy as np

from ..common.errors import InputError, StoreError
from ..common.trajectory import camera_heading_rad
from ..common.types import PerceptionOutput, PlaceGraph, RoomSegmentation, View
from ..vocab import Vocabulary
from .absences import Absences
from .config import NS_PER_S, MemoryConfig
from .identity import Tracker
from .records import PlaceRec, RoomRec
from .repository import Repository
from .retention import apply_retention
from .state import MemoryState
from .validate import MAX_STAMP_NS, id_problem, place_problem, rooms_problem, view_problem

_MAX_VIEWS_KEPT = 4096          # view id -> keyframe / place, for evidence of recent absences
_RECENT_FRAMES = 4096           # stamps whose frame content the duplicate check remembers (perception's
#                                 resend ring holds fewer: config/perception.yaml resend.max_frames)


def _frame_key(out: PerceptionOutput) -> tuple:
    """What tells two frames at one stamp apart: view id, place and every observation's class, score,
    centroid (mm), point count and view (garbage fields compare as their repr: validation comes later)."""
    def obs(o) -> tuple:
        try:
            c = tuple(round(float(x), 3) for x in np.asarray(o.centroid_m, float).ravel()[:3])
            return (str(o.class_name), round(float(o.score), 6), c, int(o.num_points), str(o.view_id))
        except (TypeError, ValueError, OverflowError):
            return (repr(o.class_name), repr(o.score), repr(o.centroid_m))
    return (out.view.view_id if out.view is not None else "", repr(out.place_id),
            tuple(obs(o) for o in out.observations))


class Ingestor:
    def __init__(self, config: MemoryConfig, vocab: Vocabulary, state: MemoryState, repo: Repository,
                 tracker: Tracker, absences: Absences):
        self.config = config
        self.vocab = vocab
        self.s = state
        self.repo = repo
        self.tracker = tracker
        self.absences = absences

    def ingest(self, out: PerceptionOutput, derive_absences: bool = True,
               latest_ok_ns: Optional[int] = None) -> Optional[int]:
        """See MemoryCore.ingest."""
        ms = self.s
        if not isinstance(out, PerceptionOutput):
            raise InputError("bad_input", f"expected PerceptionOutput, got {type(out).__name__}")
        try:
            t = int(out.stamp_ns)
        except (TypeError, ValueError, OverflowError) as e:
            raise InputError("bad_stamp", f"stamp {out.stamp_ns!r} is not an integer") from e
        if t < 0 or t > MAX_STAMP_NS:
            raise InputError("bad_stamp", f"stamp {t} ns outside [0, {MAX_STAMP_NS}]")
        if latest_ok_ns is not None and t > latest_ok_ns:
            raise InputError("future_stamp", f"stamp {t} ns is {(t - latest_ok_ns) / NS_PER_S:.0f} s past the "
                             "latest plausible time (the clock's now + the tolerance): rejected, so it cannot "
                             "pin ingested_through")
        self._check_duplicate(out, t)
        if out.view is not None:
            bad = view_problem(out.view)
            if bad:
                ms.warnings.append(InputError(*bad))
                out = PerceptionOutput(out.stamp_ns, out.observations, None, out.place_id, out.places, out.rooms)
        ms.now_ns = max(ms.now_ns, t)
        if out.places is not None:
            self.places(out.places)
        if out.rooms is not None:
            self.rooms(out.rooms)
        view_ok = False
        if out.view is not None:
            view_ok = self.view(out.view)
        matched: Set[int] = self.tracker.ingest_observations(t, out)
        if view_ok and derive_absences and out.view is not None:
            self.absences.absences_from_view(out.view, matched)
        self.tracker.expire_tentative(t)
        self.episode(t)
        ms.pending_through_ns = max(ms.pending_through_ns, t)
        ms.frames_since_commit += 1
        ret = self.config.retention
        if (self.repo.writable and ms.last_retention_ns >= 0
                and t - ms.last_retention_ns >= ret.run_every_s * NS_PER_S):
            apply_retention(ret, ms, self.repo, t)
        elif ms.last_retention_ns < 0:
            ms.last_retention_ns = t
        sc = self.config.store
        if ms.writes_paused:
            return None
        due = (ms.frames_since_commit >= sc.commit_every_frames
               or t - ms.last_commit_stamp_ns >= sc.commit_every_s * NS_PER_S)
        if ms.store_fault is not None:        # retry a failed batch with a backoff (in frames)
            ms.commit_backoff_frames -= 1
            due = ms.commit_backoff_frames <= 0
        if not due:
            return None
        try:
            return self.commit()
        except StoreError as e:
            self._failed(e)
            return None

    def _failed(self, e: StoreError) -> None:
        ms = self.s
        first = ms.store_fault is None
        ms.store_fault = e
        step = self.config.store.commit_every_frames
        ms.commit_backoff_frames = step if first else min(64 * step, 2 * max(step, ms.commit_backoff_frames_last))
        ms.commit_backoff_frames_last = ms.commit_backoff_frames

    def _check_duplicate(self, out: PerceptionOutput, t: int) -> None:
        """One camera stream gives one frame per stamp: a second frame at a stamp already taken is refused.
        The same content (a re-sent message: perception resends what memory has not acknowledged) is
        ``duplicate_frame``; different content (a score, a class, a position, the view or place changed: two
        streams on one topic, or a frame altered in flight) is ``conflicting_frame``, and the first frame
        stays. This run's frames are compared by content (the last ``_RECENT_FRAMES`` stamps); a frame at or
        before the store's watermark that is not among them (a resend after a restart) is compared with the
        store by stamp only: if it holds observations or a view at that stamp, ``duplicate_frame``."""
        if not out.observations and out.view is None:
            return
        key = _frame_key(out)
        recent = self.s.recent_frames
        seen = recent.get(t)
        if seen is not None:
            if seen == key:
                raise InputError("duplicate_frame", f"frame stamped {t} ns arrived twice (stored once)")
            raise InputError("conflicting_frame", f"a second, different frame stamped {t} ns refused (one frame "
                             "per stamp: the first one is kept; two streams on one topic?)")
        if t <= self.s.ingested_through_ns and self.repo.readable and self.repo.has_frame_at(t):
            raise InputError("duplicate_frame", f"frame stamped {t} ns is in the store already (a resend after a "
                             "restart: stored once)")
        recent[t] = key
        while len(recent) > _RECENT_FRAMES:
            recent.popitem(last=False)

    def commit(self) -> int:
        """Persist everything ingested so far (one transaction); returns ingested_through_ns."""
        ms = self.s
        if self.repo.writable:
            try:
                self.repo.commit(ms)   # raises StoreError with everything still queued and dirty
            except StoreError as e:
                ms.store_fault = e
                raise
            ms.store_fault = None
            ms.commit_backoff_frames = ms.commit_backoff_frames_last = 0
            ms.recent_obs.clear()
            ms.recent_abs.clear()
            ms.recent_poses.clear()
        ms.dirty_tracks.clear()
        ms.dirty_stays.clear()
        ms.dirty_places.clear()
        ms.dirty_episode = False
        ms.ingested_through_ns = max(ms.ingested_through_ns, ms.pending_through_ns)
        ms.frames_since_commit = 0
        ms.last_commit_stamp_ns = max(ms.last_commit_stamp_ns, ms.pending_through_ns)
        return ms.ingested_through_ns

    # ----------------------------------------------------------------------------- places, rooms, views
    def places(self, pg: PlaceGraph) -> None:
        ms = self.s
        for p in pg.places:
            bad = place_problem(p)
            if bad:
                ms.warnings.append(InputError(*bad))
                continue
            pos = np.asarray(p.position_m, float).reshape(3)
            rec = ms.places.get(p.place_id)
            first = p.first_observed_ns or pg.stamp_ns
            last = max(p.last_observed_ns, first)
            if rec is None:
                ms.places[p.place_id] = PlaceRec(p.place_id, pos, p.room_id, first, last)
                ms.dirty_places.add(p.place_id)
            elif (rec.room_id != p.room_id or rec.last_ns != last or np.any(np.abs(rec.pos - pos) > 1e-3)):
                rec.pos, rec.room_id, rec.last_ns = pos, p.room_id, max(rec.last_ns, last)
                ms.dirty_places.add(p.place_id)
        rows = []
        for a, b in pg.edges:
            if id_problem(a, "edge") or id_problem(b, "edge"):
                ms.warnings.append(InputError("bad_place_graph", f"edge ({a}, {b}) has an id out of range"))
                continue
            key = (min(a, b), max(a, b))
            if key not in ms.edges:
                ms.edges[key] = [pg.stamp_ns, pg.stamp_ns]
                rows.append((key[0], key[1], pg.stamp_ns, pg.stamp_ns))
        self.repo.add_place_edges(rows)

    def rooms(self, seg: RoomSegmentation) -> None:
        ms = self.s
        grid = np.asarray(seg.room_map)
        bad = rooms_problem(seg)
        if bad:
            ms.warnings.append(InputError(*bad))
            return
        ms.room_map = RoomSegmentation(seg.stamp_ns, [], grid.astype(np.int16), float(seg.resolution_m),
                                       (float(seg.origin_xy_m[0]), float(seg.origin_xy_m[1])))
        rows = []
        for r in seg.rooms:
            label = self.vocab.resolve_room(r.label, allow_model=False)
            label_c = label[0] if label else (r.label or "unknown")
            old = ms.rooms.get(r.room_id)
            first = old.first_ns if old else seg.stamp_ns
            rec = RoomRec(r.room_id, label_c, float(r.label_confidence), np.asarray(r.centroid_m, float).reshape(3),
                          float(r.area_m2), first, seg.stamp_ns)
            ms.rooms[r.room_id] = rec
            rows.append((r.room_id, label_c, rec.confidence, *map(float, rec.centroid), rec.area_m2, first,
                         seg.stamp_ns))
        # rooms may have been re-cut: where each remembered object is now
        for t in list(ms.tracks.values()):
            if not t.confirmed:
                continue
            rid = ms.room_at(t.pos, t.stay.place_id)
            if rid != t.stay.room_id:
                t = ms.own_track(t)
                t.stay.room_id = rid
                ms.mark(t, stay=True)
        self.repo.put_rooms(rows, ms.room_map)

    def view(self, v: View) -> bool:
        ms = self.s
        T = np.asarray(v.map_T_camera, float)
        depth = np.asarray(v.depth_m)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)):
            ms.warnings.append(InputError("bad_view_pose", f"view {v.view_id}: map_T_camera must be finite 4x4"))
            return False
        if depth.ndim != 2 or depth.shape != (v.intrinsics.height, v.intrinsics.width):
            ms.warnings.append(InputError("bad_view_depth", f"view {v.view_id}: depth {depth.shape} does not "
                                          f"match intrinsics {v.intrinsics.width}x{v.intrinsics.height}"))
            return False
        if not v.view_id:
            ms.warnings.append(InputError("bad_view_id", "view without an id"))
            return False
        ref = self.repo.put_keyframe(bytes(v.color_jpeg)) if v.color_jpeg else ""
        ms.view_kf[v.view_id] = ref
        ms.view_place[v.view_id] = v.place_id
        while len(ms.view_kf) > _MAX_VIEWS_KEPT:
            ms.view_kf.popitem(last=False)
            ms.view_place.popitem(last=False)
        ms.counts["views"] += 1
        room = ms.room_at(T[:3, 3], v.place_id)
        ms.recent_poses.append((int(v.stamp_ns), v.view_id, int(v.place_id), room, float(T[0, 3]), float(T[1, 3]),
                                float(T[2, 3]), camera_heading_rad(T), ref))
        if self.repo.writable:
            intr = v.intrinsics
            self.repo.put_view(v.view_id, int(v.stamp_ns), int(v.place_id), room, T,
                               np.array([intr.width, intr.height, intr.fx, intr.fy, intr.cx, intr.cy], np.float64),
                               ref, len(v.color_jpeg), v.detected_classes)
        return True

    def episode(self, t: int) -> None:
        """Episodes are runs of input without a gap longer than ``episode_gap_s``."""
        ms = self.s
        gap = int(self.config.events.episode_gap_s * NS_PER_S)
        if not ms.episodes or t - ms.episodes[-1][1] > gap:
            if ms.episodes and ms.dirty_episode:
                self.repo.put_episode(len(ms.episodes), *ms.episodes[-1])
            ms.episodes.append([t, t])
        else:
            ms.episodes[-1][1] = max(ms.episodes[-1][1], t)
        ms.dirty_episode = True
