"""Resends are idempotent and nothing unacknowledged is lost (pure: no rclpy).

Memory's one-frame-per-stamp policy (memory/ingest.py ``_check_duplicate``): an exact re-send is refused
(duplicate_frame), a different frame at a stamp already taken is refused (conflicting_frame), both in the
run that stored the frame and after a restart; perception's ResendRing (perception/resend.py) keeps what no
memory that received it has acknowledged and gives it back, in order, to a memory heard from first.
"""
from __future__ import annotations

import copy
import sqlite3

import pytest

from bench.reliability import _cfg, _frames
from memory_nodes.common.errors import InputError
from memory_nodes.memory import MemoryCore
from memory_nodes.perception.resend import ResendRing
from memory_nodes.vocab import default_vocabulary


def _stored(path: str) -> dict:
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(c.execute("SELECT stamp_ns, count(*) FROM observations GROUP BY stamp_ns").fetchall())
    finally:
        c.close()


def _with_obs(frames):
    return [f for f in frames if f.observations]


def test_one_frame_per_stamp_exact_resend_and_conflicting_frame(tmp_path):
    path = str(tmp_path / "m.db")
    frames = _with_obs(_frames(40))
    mem = MemoryCore.open(path, _cfg(path), default_vocabulary())
    for f in frames[:20]:
        mem.ingest(f)
    with pytest.raises(InputError) as e:
        mem.ingest(frames[10])                               # the same message again
    assert e.value.cause == "duplicate_frame"
    near = copy.copy(frames[11])
    obs = copy.copy(near.observations[0])
    obs.score = min(1.0, obs.score + 0.05) if obs.score < 0.99 else obs.score - 0.05
    near.observations = [obs] + list(near.observations[1:])
    with pytest.raises(InputError) as e:
        mem.ingest(near)                                     # one score changed, same stamp
    assert e.value.cause == "conflicting_frame"
    mem.commit()
    mem.close()
    before = _stored(path)
    assert sum(before.values()) == sum(len(f.observations) for f in frames[:20]) - _refused(mem)

    # a restart: the duplicate check starts empty, the store answers for stamps at or before its watermark
    mem = MemoryCore.open(path, _cfg(path), default_vocabulary())
    for f in frames[15:20]:
        with pytest.raises(InputError) as e:
            mem.ingest(f)
        assert e.value.cause == "duplicate_frame"
    for f in frames[20:]:
        mem.ingest(f)
    mem.commit()
    mem.close()
    after = _stored(path)
    assert {t: n for t, n in after.items() if t in before} == before      # nothing stored twice
    assert set(after) == {f.stamp_ns for f in frames}


def _refused(mem) -> int:
    store = mem.store
    return store.rejected_rows if store is not None else 0


def test_ring_acknowledges_only_what_a_memory_received():
    ring = ResendRing(max_frames=100, max_bytes=10 ** 6)
    assert ring.acked("m1", 0, 0.0) == []                     # memory 1 heard from, nothing held
    for t in range(1, 11):
        ring.sent(t, f"f{t}", 10)
    assert ring.acked("m1", 6, 0.5) == [] and len(ring) == 4  # 1..6 stored by the memory that got them
    # memory 1 dies (kill -9) with 7..10 in flight; 11..13 are sent while it is down
    for t in range(11, 14):
        ring.sent(t, f"f{t}", 10)
    # memory 2 (the restart) stored 12 and 13 (it came up in time for them) and says so first
    assert ring.acked("m2", 13, 5.0) == [f"f{t}" for t in range(7, 14)]   # ... it gets all 7, in order
    assert len(ring) == 7 and ring.resent == 7
    assert ring.acked("m2", 13, 5.5) == [] and len(ring) == 0
    assert ring.nbytes == 0 and ring.dropped == 0


def test_ring_bounds_drop_the_oldest_and_count_them():
    ring = ResendRing(max_frames=5, max_bytes=35)
    assert [ring.sent(t, t, 10) for t in range(1, 5)] == [0, 0, 0, 1]     # 40 bytes > 35: one dropped
    assert ring.sent(5, 5, 1) == 0 and ring.sent(6, 6, 1) == 0
    assert ring.sent(7, 7, 1) == 1 and len(ring) == 5 and ring.dropped == 2   # 6 frames > 5
    assert ring.acked("m", 10, 0.0) == [3, 4, 5, 6, 7]
    off = ResendRing(max_frames=0, max_bytes=1)
    assert off.sent(1, 1, 1) == 0 and len(off) == 0 and off.acked("m", 0, 0.0) == []
    with pytest.raises(ValueError):
        ResendRing(-1, 1)


def test_ring_resends_everything_to_a_memory_that_was_silent():
    """Memory deactivated and activated again (the same process, the same id): frames sent meanwhile were sent
    "to" it but never received; silent more than silence_s, it gets every kept frame when heard again."""
    ring = ResendRing(max_frames=100, max_bytes=10 ** 6, silence_s=3.0)
    assert ring.acked("m", 0, 0.0) == []
    for t in (1, 2, 3):
        ring.sent(t, t, 1)
    assert ring.acked("m", 1, 1.0) == [] and len(ring) == 2         # heard within 3 s: nothing resent
    assert ring.acked("m", 1, 9.0) == [2, 3]                         # 8 s of silence: 2 and 3 again
    assert ring.acked("m", 3, 9.5) == [] and len(ring) == 0


def test_ring_says_when_a_frame_would_not_fit_so_the_node_can_refuse_it():
    """resend.when_full = refuse: the node asks room_for before sending; a full ring keeps every frame it holds
    (nothing dropped), and room comes back as soon as a memory acknowledges."""
    ring = ResendRing(max_frames=3, max_bytes=25)
    assert ring.acked("m", 0, 0.0) == []
    sent = []
    for t in range(1, 6):
        if ring.room_for(10):
            ring.sent(t, t, 10)
            sent.append(t)
    assert sent == [1, 2] and ring.dropped == 0          # a third 10-byte frame would pass 25 bytes
    assert ring.room_for(5) and not ring.room_for(6)
    ring.sent(3, 3, 5)
    assert not ring.room_for(0) and ring.dropped == 0    # 3 frames: full by count
    assert ring.acked("m", 2, 0.5) == [] and len(ring) == 1 and ring.room_for(10)
    big = ResendRing(max_frames=3, max_bytes=5)
    assert big.room_for(100)                             # an empty ring takes any one frame (sent keeps one)
    assert ResendRing(max_frames=0, max_bytes=1).room_for(10 ** 9)   # ring off: nothing held, nothing refused


def test_perception_config_checks_the_full_ring_policy():
    from memory_nodes.common.errors import ConfigError
    from memory_nodes.perception.config import ResendConfig
    ResendConfig(when_full="drop_oldest").validate()
    with pytest.raises(ConfigError):
        ResendConfig(when_full="block").validate()
