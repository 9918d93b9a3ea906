"""The persistent store: reopen restores, foreign/corrupt files are refused untouched, migrations,
single writer, keyframe retention, and forget leaving nothing behind."""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from memory_nodes.common.errors import InputError, StoreError
from memory_nodes.memory import MemoryConfig, MemoryCore, RetentionConfig, Store
from memory_nodes.memory.config import NS_PER_DAY
from memory_nodes.memory.repository import SCHEMA_VERSION
from memory_nodes.memory.synthetic import SynthConfig, SyntheticHousehold, run_days
from memory_nodes.vocab import VocabConfig, Vocabulary


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def _snapshot(mem: MemoryCore):
    return (mem.stats(), mem.objects(), mem.ingested_through_ns,
            [(s.object_id, s.last_seen_ns, round(s.p_still_there, 6), tuple(np.round(s.position_m, 6)))
             for s in mem.last_seen("mug")],
            [(e.kind, e.object_id, e.stamp_ns) for e in mem.changes()], mem.episodes(), mem.rooms(),
            mem.place_edges())


def test_reopen_restores_everything(tmp_path, vocab):
    path = str(tmp_path / "m.db")
    world = SyntheticHousehold(SynthConfig(seed=5, jpeg_bytes=300))
    mem = MemoryCore.open(path, vocab=vocab)
    run_days(mem, world, 3)
    before = _snapshot(mem)
    g_before = mem.scene_graph()
    assert mem.ingested_through_ns == mem.now_ns() > 0
    mem.close()
    mem2 = MemoryCore.open(path, vocab=vocab)
    assert _snapshot(mem2) == before
    g = mem2.scene_graph()
    assert sorted(g.nodes) == sorted(g_before.nodes) and sorted(g.edges) == sorted(g_before.edges)
    # and it keeps going from there: same identities for the same objects the next day
    objs = set(mem2.objects())
    run_days(mem2, world, 1, first_day=3)
    assert len(objs & set(mem2.objects())) >= 0.9 * len(objs)
    assert mem2.store.integrity_check() == "ok"
    mem2.close()


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _foreign_db(p: Path) -> None:
    c = sqlite3.connect(p)
    c.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
    c.execute("INSERT INTO invoices (amount) VALUES (12.5)")
    c.commit()
    c.close()


def _newer_store(p: Path) -> None:
    Store.create_at_version(str(p), SCHEMA_VERSION)
    c = sqlite3.connect(p)
    c.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    c.commit()
    c.close()


def _damaged_store(p: Path) -> None:
    Store.create_at_version(str(p), SCHEMA_VERSION)
    c = sqlite3.connect(p)
    c.execute("PRAGMA journal_mode=DELETE")
    c.close()
    data = bytearray(p.read_bytes())
    data[100:] = b"\x13" * (len(data) - 100)       # keep the header, garble every page
    p.write_bytes(bytes(data))


@pytest.mark.parametrize("kind,make,words", [
    ("text", lambda p: p.write_text("hello, I am a shopping list\n" * 20), "not an SQLite database"),
    ("short", lambda p: p.write_bytes(b"SQLite format 3\x00abc"), "too short"),
    ("foreign", _foreign_db, "another application"),
    ("newer", _newer_store, "newer than this software"),
    ("damaged", _damaged_store, "damaged"),
])
def test_foreign_or_corrupt_file_is_refused_and_left_unchanged(tmp_path, vocab, kind, make, words):
    p = tmp_path / "memory.db"
    make(p)
    digest = _sha(p)
    siblings = sorted(os.listdir(tmp_path))
    with pytest.raises(StoreError) as e:
        MemoryCore.open(str(p), vocab=vocab)
    assert words in str(e.value) and str(p) in str(e.value)
    assert _sha(p) == digest
    assert sorted(os.listdir(tmp_path)) == siblings       # no -wal, -shm, lock or keyframe folder either


def test_second_writer_is_refused(tmp_path, vocab):
    path = str(tmp_path / "m.db")
    mem = MemoryCore.open(path, vocab=vocab)
    with pytest.raises(StoreError, match="in use"):
        MemoryCore.open(path, vocab=vocab)
    mem.close()
    MemoryCore.open(path, vocab=vocab).close()


def test_schema_migration_from_version_1(tmp_path, vocab):
    path = tmp_path / "old.db"
    Store.create_at_version(str(path), 1)
    mem = MemoryCore.open(str(path), vocab=vocab)
    assert mem.store.schema_version == SCHEMA_VERSION
    tables = {r[0] for r in mem.store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "forgets" in tables
    run_days(mem, SyntheticHousehold(SynthConfig(seed=2, n_rooms=2)), 1)
    assert mem.stats()["objects"] > 0
    mem.close()


def test_retention_thins_old_keyframes_but_keeps_cited_ones(tmp_path, vocab):
    path = str(tmp_path / "m.db")
    cfg = MemoryConfig(retention=RetentionConfig(keep_all_days=2.0, keep_per_place_per_day=1, run_every_s=3600.0))
    world = SyntheticHousehold(SynthConfig(seed=7, n_rooms=3, jpeg_bytes=400))
    mem = MemoryCore.open(path, cfg, vocab=vocab)
    run_days(mem, world, 8)
    st = mem.store
    thinned = st.query("SELECT ref, stamp_ns FROM keyframes WHERE thinned = 1")
    kept = st.query("SELECT ref, stamp_ns FROM keyframes WHERE thinned = 0")
    assert thinned, "old keyframes should have been thinned"
    files = set(st.keyframe_files())
    assert not ({r for r, _ in thinned} & files)                  # thinned files are gone from disk
    assert {r for r, _ in kept} <= files
    cutoff = mem.now_ns() - 2 * NS_PER_DAY - NS_PER_DAY // 24
    assert all(s < cutoff for _, s in thinned)                    # nothing young was thinned
    cited = set()
    for e in mem.changes():
        cited.update(e.evidence.keyframe_refs)
    for oid in mem.objects():
        for h in mem.history(oid):
            cited.update(h.evidence.keyframe_refs)
    assert cited and cited <= files                              # every cited keyframe survives
    old_days = {s // NS_PER_DAY for _, s in thinned}
    per_day_kept = [sum(1 for _, s in kept if s // NS_PER_DAY == d) for d in old_days]
    per_day_all = [sum(1 for _, s in kept + thinned if s // NS_PER_DAY == d) for d in old_days]
    assert sum(per_day_kept) < 0.6 * sum(per_day_all)
    assert st.orphan_keyframe_files() == []
    mem.close()


def _object_with_keyframes(mem: MemoryCore) -> str:
    for oid in mem.objects():
        if mem.get_object(oid).evidence.keyframe_refs and mem.get_object(oid).class_name not in ("desk",):
            return oid
    raise AssertionError("no object with keyframes")


def test_forget_an_object_leaves_nothing(tmp_path, vocab):
    path = str(tmp_path / "m.db")
    world = SyntheticHousehold(SynthConfig(seed=8, n_rooms=3, jpeg_bytes=200))
    mem = MemoryCore.open(path, vocab=vocab)
    run_days(mem, world, 2)
    oid = _object_with_keyframes(mem)
    cls = mem.get_object(oid).class_name
    refs = set()
    for h in mem.history(oid):
        refs.update(h.evidence.keyframe_refs)
    obs_ids = [o.id for o in mem.observations(object_id=oid)]
    n_before = mem.count_observations()
    res = mem.forget(object_id=oid)
    assert res.observations_deleted == len(obs_ids) > 0 and res.keyframes_deleted >= len(refs) > 0
    assert res.objects_deleted == 1
    assert oid not in mem.objects()
    assert all(s.object_id != oid for s in mem.last_seen(cls))
    assert mem.history(oid) == [] and mem.where_at(oid, mem.now_ns()) is None and mem.absences(oid) == []
    assert all(e.object_id != oid for e in mem.changes())
    assert oid not in mem.scene_graph().nodes and oid not in mem.temporal_scene_graph().nodes
    files = set(mem.store.keyframe_files())
    assert not (refs & files)
    assert mem.observations(object_id=oid) == []
    assert mem.count_observations() == n_before - len(obs_ids)
    # no evidence anywhere points at what was deleted
    for e in mem.changes():
        assert not (set(e.evidence.observation_ids) & set(obs_ids)) and not (set(e.evidence.keyframe_refs) & refs)
    # only the fact remains
    rows = mem.store.query("SELECT stamp_ns, observations, keyframes FROM forgets")
    assert rows == [(mem.now_ns(), len(obs_ids), res.keyframes_deleted)]
    assert mem.store.integrity_check() == "ok"
    mem.close()
    mem2 = MemoryCore.open(path, vocab=vocab)                      # and it stays forgotten
    assert oid not in mem2.objects() and mem2.observations(object_id=oid) == []
    mem2.close()


def test_forget_by_class_room_and_window(tmp_path, vocab):
    path = str(tmp_path / "m.db")
    world = SyntheticHousehold(SynthConfig(seed=9, n_rooms=3, jpeg_bytes=100))
    mem = MemoryCore.open(path, vocab=vocab)
    run_days(mem, world, 3)
    # a class, by a plural or synonym
    classes = [mem.get_object(o).class_name for o in mem.objects()]
    cls = max(set(classes) - {"dining table", "counter", "desk", "bookshelf", "coffee table", "tv stand",
                                "nightstand", "dresser"}, key=classes.count)
    phrase = {"mug": "coffee cups", "phone": "cell phones", "remote control": "remotes"}.get(cls, cls + "s")
    assert mem.last_seen(cls)
    res = mem.forget(class_name=phrase)
    assert res.observations_deleted > 0 and mem.last_seen(cls) == []
    assert all(o.class_name != cls for o in mem.observations())
    # a time window: day 1 is gone, days 0 and 2 remain
    d1 = (NS_PER_DAY, 2 * NS_PER_DAY - 1)
    n_views_d1 = mem.store.query("SELECT count(*) FROM views WHERE stamp_ns BETWEEN ? AND ?", d1)[0][0]
    assert n_views_d1 > 0
    mem.forget(start_ns=d1[0], end_ns=d1[1])
    assert mem.count_observations(*d1) == 0 and mem.count_observations(0, NS_PER_DAY) > 0
    assert mem.store.query("SELECT count(*) FROM views WHERE stamp_ns BETWEEN ? AND ?", d1)[0][0] == 0
    for oid in mem.objects():
        for h in mem.history(oid):
            assert all(not (d1[0] <= t <= d1[1]) for t in h.evidence.stamps_ns)   # no evidence from day 1
    assert all(not (d1[0] <= e.stamp_ns <= d1[1]) for e in mem.changes())
    # a room
    mem.forget(room_id=1)
    assert all(o.room_id != 1 for o in mem.observations())
    assert mem.objects_in(room_id=1) == []
    kept = {r for (r,) in mem.store.query("SELECT ref FROM keyframes WHERE thinned = 0")}
    assert set(mem.store.keyframe_files()) == kept
    assert [r[1:] for r in mem.store.query("SELECT * FROM forgets")][0][0] > 0
    assert len(mem.store.query("SELECT * FROM forgets")) == 3
    with pytest.raises(InputError):
        mem.forget()
    mem.close()


def test_forget_needs_a_store(vocab):
    with pytest.raises(StoreError):
        MemoryCore.in_memory(vocab=vocab).forget(class_name="mug")


def test_forget_leaves_no_trace_in_the_files(tmp_path, vocab):
    """After forgetting a class, its name is in no byte of the database, its WAL or any keyframe."""
    from memory_nodes.common.types import ObjectObservation, PerceptionOutput
    path = str(tmp_path / "m.db")
    mem = MemoryCore.open(path, vocab=vocab)
    world = SyntheticHousehold(SynthConfig(seed=8, n_rooms=2, jpeg_bytes=100))
    run_days(mem, world, 1)
    p = np.array([1.0, 1.0, 0.8])
    t0 = mem.now_ns() + 10**9
    for k in range(4):
        t = t0 + k * 10**8
        mem.ingest(PerceptionOutput(t, [ObjectObservation(t, "Zebra_Figurine", 0.9, p, p - 0.05, p + 0.05, 50,
                                                          (0.9, 0.9, 0.9), None, 1.0)]))
    mem.commit()
    assert mem.last_seen("zebra figurine")
    wal = Path(path + "-wal")
    assert b"ebra" in Path(path).read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    mem.forget(class_name="zebra figurines")
    assert mem.last_seen("zebra figurine") == []
    blob = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert b"ebra" not in blob and b"EBRA" not in blob
    run_days(mem, world, 1, first_day=1)                 # and it keeps working
    assert mem.store.integrity_check() == "ok"
    mem.close()
