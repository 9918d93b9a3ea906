"""Forget: the one exception to "observations are never altered" — an explicit user request.

Deletes the selected observations, the keyframes that show them (files too), and everything derived
from them (stays are recomputed from what remains, events citing them and absences are dropped, objects
with nothing left disappear, the per-place snapshots consolidation kept of them go too). SQLite's
secure_delete zeroes freed pages and the WAL is truncated, so the data is gone from the files as well.
Only the fact that a deletion happened (when, how many) is kept, and the deleted ids (``forgotten_obs``)
for a fleet shipper, which deletes the copies it shipped to the fleet server (repository/fleet.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Set, Tuple

import numpy as np

from ...common.errors import InputError
from ..records import parse_object_id
from .store import Store, add_stamp_window, dumps


@dataclass
class ForgetResult:
    observations_deleted: int
    keyframes_deleted: int
    objects_deleted: int


def _in(col: str, values: Sequence) -> Tuple[str, List]:
    if not values:
        return "1=0", []          # (not "0": PostgreSQL wants a boolean)
    return f"{col} IN ({','.join('?' * len(values))})", list(values)


def run_forget(st: Store, class_matches: Callable[[str], bool], object_id: str, class_name: str, room_id: int,
               start_ns: Optional[int], end_ns: Optional[int], stamp_ns: int) -> ForgetResult:
    """Delete what the criteria select (all of them must hold) in one transaction. ``class_matches(name)``
    says whether a stored class name falls under ``class_name`` (the vocabulary decides, not SQL)."""
    conn = st.connection
    where: List[str] = []
    args: List = []
    if object_id:
        oid = parse_object_id(object_id)
        if oid is None:
            raise InputError("bad_forget", f"not an object id: {object_id!r}")
        where.append("object_id = ?")
        args.append(oid)
    if class_name:
        names = st.class_names()
        cids = [cid for cid, n in names.items() if class_matches(n)]
        c_sql, c_args = _in("class_id", cids)
        t_sql, t_args = _in("class_id", cids)
        where.append(f"({c_sql} OR object_id IN (SELECT id FROM tracks WHERE {t_sql}))")
        args += c_args + t_args
    if room_id is not None and room_id >= 0:
        where.append("room_id = ?")
        args.append(int(room_id))
    add_stamp_window(where, args, start_ns, end_ns)
    cond = " AND ".join(where)
    by_subject = bool(object_id or class_name)

    obs_rows = conn.execute(f"SELECT id, object_id, view_id FROM observations WHERE {cond}", args).fetchall()
    deleted_obs: Set[int] = {r[0] for r in obs_rows}
    tracks: Set[int] = {r[1] for r in obs_rows if r[1] is not None}
    view_ids: Set[str] = {r[2] for r in obs_rows if r[2]}
    whole_views: List[str] = []
    if not by_subject:
        v_where: List[str] = []
        v_args: List = []
        if room_id is not None and room_id >= 0:
            v_where.append("room_id = ?")
            v_args.append(int(room_id))
        add_stamp_window(v_where, v_args, start_ns, end_ns)
        whole_views = [r[0] for r in conn.execute(
            f"SELECT view_id FROM views WHERE {' AND '.join(v_where) or '1=1'}", v_args)]
        view_ids.update(whole_views)
    refs: Set[str] = set()
    vlist = sorted(view_ids)
    for i in range(0, len(vlist), 500):
        chunk = vlist[i:i + 500]
        q, a = _in("view_id", chunk)
        refs.update(r[0] for r in conn.execute(f"SELECT keyframe_ref FROM views WHERE {q} AND keyframe_ref "
                                               "IS NOT NULL", a))
    n_kf = 0
    st.secure_delete(True)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"DELETE FROM observations WHERE {cond}", args)
        for i in range(0, len(whole_views), 500):
            q, a = _in("view_id", whole_views[i:i + 500])
            conn.execute(f"DELETE FROM views WHERE {q}", a)
        rlist = sorted(refs)
        for i in range(0, len(rlist), 500):
            q, a = _in("ref", rlist[i:i + 500])
            n_kf += conn.execute(f"SELECT count(*) FROM keyframes WHERE {q} AND thinned = 0", a).fetchone()[0]
            conn.execute(f"DELETE FROM keyframes WHERE {q}", a)
            conn.execute(f"UPDATE views SET keyframe_ref = NULL WHERE {_in('keyframe_ref', rlist[i:i + 500])[0]}", a)
            conn.executemany("INSERT OR IGNORE INTO pending_file_deletes (ref) VALUES (?)",
                             [(r,) for r in rlist[i:i + 500]])
        if not by_subject:
            # whatever was derived from the forgotten views: absences seen in them, events dated in the window
            for i in range(0, len(whole_views), 500):
                q, a = _in("view_id", whole_views[i:i + 500])
                conn.execute(f"DELETE FROM absences WHERE {q}", a)
            if start_ns is not None or end_ns is not None:
                conn.execute("DELETE FROM events WHERE stamp_ns >= ? AND stamp_ns <= ?",
                             (-1 if start_ns is None else int(start_ns), 2 ** 62 if end_ns is None else int(end_ns)))
        _forget_place_days(conn, tracks, by_subject, room_id, start_ns, end_ns)
        objects_deleted = 0
        for tid in sorted(tracks):
            objects_deleted += _rebuild_track(conn, tid, deleted_obs, refs, start_ns, end_ns, by_subject)
        _strip_refs(conn, refs, deleted_obs)
        # class names nothing refers to any more would still tell what was there
        conn.execute("DELETE FROM classes WHERE id NOT IN (SELECT class_id FROM observations UNION "
                     "SELECT raw_class_id FROM observations UNION SELECT class_id FROM tracks)")
        conn.execute("DELETE FROM meta WHERE key = 'observations_count'")     # counted at the reload
        conn.execute("INSERT INTO forgets (stamp_ns, observations, keyframes) VALUES (?,?,?)",
                     (int(stamp_ns), len(deleted_obs), n_kf))
        # the ids (only) for a fleet shipper: the copies it shipped go from the server too (repository/fleet.py)
        seq0 = int(conn.execute("SELECT coalesce(max(seq), 0) FROM forgotten_obs").fetchone()[0])
        conn.executemany("INSERT INTO forgotten_obs (seq, obs_id) VALUES (?,?)",
                         [(seq0 + k + 1, o) for k, o in enumerate(sorted(deleted_obs))])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        st.secure_delete(False)
    st.finish_file_deletes()
    st.checkpoint(truncate=True)
    st.reload_classes()
    st.drop_meta("observations_count")
    return ForgetResult(len(deleted_obs), n_kf, objects_deleted)


def _forget_place_days(conn, tracks: Set[int], by_subject: bool, room_id: int, start_ns: Optional[int],
                       end_ns: Optional[int]) -> None:
    """The per-place snapshots consolidation kept of what is forgotten: those of every object that lost
    observations (and, without a subject, of every object), within the window and the room's places.
    (A summary is never split: one overlapping the window goes whole.)"""
    where: List[str] = ["last_ns >= ?", "first_ns <= ?"]
    args: List = [-1 if start_ns is None else int(start_ns), 2 ** 62 if end_ns is None else int(end_ns)]
    if room_id is not None and room_id >= 0:
        where.append("place_id IN (SELECT place_id FROM places WHERE room_id = ?)")
        args.append(int(room_id))
    if not by_subject:
        conn.execute(f"DELETE FROM place_days WHERE {' AND '.join(where)}", args)
        return
    for tid in sorted(tracks):
        conn.execute(f"DELETE FROM place_days WHERE object_id = ? AND {' AND '.join(where)}", [tid] + args)


def _kf_of_obs(conn, obs_id: int, refs: Set[str]) -> str:
    row = conn.execute("SELECT v.keyframe_ref FROM observations o JOIN views v ON v.view_id = o.view_id "
                       "WHERE o.id = ?", (obs_id,)).fetchone()
    ref = row[0] if row and row[0] else ""
    return "" if ref in refs else ref


def _rebuild_track(conn, tid: int, deleted_obs: Set[int], refs: Set[str], start_ns: Optional[int],
                   end_ns: Optional[int], by_subject: bool) -> int:
    """Recompute a track's derived rows from its remaining observations; 1 if nothing remained."""
    left = conn.execute("SELECT count(*), min(stamp_ns), max(stamp_ns) FROM observations WHERE object_id = ?",
                        (tid,)).fetchone()
    if left[0] == 0:
        for table, col in (("tracks", "id"), ("stays", "object_id"), ("events", "object_id"),
                           ("absences", "object_id"), ("place_days", "object_id")):
            conn.execute(f"DELETE FROM {table} WHERE {col} = ?", (tid,))
        return 1
    for sid, s0, s1 in conn.execute("SELECT id, start_ns, end_ns FROM stays WHERE object_id = ?", (tid,)).fetchall():
        rows = conn.execute("SELECT id, stamp_ns, geom FROM observations WHERE object_id = ? AND stamp_ns >= ? "
                            "AND stamp_ns <= ? ORDER BY stamp_ns, id", (tid, s0, s1)).fetchall()
        if not rows:
            conn.execute("DELETE FROM stays WHERE id = ?", (sid,))
            continue
        groups = [rows]
        if start_ns is not None or end_ns is not None:
            # no stay may span a forgotten window: split it into the parts before and after
            lo = -1 if start_ns is None else start_ns
            before = [r for r in rows if r[1] < lo]
            after = [r for r in rows if r[1] >= lo]
            groups = [g for g in (before, after) if g]
        for k, grp in enumerate(groups):
            pos = np.mean([np.frombuffer(g, np.float32)[:3] for _, _, g in grp], axis=0).astype(float)
            vals = (grp[0][1], grp[-1][1], float(pos[0]), float(pos[1]), float(pos[2]), grp[0][0], grp[-1][0],
                    _kf_of_obs(conn, grp[0][0], refs), _kf_of_obs(conn, grp[-1][0], refs), len(grp))
            if k == 0:
                conn.execute("UPDATE stays SET start_ns = ?, end_ns = ?, x = ?, y = ?, z = ?, first_obs = ?, "
                             "last_obs = ?, first_kf = ?, last_kf = ?, n_obs = ? WHERE id = ?", vals + (sid,))
            else:
                place, room = conn.execute("SELECT place_id, room_id FROM stays WHERE id = ?", (sid,)).fetchone()
                new_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM stays").fetchone()[0]
                conn.execute("INSERT INTO stays (id, object_id, start_ns, end_ns, x, y, z, place_id, room_id, "
                             "first_obs, last_obs, first_kf, last_kf, n_obs) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             (new_id, tid, vals[0], vals[1], vals[2], vals[3], vals[4], place, room) + vals[5:])
    events = conn.execute("SELECT id, stamp_ns, data FROM events WHERE object_id = ?", (tid,)).fetchall()
    for eid, stamp, data in events:
        d = json.loads(data)
        cited = set(int(x) for x in d.get("ev", {}).get("obs", []))
        in_window = ((start_ns is None or stamp >= start_ns) and (end_ns is None or stamp <= end_ns))
        if cited & deleted_obs or (in_window and not by_subject):
            conn.execute("DELETE FROM events WHERE id = ?", (eid,))
    a_where, a_args = ["object_id = ?"], [tid]
    add_stamp_window(a_where, a_args, start_ns, end_ns)
    conn.execute(f"DELETE FROM absences WHERE {' AND '.join(a_where)}", a_args)
    # the track's own summary follows its remaining stays
    row = conn.execute("SELECT data FROM tracks WHERE id = ?", (tid,)).fetchone()
    last = conn.execute("SELECT x, y, z FROM stays WHERE object_id = ? ORDER BY start_ns DESC LIMIT 1",
                        (tid,)).fetchone()
    if row is not None:
        d = json.loads(row[0])
        if last is not None:
            d["pos"] = [float(v) for v in last]
        d["absv"], d["abst"], d["abs"] = [], [], 0
        conn.execute("UPDATE tracks SET first_seen_ns = ?, last_seen_ns = ?, data = ? WHERE id = ?",
                     (left[1], left[2], dumps(d), tid))
    if last is None:
        for table, col in (("tracks", "id"), ("events", "object_id"), ("absences", "object_id"),
                           ("place_days", "object_id")):
            conn.execute(f"DELETE FROM {table} WHERE {col} = ?", (tid,))
        return 1
    return 0


def _strip_refs(conn, refs: Set[str], deleted_obs: Set[int]) -> None:
    """No evidence anywhere may point at what was deleted."""
    if not refs and not deleted_obs:
        return
    rlist = sorted(refs)
    for i in range(0, len(rlist), 500):
        chunk = rlist[i:i + 500]
        q, a = _in("first_kf", chunk)
        conn.execute(f"UPDATE stays SET first_kf = '' WHERE {q}", a)
        q, a = _in("last_kf", chunk)
        conn.execute(f"UPDATE stays SET last_kf = '' WHERE {q}", a)
    for eid, data in conn.execute("SELECT id, data FROM events").fetchall():
        d = json.loads(data)
        ev = d.get("ev", {})
        kf = [k for k in ev.get("kf", []) if k not in refs]
        obs = [o for o in ev.get("obs", []) if int(o) not in deleted_obs]
        if kf != ev.get("kf", []) or obs != ev.get("obs", []):
            ev["kf"], ev["obs"] = kf, obs
            d["ev"] = ev
            conn.execute("UPDATE events SET data = ? WHERE id = ?", (dumps(d), eid))
