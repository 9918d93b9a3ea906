"""The durable ingest path made faster keeps its contract: fsync'd keyframes are written by a writer thread
and a commit waits for them (a keyframe is on disk before the commit that references it returns; a failed
write keeps the batch and the watermark), the tracks row's cached JSON is the JSON of the track, and the
synthetic household's frames are what they were (one random stream, drawn in the same order)."""
from __future__ import annotations

import errno
import hashlib
import json
import math

import numpy as np

from memory_nodes.memory import MemoryConfig, MemoryCore
from memory_nodes.memory.config import StoreConfig
from memory_nodes.memory.repository.store import dumps
from memory_nodes.memory.repository.tables import track_json
from memory_nodes.memory.synthetic import SynthConfig, SyntheticHousehold
from memory_nodes.vocab import default_vocabulary


def _world(seed: int = 3) -> SyntheticHousehold:
    return SyntheticHousehold(SynthConfig(seed=seed, n_rooms=2, objects_per_room=5, yaw_steps=8, jpeg_bytes=64))


def _durable(path: str) -> MemoryConfig:
    return MemoryConfig(store=StoreConfig(path=path, synchronous="FULL", fsync_keyframes=True,
                                          commit_every_frames=4))


def test_fsynced_keyframes_are_on_disk_when_their_commit_returns(tmp_path):
    path = str(tmp_path / "m.db")
    mem = MemoryCore.open(path, _durable(path), default_vocabulary())
    frames = [f.out for f in _world().day(0)]
    for out in frames:
        if mem.ingest(out) is not None:
            st = mem.store
            refs = [r for (r,) in st.query("SELECT ref FROM keyframes")]
            assert refs and all(st.keyframe_path(r).is_file() for r in refs)
    w = mem.commit()
    assert w == frames[-1].stamp_ns
    mem.close()
    again = MemoryCore.open(path, _durable(path), default_vocabulary())
    st = again.store
    refs = [r for (r,) in st.query("SELECT ref FROM keyframes")]
    assert len(refs) == sum(1 for f in frames if f.view is not None)
    assert all(st.read_keyframe(r) is not None for r in refs) and st.orphan_keyframe_files() == []
    again.close()


def test_a_failed_keyframe_write_keeps_the_batch_and_the_watermark(tmp_path):
    path = str(tmp_path / "m.db")
    mem = MemoryCore.open(path, _durable(path), default_vocabulary())
    frames = [f.out for f in _world().day(0)]
    half = len(frames) // 2
    for out in frames[:half]:
        mem.ingest(out)
    w0 = mem.commit()
    st = mem.store

    def enospc(ref, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    real, st._write_file = st._write_file, enospc
    for out in frames[half:]:
        assert mem.ingest(out) is None                   # nothing acknowledged while keyframes fail
    assert mem.store_fault is not None and mem.store_fault.fault == "disk_full"
    assert mem.ingested_through_ns == w0 and st.unwritten_keyframes > 0
    st._write_file = real
    assert mem.commit() == frames[-1].stamp_ns and mem.store_fault is None
    assert st.unwritten_keyframes == 0
    refs = [r for (r,) in st.query("SELECT ref FROM keyframes")]
    assert all(st.read_keyframe(r) is not None for r in refs)
    mem.close()


def test_track_json_is_the_tracks_json():
    mem = MemoryCore.in_memory(vocab=default_vocabulary())
    world = _world(5)
    for d in range(2):
        for f in world.day(d):
            mem.ingest(f.out)
            for t in list(mem.state.tracks.values())[:5]:
                assert json.loads(track_json(t)) == json.loads(dumps(t.to_json()))
    assert mem.state.tracks


def test_synthetic_frames_are_what_they_were():
    """A digest of two days of frames, taken with the generator before its geometry was vectorised: the
    same draws in the same order give the same frames, bit for bit — but for each detection's score and
    distance, which come out of a matrix product whose last bit depends on the BLAS kernel the CPU gets
    (OpenBLAS's Haswell and SkylakeX kernels differ by 1e-16 there): those are compared as sums, to 1e-12."""
    w = _world(9)
    h = hashlib.sha256()
    scores, dists = [], []
    for d in range(2):
        for f in w.day(d):
            h.update(repr(f.truth).encode())
            for o in f.out.observations:
                h.update(repr((o.class_name, tuple(map(float, o.color_rgb)))).encode())
                h.update(np.asarray(o.centroid_m, float).tobytes())
                scores.append(float(o.score))
                dists.append(float(o.distance_m))
            if f.out.view is not None:
                h.update(f.out.view.depth_m.tobytes())
                h.update(f.out.view.color_jpeg)
    assert h.hexdigest()[:16] == "1c53dfc8b0276eaf"
    assert len(scores) == 62
    assert math.isclose(sum(scores), 50.172818762148665, rel_tol=1e-12)
    assert math.isclose(sum(dists), 107.72100729350254, rel_tol=1e-12)
    assert math.isclose(float(np.dot(scores, dists)), 87.18181314293349, rel_tol=1e-12)


def test_expired_tentative_tracks_go_when_due_without_a_scan_per_frame():
    """expire_tentative skips its scan while no tentative track can be due; after every frame none is
    older than the TTL, also when a detection carries a stamp older than its frame's."""
    from memory_nodes.common.types import ObjectObservation, PerceptionOutput
    from memory_nodes.memory.config import NS_PER_S
    from memory_nodes.memory.records import TENTATIVE

    mem = MemoryCore.in_memory(vocab=default_vocabulary())
    ttl = int(mem.config.association.tentative_ttl_s * NS_PER_S)

    def check(t: int) -> None:
        assert all(t - tr.last_seen_ns <= ttl for tr in mem.state.tracks.values() if tr.status == TENTATIVE)

    frames = [f.out for f in _world(4).day(0)]
    for out in frames:
        mem.ingest(out)
        check(out.stamp_ns)
    t = frames[-1].stamp_ns + NS_PER_S
    c = np.array([9.0, 9.0, 0.5])
    old = ObjectObservation(t - ttl + 2 * NS_PER_S, "mug", 0.9, c, c - 0.05, c + 0.05, 100, (0.2, 0.3, 0.4), None,
                            2.0, "", -1)      # seen 2 s before the TTL runs out at t
    mem.ingest(PerceptionOutput(t, [old]))
    assert any(tr.status == TENTATIVE and tr.last_seen_ns == old.stamp_ns for tr in mem.state.tracks.values())
    for k in range(1, 6):
        mem.ingest(PerceptionOutput(t + k * NS_PER_S, []))
        check(t + k * NS_PER_S)
    assert not any(tr.last_seen_ns == old.stamp_ns for tr in mem.state.tracks.values())
