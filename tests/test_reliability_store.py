"""Reliability of the store and the input boundary (fast, pure): a failed commit keeps its batch and the
watermark, a full disk is a fault not a loss, damaged stores are refused unchanged, bad input is refused by
cause, stamps that jump are judged against their stream."""
from __future__ import annotations

import errno
import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from bench.reliability import _cfg, _frames, corrupt_kinds
from memory_nodes.common.errors import StoreError, TransformError
from memory_nodes.memory import MemoryCore
from memory_nodes.memory.repository.tools import check, recover
from memory_nodes.memory.validate import observation_problem
from memory_nodes.perception.sync import ApproxTimeSync, StampGuard
from memory_nodes.perception.tf_buffer import TransformBuffer
from memory_nodes.vocab import default_vocabulary


@pytest.fixture(scope="module")
def frames():
    return _frames(150, seed=4)


def _sha(p: Path) -> str:
    return hashlib.sha256(b"".join(Path(f"{p}{s}").read_bytes() if Path(f"{p}{s}").is_file() else b"-"
                                   for s in ("", "-wal", "-journal"))).hexdigest()


def test_full_disk_keeps_the_batch_and_the_watermark_then_resumes(tmp_path, frames):
    path = str(tmp_path / "m.db")
    mem = MemoryCore.open(path, _cfg(path), default_vocabulary())
    for f in frames[:50]:
        mem.ingest(f)
    w0 = mem.commit()
    st = mem.store
    pages = st.connection.execute("PRAGMA page_count").fetchone()[0]
    st.connection.execute(f"PRAGMA max_page_count={pages}")

    def enospc(ref, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    real, st._write_file = st._write_file, enospc
    for f in frames[50:100]:
        assert mem.ingest(f) is None                     # nothing acknowledged while full
    assert mem.store_fault is not None and mem.store_fault.fault == "disk_full"
    assert mem.ingested_through_ns == w0
    assert not list(st.keyframe_dir.glob("*/*.tmp*"))
    st.connection.execute("PRAGMA max_page_count=1073741823")
    st._write_file = real
    w1 = mem.commit()
    assert w1 >= frames[99].stamp_ns and mem.store_fault is None
    n = mem.stats()["observations"]
    mem.close()
    again = MemoryCore.open(path, _cfg(path), default_vocabulary())
    assert again.stats()["observations"] == n and again.ingested_through_ns == w1
    missing = [r for (r,) in again.store.query("SELECT ref FROM keyframes") if again.store.read_keyframe(r) is None]
    assert missing == []
    again.close()


@pytest.mark.parametrize("kind", [k for k, _ in corrupt_kinds()])
def test_damaged_store_refused_unchanged_with_the_lock_released(tmp_path, frames, kind):
    base = tmp_path / "base.db"
    mem = MemoryCore.open(str(base), _cfg(str(base)), default_vocabulary())
    for f in frames[:80]:
        mem.ingest(f)
    mem.close()
    p = tmp_path / "m.db"
    p.write_bytes(base.read_bytes())
    dict(corrupt_kinds())[kind](p)
    before = _sha(p) if p.is_file() else None
    with pytest.raises(StoreError) as e:
        MemoryCore.open(str(p), _cfg(str(p)), default_vocabulary())
    assert str(p) in str(e.value)
    assert (_sha(p) if p.is_file() else None) == before
    assert not Path(f"{p}.lock").exists()
    if p.is_file() and kind not in ("text", "short", "zero_bytes"):
        ok, why = check(str(p))
        assert not ok and str(p) in why


def test_recover_copies_what_is_readable_and_keeps_the_original(tmp_path, frames):
    p = tmp_path / "m.db"
    mem = MemoryCore.open(str(p), _cfg(str(p)), default_vocabulary())
    for f in frames[:80]:
        mem.ingest(f)
    n = mem.stats()["observations"]
    mem.close()
    sqlite3.connect(p).execute("PRAGMA journal_mode=DELETE").close()
    before = _sha(p)
    rep = recover(str(p))
    assert _sha(p) == before and rep["observations"][0] == n
    ok, text = check(str(p) + ".recovered")
    assert ok, text


def test_bad_row_is_dropped_alone(tmp_path, frames):
    path = str(tmp_path / "m.db")
    mem = MemoryCore.open(path, _cfg(path), default_vocabulary())
    for f in frames[:10]:
        mem.ingest(f)
    mem.store.queue("INSERT INTO meta (key, value) VALUES (?, ?)", ("x", None))   # NOT NULL
    w = mem.commit()
    assert w >= frames[9].stamp_ns and mem.store.rejected_rows == 1
    mem.close()


def test_observation_checks_name_the_cause(frames):
    o = next(o for f in frames for o in f.observations)
    assert observation_problem(o) is None
    cases = (("color_rgb", (2.0, 0, 0), "bad_color"), ("distance_m", float("nan"), "bad_distance"),
             ("class_name", "x" * 500, "long_string"), ("class_name", "a\x00", "control_characters"),
             ("centroid_m", np.array([1e30, 0, 0]), "out_of_range"), ("place_id", 2 ** 62, "bad_id"))
    for field, value, cause in cases:
        bad = type(o)(**{**o.__dict__, field: value})
        assert observation_problem(bad)[0] == cause


def test_stamp_guard_rejects_an_outlier_and_follows_a_sustained_jump():
    g = StampGuard(10 ** 9, confirm=3, forward_tolerance_ns=10 ** 9)
    assert [g.check(t) for t in (100, 200, 10 ** 15, 300)] == ["ok", "ok", "stamp_jump", "ok"]
    assert [g.check(t) for t in (5, 6, 7, 8)] == ["ok"] * 4            # within the tolerance of 300
    assert [g.check(t) for t in (10 ** 12, 10 ** 12 + 1, 10 ** 12 + 2)] == ["stamp_jump", "stamp_jump",
                                                                         "new_time_base"]


def test_sync_and_tf_survive_a_2033_stamp_and_a_jump_back():
    sync = ApproxTimeSync(2, 10, 5, jump_tolerance_ns=10 ** 9)
    base, y2033 = 10 ** 18, 1_988_000_000 * 10 ** 9
    out = []
    for i, t in enumerate([base + k * 100 for k in range(5)] + [y2033] + [base + k * 100 for k in range(5, 10)]
                          + [base - 10 ** 13 + k * 100 for k in range(6)]):
        for k in range(2):
            out += sync.add(k, t, i)
    got = sorted({s[0] for s in out})
    assert got == [i for i in range(17) if i not in (5, 11, 12)]           # the 2033 frame and 2 of the new base
    assert sync.rejected["stamp_jump"] == 6 and sync.rejected["new_time_base"] == 1
    tf = TransformBuffer(cache_time_ns=10 ** 10)
    for k in range(10):
        tf.set_transform("map", "base", np.eye(4), base + k * 10 ** 8)
    with pytest.raises(TransformError):
        tf.set_transform("map", "base", np.eye(4), y2033)
    assert tf.can_transform("map", "base", base + 9 * 10 ** 8)
