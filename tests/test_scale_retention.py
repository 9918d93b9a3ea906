"""bench.scale's generator (a household patrolled several times a day at 5 Hz) and the retention policy's
promise: consolidating old raw observations never changes an answer ("when did you last see X",
"where was X on day D"), before or after reopening the store."""
from __future__ import annotations

import numpy as np
import pytest

from bench.scale import DAILY_MOVERS, ScaleConfig, ScaleHousehold
from memory_nodes.common.errors import ConfigError
from memory_nodes.memory import MemoryConfig, MemoryCore, RetentionConfig, StoreConfig
from memory_nodes.memory.config import NS_PER_DAY, NS_PER_S
from memory_nodes.vocab import VocabConfig, Vocabulary

SMALL = ScaleConfig(seed=3, n_rooms=2, objects_per_room=6, stops_per_room=2, yaw_steps=8, passes_per_day=3,
                    view_every=4, jpeg_bytes=64)
DAYS = 4


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def test_generator_revisits_every_place_at_camera_rate():
    w = ScaleHousehold(SMALL)
    frames = list(w.day_frames(0))
    assert len(frames) == w.frames_per_day() == 3 * 4 * 8
    stamps = [f.stamp_ns for f in frames]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    per_pass = len(frames) // SMALL.passes_per_day
    assert stamps[1] - stamps[0] == int(0.2 * NS_PER_S)                  # 5 Hz within a pass
    assert stamps[per_pass] - stamps[0] >= 3600 * NS_PER_S               # passes spread over the day
    places = [[f.place_id for f in frames[k * per_pass:(k + 1) * per_pass]] for k in range(3)]
    assert places[0] == places[1] == places[2]                           # every pass revisits every place
    assert sum(len(f.observations) for f in frames) > 0.5 * len(frames)  # detections in most frames
    assert sum(f.view is not None for f in frames) == len(frames) // SMALL.view_every


def test_generator_objects_mostly_stay_put():
    w = ScaleHousehold(ScaleConfig(seed=1))
    for d in range(6):
        w.apply_day_changes(d)
    moved = [c for c in w.changes if c.kind == "moved"]
    small = [o for o in w.objects.values() if not o.furniture]
    movers = {o.gt_id for o in small if o.class_name in DAILY_MOVERS}
    assert moved and len(moved) < len(small) * 5 * 0.5                  # most objects stay put
    by_mover = sum(c.gt_id in movers for c in moved)
    assert by_mover / max(1, len(moved)) > len(movers) / len(small)      # daily movers move more often


def _answers(mem: MemoryCore):
    """last_seen now and before chosen times, where_at on each day: the facts consolidation must keep."""
    def key(s):
        if s is None:
            return None
        ev = s.evidence
        return (s.object_id, tuple(np.round(s.position_m, 9)), s.place_id, s.room_id, s.first_seen_ns,
                s.last_seen_ns, round(s.p_still_there, 12), tuple(ev.observation_ids), tuple(ev.stamps_ns),
                tuple(ev.keyframe_refs))
    span = SMALL.active_hours * 3600.0 / SMALL.passes_per_day
    times = [d * NS_PER_DAY + int((8 * 3600.0 + p * span - 1.0) * NS_PER_S)
             for d in range(DAYS) for p in range(SMALL.passes_per_day)] + [d * NS_PER_DAY - 1 for d in
                                                                         range(1, DAYS + 1)]
    out = {}
    for oid in mem.objects():
        out[(oid, "now")] = key(mem.last_seen(oid)[0] if mem.last_seen(oid) else None)
        for t in times:
            hits = mem.last_seen(oid, before_ns=t)
            out[(oid, "before", t)] = key(hits[0]) if hits else None
        for d in range(DAYS):
            out[(oid, "day", d)] = key(mem.where_at(oid, d * NS_PER_DAY + 14 * 3600 * NS_PER_S))
        out[(oid, "history")] = [(h.start_ns, h.end_ns, h.place_id) for h in mem.history(oid)]
    out["count"] = {c: mem.count(c)[0] for c in ("mug", "book", "keys", "phone", "bowl")}
    return out


def test_consolidation_keeps_every_answer(tmp_path, vocab):
    path = str(tmp_path / "m.db")
    store = StoreConfig(path=path, synchronous="NORMAL", fsync_keyframes=False)
    raw = MemoryConfig(store=store, retention=RetentionConfig(keep_all_days=1.0, keep_raw_days=0.0))
    mem = MemoryCore.open(path, raw, vocab=vocab)          # every raw observation kept
    w = ScaleHousehold(SMALL)
    for d in range(DAYS):
        for out in w.day_frames(d):
            mem.ingest(out)
    mem.commit()
    raw_before = int(mem.store.query("SELECT count(*) FROM observations")[0][0])
    before = _answers(mem)
    assert len(before) > 20 and raw_before == mem.count_observations()
    mem.close()
    cfg = MemoryConfig(store=store, retention=RetentionConfig(keep_all_days=1.0, keep_raw_days=1.0,
                                                              raw_run_gap_s=60.0))
    mem = MemoryCore.open(path, cfg, vocab=vocab)
    st = mem.store
    far = mem.now_ns() + 30 * NS_PER_DAY
    for _ in range(4 * DAYS + 8):              # a slice (<= 6 h) per run: until nothing is left
        mem.apply_retention(far)
    mem.commit()
    raw_after = int(st.query("SELECT count(*) FROM observations")[0][0])
    snaps = st.query("SELECT count(*), sum(n_obs) FROM place_days")[0]
    assert raw_after <= 0.9 * raw_before and snaps[0] > 0 and snaps[1] >= raw_before - raw_after
    assert int(st.meta("consolidated_through_ns", "-1")) >= mem.now_ns()
    assert mem.stats()["observations"] == raw_after
    assert _answers(mem) == before
    mem.close()
    again = MemoryCore.open(path, cfg, vocab=vocab)
    try:
        assert _answers(again) == before
        assert again.count_observations() == raw_after
    finally:
        again.close()


def test_forget_removes_the_place_snapshots_too(tmp_path, vocab):
    path = str(tmp_path / "f.db")
    cfg = MemoryConfig(store=StoreConfig(path=path, synchronous="NORMAL", fsync_keyframes=False),
                       retention=RetentionConfig(keep_all_days=1.0, keep_raw_days=1.0))
    mem = MemoryCore.open(path, cfg, vocab=vocab)
    w = ScaleHousehold(SMALL)
    for d in range(3):
        for out in w.day_frames(d):
            mem.ingest(out)
    mem.apply_retention(mem.now_ns() + 30 * NS_PER_DAY)
    mem.commit()
    st = mem.store
    oid = mem.objects()[0]
    tid = int(oid.split("_")[1])
    assert st.query("SELECT count(*) FROM place_days WHERE object_id = ?", (tid,))[0][0] > 0
    mem.forget(object_id=oid)
    assert mem.store.query("SELECT count(*) FROM place_days WHERE object_id = ?", (tid,))[0][0] == 0
    mem.close()


def test_consolidation_is_off_by_default():
    assert RetentionConfig().keep_raw_days == 0.0
    with pytest.raises(ConfigError, match="keep_raw_days"):
        RetentionConfig(keep_raw_days=-1.0).validate()
