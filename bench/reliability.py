"""Reliability bench: faults and bad input against the real code; nothing lost, nothing changed, nothing down.

    .venv/bin/python -m bench.reliability [--quick] [--json PATH] [--kills N]

Probes (each can fail; the figures count failures, never "passed" flags):
  kills        a forked writer (MemoryCore over a real store, synthetic patrol frames, commit every 5 frames)
               SIGKILLed at a random moment, N times over one store; after each kill the store is reopened
               (reopen_s), integrity-checked every 10th time (integrity_failures) and every observation and
               view stamped at or before the last acknowledged ingested_through is compared with an
               uninterrupted reference run (acked_lost).
  corrupt      a valid store damaged in corrupt_cases ways (WAL and rollback-journal stores): each must be
               refused with one StoreError naming the file (corrupt_unclear_errors counts anything else:
               accepted, another exception, no path, lock left held) and with the file, -wal and -journal
               bytes unchanged (sha256: corrupt_bytes_changed).
  malformed    the memory node in-process (rclpy, lifecycle configured + active over a real store), its
               subscription callbacks fed malformed_cases mutated messages built from real frames (the
               conversion boundary and the core): node_deaths (an exception escaping a callback),
               malformed_silent (a case with no bad-input count), bad_rows_stored (rows in the store that
               fail the validation rules or repeat a frame), watermark_pinned (a frame from 2033 moved
               ingested_through), services_unanswered / services_wrong_code (bad Recall / Forget requests
               must come back BAD_REQUEST).
  disk_full    SQLite made full (PRAGMA max_page_count at the current size: a genuine SQLITE_FULL) and every
               keyframe write failing with ENOSPC (a hook on the store's file write: no root tmpfs needed);
               ingest goes on, the writer is killed (forked) or space returns: disk_full_acked_lost.
  clock_jump   the perception synchronizer and tf buffer fed a stream with a 2033 frame, a stamp-0 frame and
               a sustained jump back: clock_jump_frames_lost_silently counts frames neither synchronized nor
               reported, plus a tf look-up the 2033 sample broke.
  services     the memory and planner nodes in their own processes (ROS_DOMAIN_ID 105), frames fed meanwhile:
               bursts of 20 concurrent Asks and 30 concurrent Recalls (``bursts``: 1 quick, 10 full) must all be
               answered (an answer or BUSY; services_unanswered counts the silent ones, with the malformed
               probe's), ask_concurrent_p95_ms / recall_concurrent_p95_ms (send -> reply seen), ask_busy; bad Ask
               fields (NaN budget_m, reversed window, ...) must come back BAD_REQUEST naming the field
               (services_wrong_code).
  fuzz         tests/test_reliability_fuzz.py (hypothesis, strategies from the rosidl types, the memory and
               perception nodes' callbacks in-process) with RELIABILITY_FUZZ_EXAMPLES per target (10,000 full;
               quick only with --fuzz-examples: the test suite runs 200): fuzz_failures counts failing targets
               (an exception escaping a callback, an UNKNOWN service reply, an invalid row stored).
  node_kills   the memory node process (ROS_DOMAIN_ID 106) SIGKILLed mid-ingest (frames published every 10 ms
               through the perception node's publish_frame, killed 0.3-1.2 s in, 0.1 s more of frames while it
               is down), restarted, configured and activated, ``trials`` times (2 quick, 1000 full); perception
               resends what memory did not acknowledge: node_kill_watermark_behind counts restarts whose store
               watermark is behind the last memory/ingested_through heard; node_kill_acked_lost the observations
               and views acknowledged (stamped at or before that) missing against an uninterrupted reference;
               node_kill_sent_lost / node_kill_sent_duplicated those of every frame sent missing / stored twice
               (node_kill_resent, node_kill_dropped_unacknowledged: perception's resend ring; frames offered
               while the ring is full are refused, not sent: node_kill_refused_memory_behind, out of
               node_kill_offered_frames, and the sender sees them rejected by frame_ack). Each next memory
               process boots ahead (up to 3 at once) while the previous one ingests: node_kill_restart_s_max is
               configure + activate, and what is left of the boot.
"""
from __future__ import annotations

import argparse
import copy
import errno
import hashlib
import json
import math
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from memory_nodes.common.errors import StoreError
from memory_nodes.memory import MemoryConfig, MemoryCore
from memory_nodes.memory.config import StoreConfig
from memory_nodes.memory.synthetic import SynthConfig, SyntheticHousehold
from memory_nodes.memory.validate import MAX_COORD_M, MAX_NAME_CHARS
from memory_nodes.vocab import default_vocabulary

Y2033_NS = 1_988_000_000 * 1_000_000_000


def _cfg(path: str, every: int = 5) -> MemoryConfig:
    c = MemoryConfig()
    c.store = StoreConfig(path=path, commit_every_frames=every, fsync_keyframes=False, synchronous="NORMAL")
    return c


def _frames(n: int, seed: int = 3) -> List[Any]:
    world = SyntheticHousehold(SynthConfig(seed=seed, n_rooms=2, jpeg_bytes=300))
    out: List[Any] = []
    d = 0
    while len(out) < n:
        out += [f.out for f in world.day(d)]
        d += 1
    return out[:n]


def _counts(path: str) -> Tuple[Dict[int, int], Dict[int, int]]:
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        obs = dict(c.execute("SELECT stamp_ns, count(*) FROM observations GROUP BY stamp_ns").fetchall())
        views = dict(c.execute("SELECT stamp_ns, count(*) FROM views GROUP BY stamp_ns").fetchall())
    finally:
        c.close()
    return obs, views


# ------------------------------------------------------------------------------------------ kills
def _writer(path: str, frames: List[Any], wfd: int) -> None:
    """The forked writer: resume after the store's watermark, ack every commit on the pipe."""
    vocab = default_vocabulary()
    mem = MemoryCore.open(path, _cfg(path), vocab)
    w = mem.ingested_through_ns
    for f in frames:
        if f.stamp_ns <= w:
            continue
        through = mem.ingest(f)
        if through is not None:
            os.write(wfd, f"{through}\n".encode())
    through = mem.commit()
    os.write(wfd, f"{through}\n".encode())
    os._exit(0)


def _read_acks(rfd: int) -> List[int]:
    data = b""
    while True:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        data += chunk
    return [int(x) for x in data.decode().split("\n") if x.strip()]


def probe_kills(work: Path, trials: int, rng: random.Random) -> Dict[str, Any]:
    frames = _frames(110 * trials)
    path = str(work / "kill.db")
    max_ack, reopen, integrity_failures, done = -1, [], 0, 0
    for i in range(trials):
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            try:
                _writer(path, frames, wfd)
            finally:
                os._exit(1)
        os.close(wfd)
        time.sleep(rng.uniform(0.01, 0.15))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        acks = _read_acks(rfd)
        os.close(rfd)
        if acks:
            max_ack = max(max_ack, max(acks))
        t0 = time.perf_counter()
        try:
            mem = MemoryCore.open(path, _cfg(path), default_vocabulary())
        except StoreError:
            integrity_failures += 1
            continue
        reopen.append(time.perf_counter() - t0)
        if i % 10 == 0 and mem.store is not None and mem.store.integrity_check() != "ok":
            integrity_failures += 1
        if mem.ingested_through_ns < max_ack:
            integrity_failures += 1              # the store's watermark is behind an acknowledgement
        mem.close()
        done += 1
        if max_ack >= frames[-1].stamp_ns:
            break
    lost, ro = _acked_lost(frames, max_ack, path, str(work / "ref.db"))
    return {"kill_trials": done, "acked_lost": lost, "integrity_failures": integrity_failures,
            "reopen_s_max": max(reopen) if reopen else float("inf"),
            "acked_observations": sum(n for t, n in ro.items() if t <= max_ack)}


def _acked_lost(frames, max_ack: int, path: str, ref_path: str):
    """Rows (observations, views) acknowledged (stamp <= max_ack) that an uninterrupted reference run over the
    same frames stored and ``path`` lacks; and the reference's observations per stamp."""
    ref = MemoryCore.open(ref_path, _cfg(ref_path), default_vocabulary())
    for f in frames:
        if f.stamp_ns > max_ack:
            break
        ref.ingest(f)
    ref.close()
    ro, rv = _counts(ref_path)
    go, gv = _counts(path)
    lost = sum(max(0, n - go.get(t, 0)) for t, n in ro.items() if t <= max_ack)
    lost += sum(max(0, n - gv.get(t, 0)) for t, n in rv.items() if t <= max_ack)
    return lost, ro


# ---------------------------------------------------------------------------------------- corrupt
def _sha(path: Path) -> str:
    h = hashlib.sha256()
    for suffix in ("", "-wal", "-journal"):
        p = Path(f"{path}{suffix}")
        h.update(suffix.encode() + (p.read_bytes() if p.is_file() else b"<none>"))
    return h.hexdigest()


def _sql(p: Path, *stmts: str) -> None:
    c = sqlite3.connect(p, isolation_level=None)
    for s in stmts:
        c.execute(s)
    c.close()


def _garble(p: Path, start: int, n: int) -> None:
    data = bytearray(p.read_bytes())
    data[start:start + n] = bytes((b * 7 + 13) & 0xFF for b in range(min(n, len(data) - start)))
    p.write_bytes(bytes(data))


def _rollback(p: Path) -> None:
    _sql(p, "PRAGMA journal_mode=DELETE")


def _page_of(p: Path, table: str) -> int:
    c = sqlite3.connect(p)
    try:
        return int(c.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0])
    finally:
        c.close()


def _wal_bad_meta(p: Path) -> None:
    """A WAL store whose last (uncheckpointed) commit wrote a bad meta value: -wal copied while open."""
    c = sqlite3.connect(p, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA wal_autocheckpoint=0")
    c.execute("UPDATE meta SET value = 'garbage' WHERE key = 'ingested_through_ns'")
    shutil.copy(p, f"{p}.x")
    shutil.copy(f"{p}-wal", f"{p}.x-wal")
    c.close()
    os.replace(f"{p}.x", p)
    os.replace(f"{p}.x-wal", f"{p}-wal")
    Path(f"{p}-shm").unlink(missing_ok=True)


def corrupt_kinds() -> List[Tuple[str, Callable[[Path], None]]]:
    page = 4096
    return [
        ("text", lambda p: p.write_text("shopping list\n" * 50)),
        ("short", lambda p: p.write_bytes(b"SQLite format 3\x00abc")),
        ("zero_bytes", lambda p: p.write_bytes(b"")),
        ("foreign_db", lambda p: (p.unlink(), _sql(p, "CREATE TABLE invoices (id INTEGER, amount REAL)",
                                                   "INSERT INTO invoices VALUES (1, 12.5)"))),
        ("newer_version", lambda p: _sql(p, "PRAGMA user_version=99")),
        ("negative_version", lambda p: _sql(p, "PRAGMA user_version=-3")),
        ("wrong_application_id", lambda p: _sql(p, "PRAGMA application_id=7")),
        ("garbage_pages", lambda p: (_rollback(p), _garble(p, 100, p.stat().st_size))),
        ("garbled_table_page", lambda p: (_rollback(p), _garble(p, (_page_of(p, "observations") - 1) * page + 8,
                                                                  600))),
        ("garbled_index_page", lambda p: (_rollback(p), _garble(p, (_page_of(p, "observations_stamp") - 1) * page
                                                                  + 8, 600))),
        ("truncated_half", lambda p: (_rollback(p), os.truncate(p, p.stat().st_size // 2))),
        ("bad_meta_value", lambda p: _sql(p, "UPDATE meta SET value = 'abc' WHERE key = 'ingested_through_ns'")),
        ("bad_track_json", lambda p: _sql(p, "UPDATE tracks SET data = '{not json' WHERE id = "
                                             "(SELECT min(id) FROM tracks)")),
        ("bad_track_fields", lambda p: _sql(p, "UPDATE tracks SET data = '{\"x\": 1}' WHERE id = "
                                               "(SELECT min(id) FROM tracks)")),
        ("rollback_journal_bad_meta", lambda p: (_rollback(p), _sql(
            p, "UPDATE meta SET value = 'x' WHERE key = 'last_retention_ns'"))),
        ("rollback_journal_bad_track", lambda p: (_rollback(p), _sql(
            p, "UPDATE tracks SET data = '[' WHERE id = (SELECT min(id) FROM tracks)"))),
        ("wal_uncheckpointed_bad_meta", _wal_bad_meta),
        ("directory", lambda p: (p.unlink(), p.mkdir())),
    ]


def probe_corrupt(work: Path) -> Dict[str, Any]:
    base = work / "base.db"
    mem = MemoryCore.open(str(base), _cfg(str(base)), default_vocabulary())
    for f in _frames(200, seed=5):
        mem.ingest(f)
    mem.close()
    changed, unclear, cases, detail = 0, 0, 0, {}
    for name, make in corrupt_kinds():
        d = work / f"c_{name}"
        d.mkdir()
        p = d / "m.db"
        shutil.copy(base, p)
        make(p)
        before = _sha(p) if p.is_file() else "dir"
        cases += 1
        verdict = "ok"
        try:
            m = MemoryCore.open(str(p), _cfg(str(p)), default_vocabulary())
            m.close()
            verdict = "accepted"
        except StoreError as e:
            if str(p) not in str(e):
                verdict = "no path in the error"
        except Exception as e:                   # an unclear error: the probe's point
            verdict = f"{type(e).__name__}: {e}"
        lock = Path(f"{p}.lock")
        if lock.exists():
            import fcntl
            fd = os.open(str(lock), os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                verdict = "lock left held"
            finally:
                os.close(fd)
        if verdict != "ok":
            unclear += 1
        after = _sha(p) if p.is_file() else "dir"
        if after != before:
            changed += 1
            verdict += " (bytes changed)"
        detail[name] = verdict
    return {"corrupt_cases": cases, "corrupt_bytes_changed": changed, "corrupt_unclear_errors": unclear,
            "corrupt_detail": detail}


# -------------------------------------------------------------------------------------- disk full
def _full_child(path: str, frames: List[Any], wfd: int, space_returns: bool) -> None:
    mem = MemoryCore.open(path, _cfg(path), default_vocabulary())
    half = len(frames) // 3
    for f in frames[:half]:
        t = mem.ingest(f)
        if t is not None:
            os.write(wfd, f"{t}\n".encode())
    st = mem.store
    assert st is not None
    pages = st.connection.execute("PRAGMA page_count").fetchone()[0]
    st.connection.execute(f"PRAGMA max_page_count={pages}")
    real_write = st._write_file

    def enospc(ref: str, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device (injected)")
    st._write_file = enospc          # type: ignore[method-assign]
    faults = 0
    for f in frames[half:2 * half]:
        t = mem.ingest(f)
        faults += int(mem.store_fault is not None)
        if t is not None:
            os.write(wfd, f"{t}\n".encode())
    os.write(wfd, f"F{faults}\n".encode())
    if space_returns:
        st.connection.execute("PRAGMA max_page_count=1073741823")
        st._write_file = real_write  # type: ignore[method-assign]
        for f in frames[2 * half:]:
            t = mem.ingest(f)
            if t is not None:
                os.write(wfd, f"{t}\n".encode())
        os.write(wfd, f"{mem.commit()}\n".encode())
    os._exit(0)                      # no close: a crash


def probe_disk_full(work: Path) -> Dict[str, Any]:
    frames = _frames(300, seed=7)
    lost, faults_seen, acks_during = 0, 0, 0
    for space_returns in (False, True):
        path = str(work / f"full_{int(space_returns)}.db")
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            try:
                _full_child(path, frames, wfd, space_returns)
            finally:
                os._exit(1)
        os.close(wfd)
        lines = []
        data = b""
        while True:
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            data += chunk
        os.close(rfd)
        os.waitpid(pid, 0)
        lines = [x for x in data.decode().split("\n") if x]
        faults_seen += sum(int(x[1:]) for x in lines if x.startswith("F"))
        acks = [int(x) for x in lines if not x.startswith("F")]
        w = max(acks) if acks else -1
        ref_path = str(work / f"full_ref_{int(space_returns)}.db")
        ref = MemoryCore.open(ref_path, _cfg(ref_path), default_vocabulary())
        for f in frames:
            if f.stamp_ns > w:
                break
            ref.ingest(f)
        ref.close()
        ro, rv = _counts(ref_path)
        go, gv = _counts(path)
        lost += sum(max(0, n - go.get(t, 0)) for t, n in ro.items() if t <= w)
        lost += sum(max(0, n - gv.get(t, 0)) for t, n in rv.items() if t <= w)
        mem = MemoryCore.open(path, _cfg(path), default_vocabulary())
        st = mem.store
        assert st is not None
        tmp_left = len(list(st.keyframe_dir.glob("*/*.tmp*"))) if st.keyframe_dir.is_dir() else 0
        missing_files = sum(1 for (r,) in st.query("SELECT ref FROM keyframes WHERE thinned = 0")
                            if st.read_keyframe(r) is None)
        mem.close()
        lost += missing_files + tmp_left
        acks_during += len(acks)
    return {"disk_full_acked_lost": lost, "disk_full_faults_seen": faults_seen,
            "disk_full_simulation": "SQLITE_FULL via PRAGMA max_page_count + ENOSPC hook on keyframe writes"}


# -------------------------------------------------------------------------------------- clock jump
def probe_clock_jump() -> Dict[str, Any]:
    from memory_nodes.perception.sync import ApproxTimeSync
    from memory_nodes.perception.tf_buffer import TransformBuffer
    sync = ApproxTimeSync(3, 20_000_000, 10)
    base = 1_700_000_000 * 10 ** 9
    stamps = [base + i * 100_000_000 for i in range(40)]
    stamps.insert(20, Y2033_NS)                                  # one frame from 2033
    back = base - 3600 * 10 ** 9
    stamps += [back + i * 100_000_000 for i in range(40)]        # the clock jumps back an hour, stays there
    emitted, reported = set(), set()
    for i, t in enumerate(stamps):
        for k in range(3):
            for s in sync.add(k, t, (i, k)):
                emitted.add(s[0][0])
            if any(cause != "new_time_base" for cause, _ in sync.take_events()):
                reported.add(i)              # this frame's message was refused, with a reason
    # every frame either went out or was reported
    lost = len(set(range(len(stamps))) - emitted - reported)
    tf = TransformBuffer(cache_time_ns=10 * 10 ** 9)
    T = np.eye(4)
    for i in range(50):
        tf.set_transform("map", "base", T, base + i * 100_000_000)
    try:
        tf.set_transform("map", "base", T, Y2033_NS)
    except Exception:
        pass
    tf_ok = tf.can_transform("map", "base", base + 49 * 100_000_000)
    return {"clock_jump_frames_lost_silently": lost + (0 if tf_ok else 1), "clock_jump_frames": len(stamps),
            "clock_jump_emitted": len(emitted), "clock_jump_reported": dict(sync.rejected)}


# -------------------------------------------------------------------------------------- malformed
def _mutations(good: Any, view_msg: Any) -> List[Tuple[str, str, Callable[[Any], None]]]:
    """(topic, name, mutate) over a deep copy of a good FrameObservations / PlaceGraph / RoomSegmentation."""
    nan, inf = float("nan"), float("inf")

    def obs(field: str, value: Any) -> Callable[[Any], None]:
        def f(m: Any) -> None:
            o = m.observations[0]
            cur: Any = o
            parts = field.split(".")
            for p in parts[:-1]:
                cur = getattr(cur, p)
            setattr(cur, parts[-1], value)
        return f

    def view(field: str, value: Any) -> Callable[[Any], None]:
        def f(m: Any) -> None:
            if not m.view:
                m.view = [copy.deepcopy(view_msg)]
            cur: Any = m.view[0]
            parts = field.split(".")
            for p in parts[:-1]:
                cur = getattr(cur, p)
            setattr(cur, parts[-1], value)
        return f

    cases: List[Tuple[str, str, Callable[[Any], None]]] = []
    for axis in ("x", "y", "z"):
        cases += [("frames", f"centroid.{axis}=nan", obs(f"centroid.{axis}", nan)),
                  ("frames", f"centroid.{axis}=1e30", obs(f"centroid.{axis}", 1e30))]
    cases += [
        ("frames", "centroid=inf", obs("centroid.x", inf)),
        ("frames", "bbox_min=nan", obs("bbox_min.x", nan)),
        ("frames", "bbox inverted", lambda m: (setattr(m.observations[0].bbox_min, "x", 5.0),
                                               setattr(m.observations[0].bbox_max, "x", -5.0))),
        ("frames", "bbox_max=-inf", obs("bbox_max.z", -inf)),
        ("frames", "score=nan", obs("score", nan)),
        ("frames", "score=-1", obs("score", -1.0)),
        ("frames", "score=7", obs("score", 7.0)),
        ("frames", "distance=nan", obs("distance_m", nan)),
        ("frames", "distance=-3", obs("distance_m", -3.0)),
        ("frames", "distance=inf", obs("distance_m", inf)),
        ("frames", "distance=1e9", obs("distance_m", 1e9)),
        ("frames", "color=nan", obs("color_rgb", [nan, 0.5, 0.5])),
        ("frames", "color=-0.5", obs("color_rgb", [-0.5, 0.5, 0.5])),
        ("frames", "color=3", obs("color_rgb", [3.0, 0.5, 0.5])),
        ("frames", "class empty", obs("class_name", "")),
        ("frames", "class 200k", obs("class_name", "mug" * 70000)),
        ("frames", "class control chars", obs("class_name", "mu\x00g\x07")),
        ("frames", "class newline", obs("class_name", "mug\nDROP TABLE")),
        ("frames", "appearance 4M", obs("appearance", np.ones(1_000_000, np.float32))),
        ("frames", "appearance nan", obs("appearance", [nan] * 16)),
        ("frames", "view_id 10k", obs("view_id", "v" * 10000)),
        ("frames", "place id 2^62", lambda m: setattr(m, "place_id", 2 ** 62)),
        ("frames", "place id -2^62", lambda m: setattr(m, "place_id", -(2 ** 62))),
        ("frames", "stamp 0", lambda m: (setattr(m.header.stamp, "sec", 0), setattr(m.header.stamp, "nanosec", 0))),
        ("frames", "stamp 2033", lambda m: setattr(m.header.stamp, "sec", Y2033_NS // 10 ** 9)),
        ("frames", "view focal nan", view("camera_info.k", [nan, 0, 32, 0, nan, 24, 0, 0, 1])),
        ("frames", "view focal 0", view("camera_info.k", [0.0, 0, 32, 0, 0.0, 24, 0, 0, 1])),
        ("frames", "view width 0", view("camera_info.width", 0)),
        ("frames", "view pose nan", view("camera_pose.position.x", nan)),
        ("frames", "view pose 1e30", view("camera_pose.position.y", 1e30)),
        ("frames", "view zero quaternion", lambda m: view("camera_pose.orientation.w", 0.0)(m) or
         setattr(m.view[0].camera_pose.orientation, "x", 0.0)),
        ("frames", "view depth encoding", view("depth.encoding", "bgr8")),
        ("frames", "view depth truncated", view("depth.data", b"\x00" * 10)),
        ("frames", "view id empty", view("view_id", "")),
        ("frames", "view id control", view("view_id", "v\x01")),
        ("frames", "view jpeg 20MB", view("color.data", b"\xff" * (20 * 2 ** 20))),
        ("frames", "view detected control", view("detected_classes", ["mug\x00"])),
        ("frames", "view detected 200k", view("detected_classes", ["x" * 200000])),
        ("frames", "two views", lambda m: setattr(m, "view", [copy.deepcopy(view_msg), copy.deepcopy(view_msg)])),
        ("frames", "no observations, no view", lambda m: (setattr(m, "observations", []), setattr(m, "view", []))),
        ("frames", "duplicate frame", lambda m: None),       # sent twice (see below)
    ]
    return cases


def _place_cases() -> List[Tuple[str, Callable[[Any], None]]]:
    from memory_interfaces.msg import Place
    nan = float("nan")

    def place(**kw: Any) -> Callable[[Any], None]:
        def f(m: Any) -> None:
            p = Place()
            p.id = kw.get("id", 900)
            p.position.x = kw.get("x", 1.0)
            p.room_id = kw.get("room_id", -1)
            m.places.append(p)
        return f
    return [("place nan", place(x=nan)), ("place 1e30", place(x=1e30)), ("place id 2^62", place(id=2 ** 62)),
            ("place id -5", place(id=-5)), ("place room 2^62", place(room_id=2 ** 62)),
            ("edges length mismatch", lambda m: setattr(m, "edge_sources", list(m.edge_sources) + [1])),
            ("edge id 2^62", lambda m: (setattr(m, "edge_sources", [2 ** 62]), setattr(m, "edge_targets", [1])))]


def _room_cases() -> List[Tuple[str, Callable[[Any], None]]]:
    from memory_interfaces.msg import Room
    nan, inf = float("nan"), float("inf")

    def room(**kw: Any) -> Callable[[Any], None]:
        def f(m: Any) -> None:
            r = Room()
            r.id = kw.get("id", 3)
            r.label = kw.get("label", "kitchen")
            r.label_confidence = kw.get("conf", 0.5)
            r.centroid.x = kw.get("x", 1.0)
            r.area_m2 = kw.get("area", 10.0)
            m.rooms.append(r)
        return f
    return [("resolution nan", lambda m: setattr(m.room_map.info, "resolution", nan)),
            ("resolution 0", lambda m: setattr(m.room_map.info, "resolution", 0.0)),
            ("resolution -1", lambda m: setattr(m.room_map.info, "resolution", -1.0)),
            ("origin inf", lambda m: setattr(m.room_map.info.origin.position, "x", inf)),
            ("origin nan", lambda m: setattr(m.room_map.info.origin.position, "y", nan)),
            ("grid size mismatch", lambda m: setattr(m.room_map.info, "width", 1000)),
            ("room centroid nan", room(x=nan)), ("room confidence 5", room(conf=5.0)),
            ("room area inf", room(area=inf)), ("room label 200k", room(label="k" * 200000)),
            ("room label control", room(label="kit\x00chen")), ("room id 2^62", room(id=2 ** 62))]


def _bad_rows(path: str) -> Tuple[int, List[str]]:
    """Rows in the store that fail the validation rules, and repeated frames."""
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    bad: List[str] = []
    try:
        for oid, geom, app, _stamp in c.execute("SELECT id, geom, appearance, stamp_ns FROM observations"):
            g = np.frombuffer(geom, np.float32)
            if (g.size != 13 or not np.all(np.isfinite(g)) or np.abs(g[:9]).max() > MAX_COORD_M
                    or np.any(g[3:6] > g[6:9]) or np.any(g[9:12] < 0) or np.any(g[9:12] > 1) or g[12] < 0):
                bad.append(f"observation {oid}")
            if app is not None and len(app) > 4096 * 4:
                bad.append(f"observation {oid} appearance {len(app)} bytes")
        for cid, name in c.execute("SELECT id, name FROM classes"):
            if len(name) > MAX_NAME_CHARS or any(ord(ch) < 32 for ch in name) or not name.strip():
                bad.append(f"class {cid} {name[:20]!r}")
        for vid, intr, pose in c.execute("SELECT view_id, intrinsics, pose FROM views"):
            k, T = np.frombuffer(intr, np.float64), np.frombuffer(pose, np.float64)
            if not (np.all(np.isfinite(k)) and np.all(np.isfinite(T)) and k[2] > 0 and k[3] > 0 and k[0] > 0) \
                    or len(vid) > 256 or any(ord(ch) < 32 for ch in vid):
                bad.append(f"view {vid[:20]!r}")
        for row in c.execute("SELECT place_id, x, y, z, room_id FROM places"):
            if not all(math.isfinite(v) and abs(v) <= MAX_COORD_M for v in row[1:4]) or row[0] > 2 ** 31:
                bad.append(f"place {row[0]}")
        for row in c.execute("SELECT room_id, label, confidence, x, y, z, area_m2 FROM rooms"):
            if not all(math.isfinite(v) for v in row[2:]) or len(row[1]) > MAX_NAME_CHARS or row[0] > 2 ** 31:
                bad.append(f"room {row[0]}")
        for row in c.execute("SELECT resolution_m, origin_x, origin_y FROM room_map"):
            if not all(math.isfinite(v) for v in row) or row[0] <= 0:
                bad.append("room_map")
        for (n,) in c.execute("SELECT count(*) FROM (SELECT stamp_ns, geom FROM observations GROUP BY stamp_ns, "
                              "geom HAVING count(*) > 1)"):
            if n:
                bad.append(f"{n} repeated observations")
        for (t,) in c.execute("SELECT max(stamp_ns) FROM observations"):
            if t is not None and t >= Y2033_NS:
                bad.append("a 2033 observation")
    finally:
        c.close()
    return len(bad), bad


def probe_malformed(work: Path) -> Dict[str, Any]:
    os.environ.setdefault("ROS_DOMAIN_ID", "39")
    import rclpy
    from memory_interfaces.msg import PlaceGraph as PlaceGraphMsg
    from memory_interfaces.srv import Forget, Recall
    from rclpy.parameter import Parameter

    from memory_nodes.ros.conversions.perception import frame_to_msg, place_graph_to_msg, rooms_to_msg
    from memory_nodes.ros.memory_node import MemoryNode
    rclpy.init()
    path = str(work / "malformed.db")
    node = MemoryNode(parameter_overrides=[Parameter("store.path", value=path),
                                           Parameter("node.min_free_mb", value=0.0)])
    deaths, silent, cases, detail = 0, 0, 0, {}
    try:
        node.trigger_configure()
        node.trigger_activate()
        frames = _frames(600, seed=11)
        now = node.get_clock().now().nanoseconds
        shift = now - 3600 * 10 ** 9 - frames[0].stamp_ns      # stamps an hour ago on the node clock
        for f in frames:
            f.stamp_ns += shift
            for o in f.observations:
                o.stamp_ns += shift
            if f.view is not None:
                f.view.stamp_ns += shift
        good = [frame_to_msg(f, "map") for f in frames]
        view_msg = next(m.view[0] for m in good if m.view)

        def bad_total() -> int:
            return sum(node._log_bad.counts().values())

        def run(callback: Callable[[Any], None], msg: Any, name: str, twice: bool = False) -> None:
            nonlocal deaths, silent, cases
            cases += 1
            before = bad_total()
            try:
                callback(msg)
                if twice:
                    callback(msg)
            except Exception as e:               # escaped the node's guard: in a real executor the node dies
                deaths += 1
                detail[name] = f"{type(e).__name__}: {e}"
            if bad_total() == before:
                silent += 1
                detail.setdefault(name, "no bad-input count")
        gi = 0
        for _topic, name, mutate in _mutations(good[0], view_msg):
            while gi < len(good) - 2 and not good[gi].observations:
                gi += 1
            m = copy.deepcopy(good[gi])
            gi += 1
            try:
                mutate(m)
            except (AssertionError, TypeError, ValueError) as e:   # rclpy refuses the value itself
                detail[name] = f"not representable: {e}"
                continue
            run(node._on_frame, m, name, twice=(name == "duplicate frame"))
            if name != "no observations, no view":
                node._on_frame(copy.deepcopy(good[gi]))          # a good frame between, as a stream has
                gi += 1
        pg = next((f.places for f in frames if f.places is not None), None)
        for name, mutate in _place_cases():
            m = place_graph_to_msg(pg, "map") if pg is not None else PlaceGraphMsg()
            try:
                mutate(m)
            except (AssertionError, TypeError, ValueError) as e:
                detail[name] = f"not representable: {e}"
                continue
            run(node._on_places, m, name)
        seg = next((f.rooms for f in frames if f.rooms is not None), None)
        for name, mutate in _room_cases():
            if seg is None:
                break
            m = rooms_to_msg(seg, "map")
            try:
                mutate(m)
            except (AssertionError, TypeError, ValueError) as e:
                detail[name] = f"not representable: {e}"
                continue
            run(node._on_rooms, m, name)
        for m in good[gi:]:
            node._on_frame(m)
        node._commit_and_publish(force=True)
        pinned = int(node.memory is not None and node.memory.ingested_through_ns >= Y2033_NS)
        # services: bad requests must be answered BAD_REQUEST, naming the field
        unanswered, wrong = 0, 0
        reqs = []
        r = Recall.Request()
        r.kind, r.class_name = "history", "mug"
        r.window_start.sec, r.window_end.sec = 2_000_000_000, 1_000_000_000
        reqs.append((node._on_recall, r, Recall.Response(), "window"))
        r = Recall.Request()
        r.kind = "no_such_kind"
        reqs.append((node._on_recall, r, Recall.Response(), "kind"))
        r = Recall.Request()
        r.kind, r.class_name = "count", "m\x00ug" * 100
        reqs.append((node._on_recall, r, Recall.Response(), "class_name"))
        r = Recall.Request()
        r.kind = "where_at"
        reqs.append((node._on_recall, r, Recall.Response(), "object_id"))
        fr = Forget.Request()
        fr.class_name = "mug"
        fr.window_start.sec, fr.window_end.sec = 2_000_000_000, 1_000_000_000
        reqs.append((node._on_forget, fr, Forget.Response(), "window"))
        for handler, req, resp, field in reqs:
            try:
                out = handler(req, resp)
            except Exception:
                out = None
            if out is None:
                unanswered += 1
            elif out.error_code != type(out).BAD_REQUEST or field not in out.error_msg:
                wrong += 1
                detail[f"service {field}"] = f"{out.error_code}: {out.error_msg}"
        node.trigger_deactivate()
        node.trigger_cleanup()
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    n_bad, bad = _bad_rows(path)
    return {"malformed_cases": cases, "node_deaths": deaths, "malformed_silent": silent, "bad_rows_stored": n_bad,
            "bad_rows_detail": bad[:20], "watermark_pinned": pinned, "services_unanswered": unanswered,
            "services_wrong_code": wrong, "services_probed": len(reqs), "malformed_detail": detail}


# ------------------------------------------------------------------------------- ROS probes' plumbing
def _die_with_parent() -> None:
    """In a node process the probes start: SIGKILL it when the bench dies (a bench killed by a timeout left
    memory nodes behind on its domain, acknowledging into the next run's probes)."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)          # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass


def _start_node(domain: int, args: List[str], log: Any) -> Any:
    """``python -m <args>`` on ROS domain ``domain``, output to ``log``; it dies with the bench."""
    import subprocess
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)}
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return subprocess.Popen([sys.executable, "-m", *args], env=env, cwd=str(root), stdout=log,
                            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)


class _RosProbe:
    """The probes' side of a ROS test: node processes on ``domain`` and an in-process client node to spin."""

    def __init__(self, domain: int, name: str):
        import rclpy
        self.domain = domain
        self.rclpy = rclpy
        self.ctx = rclpy.context.Context()
        rclpy.init(context=self.ctx, domain_id=domain)
        self.node = rclpy.create_node(name, context=self.ctx)
        self.ex = rclpy.executors.SingleThreadedExecutor(context=self.ctx)
        self.ex.add_node(self.node)
        self.lost_replies = 0      # lifecycle requests or replies lost (answered by a retry or get_state)

    def start(self, args: List[str], log: Any) -> Any:
        return _start_node(self.domain, args, log)

    def spin_until(self, pred: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not pred():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")
            self.ex.spin_once(timeout_sec=0.01)

    def activate(self, service: str) -> None:
        """Configure and activate a lifecycle node through ``service`` (<node>/change_state). A request or its
        reply can be lost right after discovery (the service looks ready before its reply path has matched):
        a transition not answered within 20 s is checked with <node>/get_state and sent again if the node is
        still where it was (three tries)."""
        from lifecycle_msgs.msg import State, Transition
        from lifecycle_msgs.srv import ChangeState, GetState
        change = self.node.create_client(ChangeState, service)
        get = self.node.create_client(GetState, service.rsplit("/", 1)[0] + "/get_state")
        try:
            self.spin_until(lambda: change.service_is_ready() and get.service_is_ready(), 60, service)
            for tid, goal in ((Transition.TRANSITION_CONFIGURE, State.PRIMARY_STATE_INACTIVE),
                              (Transition.TRANSITION_ACTIVATE, State.PRIMARY_STATE_ACTIVE)):
                for _attempt in range(3):
                    fut = change.call_async(ChangeState.Request(transition=Transition(id=tid)))
                    try:
                        self.spin_until(fut.done, 20, f"{service} transition {tid}")
                    except TimeoutError:
                        g = get.call_async(GetState.Request())
                        try:
                            self.spin_until(g.done, 10, f"{service} get_state")
                        except TimeoutError:
                            continue
                        state = g.result().current_state.id
                        if state == goal:
                            self.lost_replies += 1
                            break
                        if state >= 10:           # a transition still running (configuring, ...): wait for it
                            self.spin_until(fut.done, 30, f"{service} transition {tid} (state {state})")
                        else:
                            self.lost_replies += 1
                            continue
                    if not fut.result().success:
                        raise TimeoutError(f"{service}: transition {tid} failed")
                    break
                else:
                    raise TimeoutError(f"{service} transition {tid}: not answered in 3 tries")
        finally:
            self.node.destroy_client(change)
            self.node.destroy_client(get)

    def close(self) -> None:
        self.ex.shutdown()
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.ctx)


def _stop(procs: List[Any]) -> None:
    """SIGINT, then SIGKILL what has not ended in 10 s."""
    import subprocess
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


# --------------------------------------------------------------------------------------- services
SERVICES_DOMAIN = 105
_BAD_ASKS = (("question", {"question": ""}), ("question", {"question": "where is it? " * 300}),
             ("budget_m", {"budget_m": float("nan")}), ("budget_m", {"budget_m": -1.0}),
             ("timeout_s", {"timeout_s": float("nan")}), ("timeout_s", {"timeout_s": -5.0}),
             ("window", {"window_start": 2_000_000_000, "window_end": 1_000_000_000}),
             ("window_start", {"window_start": int(time.time()) + 365 * 86400,
                               "window_end": int(time.time()) + 366 * 86400}))


def _ask_request(cls: Any, fields: Dict[str, Any]) -> Any:
    r = cls()
    r.question, r.timeout_s = "where is the mug?", 30.0
    for k, v in fields.items():
        if k.startswith("window"):
            getattr(r, k).sec = v
        else:
            setattr(r, k, v)
    return r


def probe_services(work: Path, bursts: int) -> Dict[str, Any]:
    """Concurrent and bad requests against the real memory + planner nodes (see the module docstring)."""
    from memory_interfaces.msg import FrameObservations, PlaceGraph, RoomSegmentation
    from memory_interfaces.srv import Ask, Recall

    from memory_nodes.ros.conversions.perception import frame_to_msg, place_graph_to_msg, rooms_to_msg
    from memory_nodes.ros.qos import LATCHED, STREAM, services_qos
    ros = _RosProbe(SERVICES_DOMAIN, "reliability_services")
    node, ex, spin_until = ros.node, ros.ex, ros.spin_until
    logs = [open(work / f"{n}.log", "w") for n in ("memory", "planner")]
    procs = [ros.start(["memory_nodes.ros.memory_node", "--ros-args", "--params-file",
                        str(Path(__file__).resolve().parents[1] / "config" / "memory.yaml"), "-p", f"data_dir:={work}",
                        "-p", "node.flush_period_s:=0.1", "-p", "vocab.allow_model:=false"], logs[0]),
             ros.start(["memory_nodes.ros.planner_node", "--ros-args", "-p", "parser.use_embeddings:=false",
                        "-p", "node.server_wait_s:=10.0", "-p", "node.service_timeout_s:=20.0"], logs[1])]
    out: Dict[str, Any] = {"services_concurrent_unanswered": 0, "ask_busy": 0, "ask_answered": 0,
                           "services_bad_wrong_code": 0, "services_bad_probed": 0}
    detail: Dict[str, str] = {}
    try:
        ros.activate("memory/change_state")
        frames = _frames(400, seed=13)
        shift = time.time_ns() - 3600 * 10 ** 9 - frames[0].stamp_ns
        for f in frames:
            f.stamp_ns += shift
            for o in f.observations:
                o.stamp_ns += shift
            if f.view is not None:
                f.view.stamp_ns += shift
        pub = node.create_publisher(FrameObservations, "perception/frames", STREAM)
        pub_pl = node.create_publisher(PlaceGraph, "perception/places", LATCHED)
        pub_rm = node.create_publisher(RoomSegmentation, "perception/rooms", LATCHED)
        pg = next((f.places for f in frames if f.places is not None), None)
        seg = next((f.rooms for f in frames if f.rooms is not None), None)
        if pg is not None:
            pub_pl.publish(place_graph_to_msg(pg, "map"))
        if seg is not None:
            pub_rm.publish(rooms_to_msg(seg, "map"))
        msgs = [frame_to_msg(f, "map") for f in frames]
        spin_until(lambda: pub.get_subscription_count() > 0, 30, "memory subscribed")
        fed = {"i": 0}

        def feed() -> None:
            pub.publish(msgs[fed["i"] % len(msgs)])
            fed["i"] += 1
        for _ in range(50):
            feed()
        qos = services_qos(100)
        ask = node.create_client(Ask, "ask", qos_profile=qos)
        recall = node.create_client(Recall, "memory/recall", qos_profile=qos)
        spin_until(lambda: ask.service_is_ready() and recall.service_is_ready(), 60, "ask and memory/recall")
        first = ask.call_async(_ask_request(Ask.Request, {}))
        spin_until(first.done, 60, "a first answer")

        def burst(client: Any, reqs: List[Any], timeout_s: float) -> Tuple[List[Any], List[float]]:
            t0 = time.monotonic()
            futs = [client.call_async(r) for r in reqs]
            seen: Dict[int, float] = {}
            last_feed = 0.0
            while len(seen) < len(futs) and time.monotonic() - t0 < timeout_s:
                ex.spin_once(timeout_sec=0.005)
                now = time.monotonic()
                for i, f in enumerate(futs):
                    if f.done():
                        seen.setdefault(i, now)
                if now - last_feed > 0.05:
                    feed()
                    last_feed = now
            out["services_concurrent_unanswered"] += len(futs) - len(seen)
            return [f.result() for i, f in enumerate(futs) if i in seen], [t - t0 for t in seen.values()]
        questions = ("where is the mug?", "how many chairs are there?", "when did you last see the keys?",
                     "what is in the kitchen?")
        ask_lat: List[float] = []
        recall_lat: List[float] = []
        kinds = ("last_seen", "count", "history", "objects_in", "places", "changes")
        for _ in range(bursts):
            resps, lat = burst(ask, [_ask_request(Ask.Request, {"question": questions[i % 4]}) for i in range(20)], 90)
            ask_lat += lat
            for r in resps:
                if r.error_code == Ask.Response.BUSY:
                    out["ask_busy"] += 1
                elif r.error_code == Ask.Response.NONE:
                    out["ask_answered"] += 1
                else:
                    detail[f"ask error {r.error_code}"] = r.error_msg
            resps, lat = burst(recall, [Recall.Request(kind=kinds[i % 6], class_name="mug", room_id=-1, place_id=-1)
                                        for i in range(30)], 60)
            recall_lat += lat
            for r in resps:
                if r.error_code != Recall.Response.NONE:
                    detail[f"recall error {r.error_code}"] = r.error_msg
        bad, _ = burst(ask, [_ask_request(Ask.Request, f) for _, f in _BAD_ASKS], 30)
        out["services_bad_probed"] = len(_BAD_ASKS)
        for (field, _), r in zip(_BAD_ASKS, bad):
            if r.error_code != Ask.Response.BAD_REQUEST or not r.error_msg.startswith(field):
                out["services_bad_wrong_code"] += 1
                detail[f"bad ask {field}"] = f"{r.error_code}: {r.error_msg}"
        out["ask_concurrent_p95_ms"] = round(float(np.percentile(ask_lat, 95)) * 1e3, 1) if ask_lat else None
        out["recall_concurrent_p95_ms"] = round(float(np.percentile(recall_lat, 95)) * 1e3, 1) if recall_lat else None
        out["ask_concurrent_calls"] = 20 * bursts
        out["recall_concurrent_calls"] = 30 * bursts
    except TimeoutError as e:
        detail["setup"] = str(e)
        out["services_concurrent_unanswered"] += 1
    finally:
        ros.close()
        _stop(procs)
        for f in logs:
            f.close()
    out["services_detail"] = detail
    return out


# ------------------------------------------------------------------------------------- node kills
NODE_KILL_DOMAIN = 106


def _store_watermark(path: str) -> int:
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = c.execute("SELECT value FROM meta WHERE key = 'ingested_through_ns'").fetchone()
    finally:
        c.close()
    return int(row[0]) if row else -1


class NodeKillLives:
    """The memory processes probe_node_kills kills, started ahead (unconfigured: no store, no topics), up to 3
    booting at once, while the probe makes its frames and the previous life ingests. (Started before the other
    probes, their boot slowed those as much: on 2 cores the boot's CPU is what costs.)"""

    def __init__(self, work: Path, trials: int):
        self.path = str(work / "node_kill.db")
        self.log = open(work / "node_kills.log", "w")
        self.lives = trials + 4           # the last only receives perception's resends; 3 spare (a failed start)
        self.booting = [self._start(k) for k in range(min(self.lives, 3))]
        self.first = 0                    # the life booting[0] is

    def _start(self, k: int) -> Any:
        """A fresh memory node ``memory_life<k>``: discovery may still list the killed one's services for a
        while, so each life has its own lifecycle service (its topics are the same: relative to the namespace)."""
        return _start_node(NODE_KILL_DOMAIN, [
            "memory_nodes.ros.memory_node", "--ros-args", "-r", f"__node:=memory_life{k}",
            "-p", f"store.path:={self.path}", "-p", "node.flush_period_s:=0.1", "-p", "node.max_future_s:=0.0",
            "-p", "node.min_free_mb:=0.0", "-p", "vocab.allow_model:=false"], self.log)

    def next(self) -> Any:
        """The next life (``memory_life<first>`` before the call); one more starts booting behind it."""
        if self.first + len(self.booting) < self.lives or not self.booting:
            self.booting.append(self._start(self.first + len(self.booting)))
        self.first += 1
        return self.booting.pop(0)

    def close(self, also: Any = None) -> None:
        """SIGKILL what is left: what the last life acknowledged is in the store already (no shutdown wait)."""
        for p in [also, *self.booting]:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        self.booting = []
        self.log.close()


def _log_tail(lives: "NodeKillLives", n: int = 6) -> str:
    """The last lines the memory processes wrote (one log for all lives), for a failed start's detail."""
    try:
        lives.log.flush()
        with open(lives.log.name) as f:
            return " | ".join(ln.strip() for ln in f.readlines()[-n:])
    except OSError as e:
        return f"(log unreadable: {e})"


def probe_node_kills(work: Path, trials: int, rng: random.Random,
                     lives: "NodeKillLives | None" = None) -> Dict[str, Any]:
    """SIGKILL the memory node under ROS mid-ingest, restart it, check nothing acknowledged, nor anything
    perception sent, is lost or stored twice. The frames go out through the perception node's own publishing
    and resend code (an in-process PerceptionNode: ``publish_frame`` and its memory/ingested_through
    subscription), so frames in flight at the kill and frames sent while memory is down are resent to the
    restarted memory by perception, not by the probe."""
    from memory_interfaces.msg import IngestProgress
    from rclpy.parameter import Parameter

    from memory_nodes.ros.conversions.basic import time_to_ns
    from memory_nodes.ros.conversions.perception import frame_to_msg
    from memory_nodes.ros.perception_node import PerceptionNode
    from memory_nodes.ros.qos import EVENTS
    lives = lives or NodeKillLives(work, trials)
    path = lives.path
    ros = _RosProbe(NODE_KILL_DOMAIN, "reliability_node_kills")
    node, ex, spin_until = ros.node, ros.ex, ros.spin_until
    frames = _frames(130 * trials + 50, seed=17)
    msgs = [frame_to_msg(f, "map") for f in frames]
    perception = PerceptionNode(context=ros.ctx, parameter_overrides=[
        Parameter("detector.kind", value="oracle"), Parameter("node.input_timeout_s", value=0.0)])
    ex.add_node(perception)
    acks: List[int] = []
    node.create_subscription(IngestProgress, "memory/ingested_through",
                             lambda m: acks.append(time_to_ns(m.ingested_through)), EVENTS)
    max_ack, behind, done, restart_s, detail = -1, 0, 0, [], {}
    failed_starts = failed_in_a_row = 0
    life = 0                             # memory_life<life> is the next to start

    published: List[int] = []           # frames perception sent (a full resend ring refuses: not sent)

    def feed(until: float, i: int) -> int:
        """Offer frames every 10 ms to perception until ``until`` (monotonic s); returns the next index."""
        next_pub = 0.0
        while time.monotonic() < until and i < len(msgs):
            now = time.monotonic()
            if now >= next_pub:
                if perception.publish_frame(msgs[i]):
                    published.append(i)
                i += 1
                next_pub = now + 0.01
            ex.spin_once(timeout_sec=0.002)
        return i
    proc = None
    i = 0
    try:
        for trial in range(trials):
            t0 = time.monotonic()
            proc = lives.next()
            life += 1
            try:
                ros.activate(f"memory_life{life - 1}/change_state")
            except TimeoutError as e:           # counted and said; the next life takes over (frames kept)
                failed_starts += 1
                detail[f"trial {trial}"] = f"memory_life{life - 1} did not start: {e}; log: {_log_tail(lives)}"
                failed_in_a_row += 1
                if failed_in_a_row > 3:           # not a lost reply: memory does not start at all
                    raise
                proc.kill()
                proc.wait(timeout=10)
                continue
            failed_in_a_row = 0
            restart_s.append(time.monotonic() - t0)
            i = feed(time.monotonic() + rng.uniform(0.3, 1.2), i)
            for _ in range(5):                                       # acks already on their way
                ex.spin_once(timeout_sec=0.002)
            proc.kill()
            proc.wait(timeout=10)
            ex.spin_once(timeout_sec=0.01)
            if acks:
                max_ack = max(max_ack, max(acks))
            acks.clear()
            w = _store_watermark(path)
            if w < max_ack:
                behind += 1
                detail[f"trial {trial}"] = f"store watermark {w} < acknowledged {max_ack}"
            done += 1
            i = feed(time.monotonic() + 0.1, i)                      # sent while memory is down
            if i >= len(msgs):
                break
        # a last life: perception resends what it holds; wait until it holds nothing unacknowledged
        for attempt in range(3):
            proc = lives.next()
            life += 1
            try:
                ros.activate(f"memory_life{life - 1}/change_state")
                break
            except TimeoutError as e:
                failed_starts += 1
                detail[f"last life {attempt}"] = f"memory_life{life - 1} did not start: {e}; log: {_log_tail(lives)}"
                proc.kill()
                proc.wait(timeout=10)
        spin_until(lambda: len(perception._resend) == 0, 60, "perception's resends acknowledged")
    except TimeoutError as e:
        detail["stopped"] = str(e)
    finally:
        lives.close(proc)
        sent = {"resent": perception._resend.resent, "dropped": perception._resend.dropped,
                "refused": perception._resend.refused}
        ex.remove_node(perception)
        perception.destroy_node()
        ros.close()
    lost, sent_lost, sent_dup = _sent_lost([frames[j] for j in published], max_ack, path,
                                           str(work / "node_kill_ref.db"))
    return {"node_kill_trials": done, "node_kill_watermark_behind": behind, "node_kill_acked_lost": lost,
            "node_kill_offered_frames": i, "node_kill_sent_frames": len(published),
            "node_kill_refused_memory_behind": sent["refused"],
            "node_kill_sent_lost": sent_lost, "node_kill_sent_duplicated": sent_dup,
            "node_kill_resent": sent["resent"], "node_kill_dropped_unacknowledged": sent["dropped"],
            "node_kill_restart_s_max": round(max(restart_s), 2) if restart_s else None,
            "node_kill_failed_starts": failed_starts, "node_kill_lifecycle_replies_lost": ros.lost_replies,
            "node_kill_detail": detail}


def _sent_lost(frames, max_ack: int, path: str, ref_path: str) -> Tuple[int, int, int]:
    """Against an uninterrupted reference run over every frame sent: the rows (observations, views) ``path``
    lacks at stamps acknowledged (<= max_ack) and at any stamp, and the rows it holds beyond the reference's
    at a stamp (stored twice)."""
    ref = MemoryCore.open(ref_path, _cfg(ref_path), default_vocabulary())
    for f in frames:
        ref.ingest(f)
    ref.close()
    (ro, rv), (go, gv) = _counts(ref_path), _counts(path)
    missing = [(t, max(0, n - got.get(t, 0))) for want, got in ((ro, go), (rv, gv)) for t, n in want.items()]
    extra = sum(max(0, n - want.get(t, 0)) for want, got in ((ro, go), (rv, gv)) for t, n in got.items())
    return sum(n for t, n in missing if t <= max_ack), sum(n for _, n in missing), extra


# ------------------------------------------------------------------------------------------- fuzz
def probe_fuzz(examples: int) -> Dict[str, Any]:
    """Run the hypothesis suite with ``examples`` per target; failing targets by name."""
    import subprocess
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "RELIABILITY_FUZZ_EXAMPLES": str(examples)}
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf",
                        str(root / "tests" / "test_reliability_fuzz.py")], cwd=str(root), env=env,
                       capture_output=True, text=True)
    lines = p.stdout.splitlines()
    failed = [ln.split("::")[-1].split(" ")[0] for ln in lines if ln.startswith("FAILED")]
    summary = next((ln for ln in reversed(lines) if " passed" in ln or " failed" in ln or " error" in ln), "")
    n_failed = len(failed) or int(p.returncode != 0)      # a collection error counts as one failure
    out: Dict[str, Any] = {"fuzz_examples_per_target": examples, "fuzz_failures": n_failed,
                           "fuzz_summary": summary.strip("= ")}
    if p.returncode != 0:
        # the failing example and the assertion (hypothesis prints them; the run is random, so keep them)
        why = [ln for ln in lines if ln.startswith("E ") or "Falsifying" in ln or "data.draw" in ln
               or ln.startswith("Draw ")][:60]
        out["fuzz_detail"] = {"failed": failed, "why": "\n".join(why), "tail": "\n".join(lines[-15:])}
    return out


# ------------------------------------------------------------------------------------------ main
_DOMAINS_LOCK = os.path.join(tempfile.gettempdir(), "memory-stack-bench-reliability.lock")


def _hold_ros_domains() -> Any:
    """An exclusive lock on this machine for the probes' fixed ROS domains, held until the process ends (the
    open file); None when another run holds it. (Two runs at once mixed their memory nodes on domain 106:
    one run's perception heard the other's watermarks, its memory stored the other's frames.)"""
    import fcntl
    f = open(_DOMAINS_LOCK, "a")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    return f

_PROBES = ("kills", "corrupt", "disk_full", "clock_jump", "malformed", "services", "node_kills", "fuzz")

def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50 kills (under a minute)")
    ap.add_argument("--kills", type=int, default=None, help="SIGKILL trials (default 50 quick, 1000 full)")
    ap.add_argument("--node-kills", type=int, default=None,
                    help="SIGKILLs of the memory node under ROS (default 2 quick, 1000 full)")
    ap.add_argument("--fuzz-examples", type=int, default=None,
                    help="hypothesis examples per fuzz target (default: full 10000; quick only when given)")
    ap.add_argument("--probes", default=None,
                    help="comma-separated probes to run (default all): " + ", ".join(_PROBES))
    ap.add_argument("--json", default=None)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    only = set(a.probes.split(",")) if a.probes else set(_PROBES)
    if not only <= set(_PROBES):
        ap.error(f"--probes: unknown {', '.join(sorted(only - set(_PROBES)))} (known: {', '.join(_PROBES)})")
    if only & {"services", "node_kills"}:
        held = _hold_ros_domains()
        if held is None:
            print(f"bench.reliability: another run holds {_DOMAINS_LOCK} (its ROS probes use domains "
                  f"{SERVICES_DOMAIN} and {NODE_KILL_DOMAIN}: two runs at once would hear each other's nodes and "
                  "count each other's frames); wait for it, or run without those probes (--probes)", file=sys.stderr)
            return 2
    kills = a.kills or (50 if a.quick else 1000)
    rng = random.Random(a.seed)
    t0 = time.perf_counter()
    fig: Dict[str, Any] = {"mode": "quick" if a.quick else "full"}
    node_kills = a.node_kills or (2 if a.quick else 1000)
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        work = Path(tmp)
        for name, probe in (("kills", lambda: probe_kills(work, kills, rng)), ("corrupt", lambda: probe_corrupt(work)),
                            ("disk_full", lambda: probe_disk_full(work)), ("clock_jump", probe_clock_jump),
                            ("malformed", lambda: probe_malformed(work)),
                            ("services", lambda: probe_services(work, 1 if a.quick else 10)),
                            ("node_kills", lambda: probe_node_kills(work, node_kills, rng)),
                            ("fuzz", lambda: probe_fuzz(a.fuzz_examples or 10_000))):
            if name not in only:
                continue
            if name == "fuzz" and a.quick and not a.fuzz_examples:
                continue              # the suite runs it (200 per target); quick stays well under a minute
            t = time.perf_counter()
            fig.update(probe())
            fig[f"{name}_s"] = round(time.perf_counter() - t, 2)
            print(f"  {name:<11} done in {fig[f'{name}_s']:.1f} s", flush=True)
    # services_unanswered: every request left without a reply, bad ones (malformed) and concurrent ones alike
    fig["services_unanswered"] = fig.get("services_unanswered", 0) + fig.get("services_concurrent_unanswered", 0)
    fig["services_wrong_code"] = fig.get("services_wrong_code", 0) + fig.get("services_bad_wrong_code", 0)
    fig["services_probed"] = fig.get("services_probed", 0) + fig.get("services_bad_probed", 0)
    fig["bench_seconds"] = round(time.perf_counter() - t0, 2)
    keys = ("kill_trials", "acked_observations", "acked_lost", "integrity_failures", "reopen_s_max", "corrupt_cases",
            "corrupt_bytes_changed", "corrupt_unclear_errors", "disk_full_faults_seen", "disk_full_acked_lost",
            "clock_jump_frames", "clock_jump_frames_lost_silently", "malformed_cases", "node_deaths",
            "malformed_silent", "bad_rows_stored", "watermark_pinned", "services_probed", "services_unanswered",
            "services_wrong_code", "ask_concurrent_calls", "ask_busy", "ask_concurrent_p95_ms",
            "recall_concurrent_calls", "recall_concurrent_p95_ms", "fuzz_examples_per_target", "fuzz_failures",
            "node_kill_trials", "node_kill_watermark_behind", "node_kill_acked_lost", "node_kill_offered_frames",
            "node_kill_sent_frames", "node_kill_refused_memory_behind",
            "node_kill_sent_lost", "node_kill_sent_duplicated", "node_kill_resent", "node_kill_dropped_unacknowledged",
            "node_kill_restart_s_max", "node_kill_failed_starts", "node_kill_lifecycle_replies_lost",
            "fuzz_summary")
    for k in keys:
        v = fig.get(k)
        print(f"  {k:<34} {v:.3f}" if isinstance(v, float) else f"  {k:<34} {v}")
    for group in ("corrupt_detail", "malformed_detail", "services_detail", "node_kill_detail"):
        odd = {k: v for k, v in fig.get(group, {}).items() if v != "ok"}
        if odd:
            print(f"  {group}: " + "; ".join(f"{k}: {v}" for k, v in list(odd.items())[:12]))
    print(f"(took {fig['bench_seconds']:.1f} s)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(fig, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
