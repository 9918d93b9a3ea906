"""A large store's pages are checked after it opened (repository/page_check.py): open does not wait for a
scan of every page, a healthy store's check ends ok, and damage found after open stops every later commit
with a 'corrupt' StoreError while the batch stays queued (nothing written into the damaged file, nothing
lost from RAM). A store under store.open_check_max_mb is still refused at open, unchanged."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bench.reliability import _cfg, _frames, _garble, _page_of, _rollback
from memory_nodes.common.errors import ConfigError, StoreError
from memory_nodes.memory import MemoryCore
from memory_nodes.memory.config import StoreConfig
from memory_nodes.vocab import default_vocabulary


@pytest.fixture(scope="module")
def frames():
    return _frames(120, seed=6)


def _store(tmp_path: Path, frames, n: int = 80) -> Path:
    p = tmp_path / "m.db"
    mem = MemoryCore.open(str(p), _cfg(str(p)), default_vocabulary())
    for f in frames[:n]:
        mem.ingest(f)
    mem.close()
    return p


def _big(path: Path, max_mb: float = 1e-6):
    """The node's config with every store counted as large."""
    c = _cfg(str(path))
    c.store = dataclasses.replace(c.store, open_check_max_mb=max_mb)
    return c


def _damage_an_index_page(p: Path) -> None:
    """Garble a page of an index that loading the records never reads (only a page scan finds it)."""
    _rollback(p)
    _garble(p, (_page_of(p, "observations_stamp") - 1) * 4096 + 8, 600)


def test_a_large_healthy_store_opens_then_its_check_ends_ok(tmp_path, frames):
    p = _store(tmp_path, frames)
    mem = MemoryCore.open(str(p), _big(p), default_vocabulary())
    st = mem.store
    assert st._page_check is not None and st._page_check.wait(30) == "ok" and st.page_check == "ok"
    for f in frames[80:]:
        mem.ingest(f)
    mem.commit()
    mem.close()
    small = MemoryCore.open(str(p), _cfg(str(p)), default_vocabulary())
    assert small.store.page_check == "ok (at open)" and small.store._page_check is None
    small.close()


def _bytes_of(*paths):
    return [q.read_bytes() if q.exists() else None for q in paths]


def test_damage_found_after_open_stops_commits_and_keeps_the_batch(tmp_path, frames):
    p = _store(tmp_path, frames)
    _damage_an_index_page(p)
    with pytest.raises(StoreError) as e:            # a small store: refused at open, as before
        MemoryCore.open(str(p), _cfg(str(p)), default_vocabulary())
    assert e.value.fault == "corrupt"
    mem = MemoryCore.open(str(p), _big(p), default_vocabulary())   # a large one opens ...
    st = mem.store
    assert st._page_check.wait(30).startswith("damaged: ")
    through = mem.ingested_through_ns
    wal = Path(f"{p}-wal")
    before = _bytes_of(p, wal)                      # the open itself marks the store as in use (closed_cleanly=0)
    for f in frames[80:]:
        mem.ingest(f)                               # ... and takes input into RAM
    with pytest.raises(StoreError) as e:
        mem.commit()
    assert e.value.fault == "corrupt" and str(p) in str(e.value) and "after open" in str(e.value)
    assert st.has_pending and mem.ingested_through_ns == through   # nothing acknowledged, nothing dropped
    assert mem.store_fault is not None and mem.store_fault.fault == "corrupt"
    with pytest.raises(StoreError):
        mem.commit()                                # every later commit too
    assert _bytes_of(p, wal) == before              # not a byte written after the damage was found


def test_close_interrupts_a_running_check(tmp_path, frames):
    p = _store(tmp_path, frames)
    mem = MemoryCore.open(str(p), _big(p), default_vocabulary())
    chk = mem.store._page_check
    mem.close()
    assert not chk.running and chk.state in ("ok", "not finished: the store closed first")


def test_open_check_max_mb_is_validated():
    with pytest.raises(ConfigError):
        StoreConfig(open_check_max_mb=-1.0).validate()
