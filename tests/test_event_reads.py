"""The change-event reads (memory/event_reads.py): changes_of reads a per-object index of the change log
that events.EventLog keeps in step as events are added and retracted; its answers must be those of the
plain scan of the log it replaced, live and after reopening, in a fork, and with windows."""
from __future__ import annotations

import pytest

from bench.scale import ScaleConfig, ScaleHousehold
from memory_nodes.memory import MemoryConfig, MemoryCore, StoreConfig
from memory_nodes.memory.config import NS_PER_DAY
from memory_nodes.vocab import VocabConfig, Vocabulary

# a small household whose daily movers make moved / disappeared / appeared events within days
WORLD = ScaleConfig(seed=5, n_rooms=2, objects_per_room=10, stops_per_room=2, yaw_steps=8, passes_per_day=4,
                    view_every=4, jpeg_bytes=64, p_move_daily_mover=0.9, p_move_other=0.2)


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def _scan(mem: MemoryCore, query: str, lo=None, hi=None):
    """changes_of as the plain scan: every event in the window whose object is one the query names."""
    ids = {t.id for t in mem._queries.tracks_for(query)}
    return [mem._queries.event_out(e) for e in mem._queries._events_between(lo, hi) if e.object_id in ids]


def _key(evs):
    return [(e.kind, e.object_id, e.stamp_ns, e.from_room_id, e.to_room_id, tuple(e.evidence.observation_ids))
            for e in evs]


def _check(mem: MemoryCore) -> int:
    classes = sorted({mem.get_object(o).class_name for o in mem.objects(include_missing=True)})
    t0, t1 = mem.episodes()[0][0], mem.now_ns()
    n = 0
    for c in classes + [mem.objects(include_missing=True)[0]]:
        for lo, hi in ((None, None), (t0 + NS_PER_DAY, None), (None, t1 - NS_PER_DAY),
                       (t0 + NS_PER_DAY, t0 + 2 * NS_PER_DAY)):
            got = mem.changes_of(c, lo, hi)
            assert _key(got) == _key(_scan(mem, c, lo, hi))
            assert [e.stamp_ns for e in got] == sorted(e.stamp_ns for e in got)
            n += len(got)
    return n


def test_changes_of_index_matches_the_scan_live_reopened_and_forked(tmp_path, vocab):
    path = str(tmp_path / "m.db")
    cfg = MemoryConfig(store=StoreConfig(path=path, synchronous="NORMAL", fsync_keyframes=False))
    mem = MemoryCore.open(path, cfg, vocab=vocab)
    w = ScaleHousehold(WORLD)
    for out in w.day_frames(0):
        mem.ingest(out)
    mem.changes_of("mug")                  # the index is built now, then kept in step by every add / delete
    assert mem.state.events_by_object is not None
    for d in range(1, 4):
        for out in w.day_frames(d):
            mem.ingest(out)
    mem.commit()
    assert len(mem.state.events) > 10
    by = mem.state.events_by_object
    assert sum(len(v) for v in by.values()) == len(mem.state.events)
    for oid, evs in by.items():
        assert [e.object_id for e in evs] == [oid] * len(evs)
        assert [(e.stamp_ns, e.id) for e in evs] == sorted((e.stamp_ns, e.id) for e in evs)
    assert _check(mem) > 0
    f = mem.fork()
    assert f.state.events_by_object is None          # a fork builds its own index
    for out in w.day_frames(4):
        f.ingest(out)
    assert _check(f) > 0
    assert len(f.state.events) > len(mem.state.events) and _check(mem) > 0   # the fork's events stay its own
    n_live = len(mem.state.events)
    mem.close()
    mem = MemoryCore.open(path, cfg, vocab=vocab)
    assert len(mem.state.events) == n_live and _check(mem) > 0
    mem.close()


def test_retracting_an_event_takes_it_out_of_the_index(vocab):
    mem = MemoryCore.in_memory(vocab=vocab)
    w = ScaleHousehold(WORLD)
    for d in range(3):
        for out in w.day_frames(d):
            mem.ingest(out)
    log = mem._tracker.events
    e = mem.state.events[len(mem.state.events) // 2]
    oid = e.object_id
    before = len(mem.state.object_events()[oid])
    log.delete(e.id)
    assert all(x is not e for x in mem.state.object_events().get(oid, []))
    assert len(mem.state.object_events().get(oid, [])) == before - 1
    assert _check(mem) > 0
    only = [x for x in mem.state.events if len(mem.state.object_events()[x.object_id]) == 1]
    if only:                                   # an object's last event gone: its entry goes too
        log.delete(only[0].id)
        assert only[0].object_id not in mem.state.object_events()


def test_changes_in_a_room_keep_events_leaving_or_entering_it(vocab):
    mem = MemoryCore.in_memory(vocab=vocab)
    w = ScaleHousehold(WORLD)
    for d in range(3):
        for out in w.day_frames(d):
            mem.ingest(out)
    every = mem.changes()
    rooms = {r for e in every for r in (e.from_room_id, e.to_room_id) if r >= 0}
    assert rooms
    for r in rooms:
        assert _key(mem.changes(room_id=r)) == _key([e for e in every if r in (e.from_room_id, e.to_room_id)])
