"""Repository: every read and write the memory core makes to its store, table by table.

The core never writes SQL: it hands records to a ``Repository``, which queues statements on the
``Store`` (batched into one transaction at ``commit``) and reads rows back as records. A repository
without a store (an in-memory memory) or a read-only one (a fork reading its root's store) ignores
writes; reads of a repository without a store return nothing.
"""
from __future__ import annotations

import json
import operator
from typing import List, Optional, Sequence, Set, Tuple

import numpy as np

from ...common.errors import StoreError
from ...common.trajectory import camera_heading_rad
from ...common.types import RoomSegmentation
from ..records import LIVE_STATUSES, MERGED, EventRec, PlaceRec, RoomRec, Stay, Track
from .store import Store, add_stamp_window, dumps, keyframe_ref


def track_json(t: Track) -> str:
    """``dumps(t.to_json())`` (the tracks row's data; its keys in another order), its large parts
    serialised once: a track's extent sample, viewpoints and co-occurrences seldom change between two
    commits of it, but they are most of the text. Each part's text is kept on the track with what it was
    made of and reused while that holds: the same row lists (checked by identity: rows are replaced, never
    changed in place; each row's text is kept too), the same co-occurrence set of the same size (it only
    grows in place, and is replaced when it loses ids)."""
    cache = t.__dict__.get("_json_parts")
    if cache is None:
        cache = t.__dict__["_json_parts"] = {}
    parts = [dumps(t.json_scalars())[1:-1]]
    for k, name, digits in Track.ROW_LISTS:
        rows = getattr(t, name)
        c = cache.get(k)
        if c is None or len(c[0]) != len(rows) or not all(map(operator.is_, c[0], rows)):
            # a row added or replaced (rows are appended or replaced in place of one): the text of a row
            # still at its place is kept
            prev, prev_texts = ([], []) if c is None else (c[0], c[2])
            texts = [t0 if r is r0 else dumps([round(float(x), digits) for x in r])
                     for r, r0, t0 in zip(rows, prev, prev_texts)]
            texts += [dumps([round(float(x), digits) for x in r]) for r in rows[len(texts):]]
            c = cache[k] = (list(rows), f'"{k}":[' + ",".join(texts) + "]", texts)
        parts.append(c[1])
    co = t.cooccur
    c = cache.get("co")
    if c is None or c[0] is not co or c[1] != len(co):
        c = cache["co"] = (co, len(co), '"co":' + dumps(sorted(co)))
    parts.append(c[2])
    return "{" + ",".join(parts) + "}"


_TABLE_OF_ID = (("obs", "observations"), ("track", "tracks"), ("stay", "stays"), ("event", "events"),
                ("absence", "absences"))


class Repository:
    def __init__(self, store: Optional[Store], writable: bool = True):
        self.store = store
        self.writable = store is not None and writable

    @property
    def _st(self) -> Store:
        if self.store is None:
            raise StoreError("this memory has no store")
        return self.store

    @property
    def readable(self) -> bool:
        return self.store is not None and self.store.conn is not None

    def read_only(self) -> "Repository":
        """The same store for reading only (what a fork gets)."""
        return Repository(self.store, writable=False)

    # ------------------------------------------------------------------------------------ loading
    def load(self, state, gen: int) -> None:
        """Fill an empty MemoryState from the store (records owned by generation ``gen``)."""
        st = self._st
        names = st.class_names()
        for tid, status, cid, first, last, data in st.query(
                "SELECT id, status, class_id, first_seen_ns, last_seen_ns, data FROM tracks WHERE status IN (?,?,?)",
                LIVE_STATUSES):
            t = Track.from_row(tid, status, names.get(cid, "unknown"), first, last, json.loads(data))
            t.owner = gen
            state.tracks[tid] = t
        for row in st.query("SELECT id, object_id, start_ns, end_ns, x, y, z, place_id, room_id, first_obs, "
                            "last_obs, first_kf, last_kf, n_obs FROM stays ORDER BY object_id, start_ns, id"):
            t = state.tracks.get(row[1])
            if t is not None:
                t.stays.append(Stay(row[0], row[1], row[2], row[3], np.array(row[4:7], float), row[7], row[8],
                                    row[9], row[10], row[11], row[12], row[13]))
        for tid, data in st.query("SELECT id, data FROM tracks WHERE status = ?", (MERGED,)):
            state.merged[tid] = int(json.loads(data).get("into", -1))
        for tid in [tid for tid, t in state.tracks.items() if not t.stays]:
            del state.tracks[tid]            # cannot happen in a consistent store; tolerate
        for t in state.tracks.values():
            if t.confirmed:
                state.class_index.setdefault(t.class_name, set()).add(t.id)
        for eid, kind, oid, stamp, data in st.query(
                "SELECT id, kind, object_id, stamp_ns, data FROM events ORDER BY stamp_ns, id"):
            state.events.append(EventRec.from_row(eid, kind, oid, stamp, json.loads(data)))
        state.event_keys = [(e.stamp_ns, e.id) for e in state.events]
        for pid, x, y, z, rid, first, last in st.query(
                "SELECT place_id, x, y, z, room_id, first_ns, last_ns FROM places"):
            state.places[pid] = PlaceRec(pid, np.array([x, y, z]), rid, first, last)
        for a, b, first, last in st.query("SELECT a, b, first_ns, last_ns FROM place_edges"):
            state.edges[(a, b)] = [first, last]
        for rid, label, conf, x, y, z, area, first, last in st.query(
                "SELECT room_id, label, confidence, x, y, z, area_m2, first_ns, last_ns FROM rooms"):
            state.rooms[rid] = RoomRec(rid, label, conf, np.array([x, y, z]), area, first, last)
        rm = st.query("SELECT stamp_ns, rows, cols, resolution_m, origin_x, origin_y, data FROM room_map")
        if rm:
            stamp, rows, cols, res, ox, oy, data = rm[0]
            grid = np.frombuffer(data, np.int16).reshape(rows, cols).copy()
            state.room_map = RoomSegmentation(stamp, [], grid, res, (ox, oy))
        state.episodes = [[s, e] for s, e in st.query("SELECT start_ns, end_ns FROM episodes ORDER BY id")]
        for key, table in _TABLE_OF_ID:
            state.next_id[key] = int(st.query(f"SELECT coalesce(max(id), 0) FROM {table}")[0][0]) + 1
        # the row count each commit keeps in meta (a robot-year's count(*) reads ~2 M index entries at open);
        # counted when it is not there (older stores, after a forget, after rows a commit refused)
        n = st.meta("observations_count", "")
        state.counts["observations"] = int(n) if n.isdigit() else \
            int(st.query("SELECT count(*) FROM observations")[0][0])
        state.counts["views"] = int(st.query("SELECT count(*) FROM views")[0][0])
        state.ingested_through_ns = int(st.meta("ingested_through_ns", "-1"))
        state.last_retention_ns = int(st.meta("last_retention_ns", "-1"))

    # ------------------------------------------------------------------------------------ writing
    def commit(self, state) -> None:
        """Queue the state's dirty records and its watermarks, then write the batch in one transaction."""
        if not self.writable:
            return
        st = self._st
        for t in state.dirty_tracks.values():
            st.queue("INSERT OR REPLACE INTO tracks (id, status, class_id, first_seen_ns, last_seen_ns, "
                     "data) VALUES (?,?,?,?,?,?)",
                     (t.id, t.status, st.class_id(t.class_name), t.first_seen_ns, t.last_seen_ns,
                      track_json(t)))
        for s in state.dirty_stays.values():
            st.queue("INSERT OR REPLACE INTO stays (id, object_id, start_ns, end_ns, x, y, z, place_id, "
                     "room_id, first_obs, last_obs, first_kf, last_kf, n_obs) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     (s.id, s.object_id, s.start_ns, s.end_ns, float(s.pos[0]), float(s.pos[1]),
                      float(s.pos[2]), s.place_id, s.room_id, s.first_obs, s.last_obs, s.first_kf,
                      s.last_kf, s.n_obs))
        for pid in state.dirty_places:
            p = state.places[pid]
            st.queue("INSERT OR REPLACE INTO places (place_id, x, y, z, room_id, first_ns, last_ns) "
                     "VALUES (?,?,?,?,?,?,?)", (pid, float(p.pos[0]), float(p.pos[1]), float(p.pos[2]),
                                                p.room_id, p.first_ns, p.last_ns))
        if state.dirty_episode and state.episodes:
            self.put_episode(len(state.episodes), *state.episodes[-1])
        if state.pending_through_ns > state.ingested_through_ns:
            st.set_meta("ingested_through_ns", state.pending_through_ns)
        st.set_meta("last_retention_ns", state.last_retention_ns)
        st.set_meta("observations_count", state.counts["observations"])
        refused = st.rejected_rows
        st.commit()
        if st.rejected_rows != refused:         # refused rows may be observations: count what is there
            state.counts["observations"] = int(st.query("SELECT count(*) FROM observations")[0][0])
            st.set_meta("observations_count", state.counts["observations"])

    def put_episode(self, index: int, start_ns: int, end_ns: int) -> None:
        if self.writable:
            self._st.queue("INSERT OR REPLACE INTO episodes (id, start_ns, end_ns) VALUES (?,?,?)",
                             (index, start_ns, end_ns))

    def add_place_edges(self, rows: List[Tuple[int, int, int, int]]) -> None:
        if self.writable and rows:
            self._st.queue_many("INSERT OR REPLACE INTO place_edges (a, b, first_ns, last_ns) VALUES (?,?,?,?)",
                                  rows)

    def put_rooms(self, rows: List[tuple], room_map: RoomSegmentation) -> None:
        if not self.writable:
            return
        st = self._st
        st.queue_many("INSERT OR REPLACE INTO rooms (room_id, label, confidence, x, y, z, area_m2, first_ns, "
                      "last_ns) VALUES (?,?,?,?,?,?,?,?,?)", rows)
        g = room_map.room_map
        st.queue("INSERT OR REPLACE INTO room_map (id, stamp_ns, rows, cols, resolution_m, origin_x, origin_y, "
                 "data) VALUES (1,?,?,?,?,?,?,?)",
                 (room_map.stamp_ns, g.shape[0], g.shape[1], room_map.resolution_m,
                  room_map.origin_xy_m[0], room_map.origin_xy_m[1], g.tobytes()))

    def put_keyframe(self, jpeg: bytes) -> str:
        """The keyframe's content ref; a writable repository also stores the file (before its row)."""
        if self.writable:
            return self._st.put_keyframe_file(jpeg)
        return keyframe_ref(jpeg)

    def put_view(self, view_id: str, stamp_ns: int, place_id: int, room_id: int, map_T_camera: np.ndarray,
                 intrinsics: np.ndarray, ref: str, jpeg_bytes: int, detected: Sequence[str]) -> None:
        if not self.writable:
            return
        st = self._st
        st.queue("INSERT OR REPLACE INTO views (view_id, stamp_ns, place_id, room_id, pose, intrinsics, "
                 "keyframe_ref, detected) VALUES (?,?,?,?,?,?,?,?)",
                 (view_id, stamp_ns, place_id, room_id, map_T_camera.astype(np.float64).tobytes(),
                  intrinsics.astype(np.float64).tobytes(), ref or None, dumps(list(detected))))
        if ref:
            st.queue("INSERT OR IGNORE INTO keyframes (ref, stamp_ns, place_id, size_bytes) VALUES (?,?,?,?)",
                     (ref, stamp_ns, place_id, jpeg_bytes))

    def add_observations(self, rows: List[tuple]) -> None:
        """rows: (id, stamp, track id or None, canonical class, raw class, score, place, room, view id,
        geom float32[13] bytes, num_points, appearance bytes or None)."""
        if not self.writable:
            return
        st = self._st
        st.queue_many("INSERT INTO observations (id, stamp_ns, object_id, class_id, raw_class_id, score, "
                      "place_id, room_id, view_id, geom, num_points, appearance) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                      [(r[0], r[1], r[2], st.class_id(r[3]), st.class_id(str(r[4]).strip()), *r[5:])
                       for r in rows])

    def add_absences(self, rows: List[Tuple[int, int, int, str, float, float, float]]) -> None:
        if self.writable and rows:
            self._st.queue_many("INSERT INTO absences (id, object_id, stamp_ns, view_id, x, y, z) "
                                  "VALUES (?,?,?,?,?,?,?)", rows)

    def reassign_observations(self, from_track: int, to_track: int) -> None:
        if self.writable:
            self._st.queue("UPDATE observations SET object_id = ? WHERE object_id = ?", (to_track, from_track))

    def reassign_absences(self, from_track: int, to_track: int) -> None:
        if self.writable:
            self._st.queue("UPDATE absences SET object_id = ? WHERE object_id = ?", (to_track, from_track))

    def delete_stays_of(self, track_id: int) -> None:
        if self.writable:
            self._st.queue("DELETE FROM stays WHERE object_id = ?", (track_id,))

    def add_event(self, e: EventRec) -> None:
        if self.writable:
            self._st.queue("INSERT INTO events (id, kind, object_id, stamp_ns, data) VALUES (?,?,?,?,?)",
                             (e.id, e.kind, e.object_id, e.stamp_ns, dumps(e.to_json())))

    def delete_event(self, event_id: int) -> None:
        if self.writable:
            self._st.queue("DELETE FROM events WHERE id = ?", (event_id,))

    # -------------------------------------------------------------------------------- retention
    def retention_done_ns(self) -> int:
        return int(self._st.meta("retention_done_ns", "-1"))

    def stay_keyframes(self) -> Set[str]:
        return {ref for (ref,) in self._st.query("SELECT first_kf FROM stays UNION SELECT last_kf FROM stays")}

    def keyframes_between(self, after_ns: int, until_ns: int) -> List[Tuple[str, int, int]]:
        """(ref, stamp, place) of the unthinned keyframes stamped in (after_ns, until_ns], oldest first."""
        return self._st.query("SELECT ref, stamp_ns, place_id FROM keyframes WHERE thinned = 0 AND stamp_ns > ? "
                                "AND stamp_ns <= ? ORDER BY stamp_ns", (after_ns, until_ns))

    def thin_keyframes(self, refs: List[str], done_ns: int) -> None:
        """Mark keyframes thinned (their files go after the next commit) and remember how far it got."""
        st = self._st
        if refs:
            st.queue_many("UPDATE keyframes SET thinned = 1 WHERE ref = ?", [(r,) for r in refs])
            st.delete_keyframe_files_later(refs)
        st.set_meta("retention_done_ns", done_ns)

    def consolidated_through_ns(self) -> int:
        """Raw observations stamped at or before this were consolidated (-1: none yet)."""
        return int(self._st.meta("consolidated_through_ns", "-1"))

    def oldest_observation_ns(self) -> int:
        rows = self._st.query("SELECT min(stamp_ns) FROM observations")
        return -1 if not rows or rows[0][0] is None else int(rows[0][0])

    def observation_slice(self, after_ns: int, until_ns: int) -> List[Tuple[int, Optional[int], int, int]]:
        """(id, track or None, stamp, place) of the committed observations in (after_ns, until_ns], by track
        and time."""
        return self._st.query("SELECT id, object_id, stamp_ns, place_id FROM observations WHERE stamp_ns > ? "
                              "AND stamp_ns <= ? ORDER BY object_id, stamp_ns, id", (after_ns, until_ns))

    def stay_observations_between(self, after_ns: int, until_ns: int) -> Set[int]:
        """Observation ids cited by stored stays (first / last sighting) of stays touching the window."""
        rows = self._st.query("SELECT first_obs, last_obs FROM stays WHERE end_ns > ? AND start_ns <= ?",
                              (after_ns, until_ns))
        return {int(x) for r in rows for x in r}

    def consolidate(self, delete_ids: Sequence[int], place_days: Sequence[Tuple[int, int, int, int, int, int]],
                    after_ns: int, done_ns: int) -> None:
        """Queue the consolidation of the slice (after_ns, done_ns]: its per-place snapshots (place, day,
        track, first, last, n) merged into ``place_days``, the raw rows ``delete_ids`` deleted, the kept
        rows' appearance vectors dropped (nothing reads them back: tracks carry their own), the slice's
        end remembered."""
        st = self._st
        st.queue("UPDATE observations SET appearance = NULL WHERE stamp_ns > ? AND stamp_ns <= ? AND "
                 "appearance IS NOT NULL", (after_ns, done_ns))
        st.queue_many("INSERT INTO place_days (place_id, day, object_id, first_ns, last_ns, n_obs) "
                      "VALUES (?,?,?,?,?,?) ON CONFLICT (place_id, day, object_id) DO UPDATE SET "
                      "first_ns = min(place_days.first_ns, excluded.first_ns), "
                      "last_ns = max(place_days.last_ns, excluded.last_ns), "
                      "n_obs = place_days.n_obs + excluded.n_obs", place_days)
        st.queue_many("DELETE FROM observations WHERE id = ?", [(int(i),) for i in delete_ids])
        st.set_meta("consolidated_through_ns", done_ns)

    def place_days_of(self, track_id: int, start_ns: Optional[int] = None,
                      end_ns: Optional[int] = None) -> List[Tuple[int, int, int, int, int]]:
        """(place, day, first, last, n) of the track's per-place snapshots overlapping the window."""
        if not self.readable:
            return []
        return self._st.query("SELECT place_id, day, first_ns, last_ns, n_obs FROM place_days WHERE object_id = ? "
                              "AND last_ns >= ? AND first_ns <= ? ORDER BY day, first_ns",
                              (track_id, -1 if start_ns is None else start_ns,
                               2 ** 62 if end_ns is None else end_ns))

    # ------------------------------------------------------------------------------------ reading
    def last_observation_of(self, track_id: int, before_ns: int) -> Optional[Tuple[int, int]]:
        """(observation id, stamp) of the track's last committed observation at or before ``before_ns``."""
        if not self.readable:
            return None
        rows = self._st.query("SELECT id, stamp_ns FROM observations WHERE object_id = ? AND stamp_ns <= ? "
                                "ORDER BY stamp_ns DESC LIMIT 1", (track_id, before_ns))
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    def absences_of(self, track_id: int, since_ns: int) -> List[Tuple[int, str, float, float, float]]:
        """(stamp, view id, x, y, z) of the track's committed absences since ``since_ns``, oldest first."""
        if not self.readable:
            return []
        return self._st.query("SELECT stamp_ns, view_id, x, y, z FROM absences WHERE object_id = ? AND "
                                "stamp_ns >= ? ORDER BY stamp_ns", (track_id, since_ns))

    def observation_rows(self, track_id: Optional[int], start_ns: Optional[int], end_ns: Optional[int],
                         limit: int) -> List[tuple]:
        """(id, stamp, track, class, raw class, score, centroid (3,), place, room, view) oldest first."""
        where, args = ["1=1"], []
        if track_id is not None:
            where.append("object_id = ?")
            args.append(track_id)
        add_stamp_window(where, args, start_ns, end_ns)
        sql = ("SELECT id, stamp_ns, object_id, class_id, raw_class_id, score, geom, place_id, room_id, view_id "
               f"FROM observations WHERE {' AND '.join(where)} ORDER BY stamp_ns, id")
        if limit > 0:
            sql += f" LIMIT {int(limit)}"
        names = self._st.class_names()
        out = []
        for oid, stamp, obj, cid, rid, score, geom, place, room, view in self._st.query(sql, args):
            g = np.frombuffer(geom, np.float32)
            out.append((oid, stamp, obj, names.get(cid, ""), names.get(rid, ""), score, g[:3].astype(float),
                        place, room, view))
        return out

    def count_observations(self, start_ns: Optional[int], end_ns: Optional[int]) -> int:
        return int(self._st.query("SELECT count(*) FROM observations WHERE stamp_ns >= ? AND stamp_ns <= ?",
                                    (-1 if start_ns is None else start_ns,
                                     2 ** 62 if end_ns is None else end_ns))[0][0])

    def has_frame_at(self, stamp_ns: int) -> bool:
        """Whether the store holds observations or a view stamped exactly ``stamp_ns`` (a stored frame)."""
        return bool(self._st.query("SELECT EXISTS (SELECT 1 FROM observations WHERE stamp_ns = ?) OR "
                                   "EXISTS (SELECT 1 FROM views WHERE stamp_ns = ?)", (int(stamp_ns),) * 2)[0][0])

    def view_keyframe(self, view_id: str) -> str:
        """The unthinned keyframe ref of a stored view ("" if none)."""
        if not self.readable:
            return ""
        rows = self._st.query("SELECT v.keyframe_ref FROM views v JOIN keyframes k ON k.ref = v.keyframe_ref "
                                "WHERE v.view_id = ? AND k.thinned = 0", (view_id,))
        return rows[0][0] if rows and rows[0][0] else ""

    def view_poses(self, start_ns: Optional[int], end_ns: Optional[int], newest_first: bool = False,
                   limit: int = 0, below: Optional[Tuple[int, str]] = None) -> List[tuple]:
        """(stamp, view id, place, room at ingest, x, y, z (m), yaw (rad), unthinned keyframe ref or "") of the
        stored views stamped in [start_ns, end_ns] (None = open), ordered by (stamp, view id), newest first
        if asked; ``below`` (stamp, view id) keeps only keys under it (paging newest first); ``limit`` > 0
        caps the rows. The robot's pose trail: every view's camera pose is stored with it."""
        if not self.readable:
            return []
        where: List[str] = ["1=1"]
        args: List[object] = []
        add_stamp_window(where, args, start_ns, end_ns)
        if below is not None:
            where.append("(stamp_ns < ? OR (stamp_ns = ? AND view_id < ?))")
            args += [int(below[0]), int(below[0]), str(below[1])]
        order = "DESC" if newest_first else "ASC"
        views = (f"SELECT stamp_ns, view_id, place_id, room_id, pose, keyframe_ref FROM views "
                 f"WHERE {' AND '.join(where)} ORDER BY stamp_ns {order}, view_id {order}"
                 + (f" LIMIT {int(limit)}" if limit > 0 else ""))
        sql = (f"SELECT v.stamp_ns, v.view_id, v.place_id, v.room_id, v.pose, coalesce(k.ref, '') FROM ({views}) v "
               "LEFT JOIN keyframes k ON k.ref = v.keyframe_ref AND k.thinned = 0 "
               f"ORDER BY v.stamp_ns {order}, v.view_id {order}")
        out = []
        for stamp, view, place, room, pose, ref in self._st.query(sql, args):
            T = np.frombuffer(bytes(pose), np.float64)
            if T.size != 16 or not np.all(np.isfinite(T)):
                continue            # a damaged row is no pose
            T = T.reshape(4, 4)
            out.append((int(stamp), str(view), int(place), int(room), float(T[0, 3]), float(T[1, 3]),
                        float(T[2, 3]), camera_heading_rad(T), str(ref)))
        return out

    def keyframe(self, ref: str) -> Optional[bytes]:
        return None if self.store is None else self._st.read_keyframe(ref)

