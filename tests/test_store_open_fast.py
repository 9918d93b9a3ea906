"""What an open no longer reads in full: the observation count comes from the meta row each commit keeps
(counted again where it cannot be trusted: an older store, after a forget, after rows a commit refused),
and the scan of every keyframe file for orphans runs only after a run that did not close cleanly (orphans
come from a crash between writing a file and committing its row)."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bench.reliability import _cfg, _frames
from memory_nodes.memory import MemoryCore
from memory_nodes.vocab import default_vocabulary


@pytest.fixture(scope="module")
def frames():
    return _frames(120, seed=8)


def _open(p: Path) -> MemoryCore:
    return MemoryCore.open(str(p), _cfg(str(p)), default_vocabulary())


def _rows(mem: MemoryCore) -> int:
    return int(mem.store.query("SELECT count(*) FROM observations")[0][0])


def test_the_observation_count_is_kept_in_meta_and_true_after_every_change(tmp_path, frames):
    p = tmp_path / "m.db"
    mem = _open(p)
    for f in frames[:60]:
        mem.ingest(f)
    mem.close()
    mem = _open(p)
    st = mem.store
    assert st.meta("observations_count", "") == str(_rows(mem)) == str(mem.count_observations())
    assert mem.count_observations() > 0
    for f in frames[60:]:
        mem.ingest(f)
    mem.commit()
    assert mem.count_observations() == _rows(mem)
    obj = mem.objects()[0]
    mem.forget(object_id=obj)                       # rows deleted outside the batch: counted at its reload
    assert mem.count_observations() == _rows(mem)
    mem.close()
    mem = _open(p)
    assert mem.count_observations() == _rows(mem) == int(mem.store.meta("observations_count", "-1"))
    mem.close()
    with sqlite3.connect(p) as c:                   # a store written before the count was kept
        c.execute("DELETE FROM meta WHERE key = 'observations_count'")
    c.close()
    mem = _open(p)
    assert mem.store.meta("observations_count", "") == "" and mem.count_observations() == _rows(mem)
    mem.close()


def test_orphan_scan_only_after_a_run_that_did_not_close_cleanly(tmp_path, frames):
    p = tmp_path / "m.db"
    mem = _open(p)
    for f in frames[:60]:
        mem.ingest(f)
    mem.commit()
    # a crash image: the files as they are now, while the memory is open (no clean close yet)
    crash = tmp_path / "crash"
    crash.mkdir()
    for suffix in ("", "-wal"):
        if Path(f"{p}{suffix}").exists():
            shutil.copy(f"{p}{suffix}", crash / f"m.db{suffix}")
    shutil.copytree(f"{p}.keyframes", crash / "m.db.keyframes")
    mem.close()
    again = _open(p)
    assert again.store.orphan_scan == "skipped (closed cleanly)" and again.store.orphans_removed == 0
    again.close()
    q = crash / "m.db"
    stray = q.parent / "m.db.keyframes" / "ab" / ("ab" + "0" * 30 + ".jpg")   # written, never committed
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"\xff\xd8 not committed")
    after = _open(q)
    assert after.store.orphan_scan == "done" and after.store.orphans_removed >= 1 and not stray.exists()
    assert after.store.orphan_keyframe_files() == []
    after.close()
    assert _open(q).store.orphan_scan == "skipped (closed cleanly)"


def test_a_commit_that_refused_rows_counts_the_observations_again(tmp_path, frames):
    p = tmp_path / "m.db"
    mem = _open(p)
    for f in frames[:10]:
        mem.ingest(f)
    n = mem.count_observations()
    mem.store.queue("INSERT INTO observations (id) VALUES (?)", (None,))     # refused: NOT NULL columns
    mem.state.counts["observations"] += 1                                    # as ingest counts a row it queues
    mem.commit()
    assert mem.store.rejected_rows == 1 and mem.count_observations() == _rows(mem) == n
    mem.close()
    assert _open(p).count_observations() == n
