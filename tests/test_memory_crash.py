"""Crash safety: a writer process is killed with SIGKILL at random moments, again and again; every time
the store reopens, passes PRAGMA integrity_check, and holds every observation the writer acknowledged
(stamped at or before the ingested_through it had reported)."""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from memory_nodes.memory import MemoryCore
from memory_nodes.vocab import VocabConfig, Vocabulary

REPO = Path(__file__).resolve().parents[1]

# The writer continues the store from where it stands (day after its last acknowledged input), ingests
# synthetic days frame by frame, and after every commit prints "ACK <through_ns> <observations stamped
# at or before through_ns that this run ingested>" (flushed: a line on the pipe is an acknowledgement).
WRITER = r"""
import sys
from memory_nodes.memory import MemoryCore, MemoryConfig, StoreConfig
from memory_nodes.memory.config import NS_PER_DAY
from memory_nodes.memory.synthetic import SynthConfig, SyntheticHousehold
from memory_nodes.vocab import Vocabulary, VocabConfig
path, seed = sys.argv[1], int(sys.argv[2])
cfg = MemoryConfig(store=StoreConfig(path=path, commit_every_frames=4, commit_every_s=10.0))
mem = MemoryCore.open(path, cfg, vocab=Vocabulary(VocabConfig(allow_model=False)))
start_day = max(0, mem.ingested_through_ns) // NS_PER_DAY + 1
world = SyntheticHousehold(SynthConfig(seed=seed, n_rooms=2, jpeg_bytes=256))
print("START", start_day * NS_PER_DAY, flush=True)
stamps = []
for day in range(start_day, start_day + 1000):
    for f in world.day(day):
        stamps.extend(o.stamp_ns for o in f.out.observations)
        through = mem.ingest(f.out)
        if through is not None:
            print("ACK", through, sum(1 for s in stamps if s <= through), flush=True)
"""


def _run_and_kill(path: str, seed: int, rng: random.Random):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, "-c", WRITER, path, str(seed)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, text=True, bufsize=1)
    start = None
    acks = []
    try:
        line = p.stdout.readline()
        assert line.startswith("START"), line + p.stderr.read()
        start = int(line.split()[1])
        line = p.stdout.readline()               # wait for the first commit, then kill at a random moment
        assert line.startswith("ACK"), line + p.stderr.read()
        acks.append(line)
        time.sleep(rng.uniform(0.0, 0.4))
    finally:
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate(timeout=30)
    lines = out.splitlines()
    if lines and not out.endswith("\n"):
        lines = lines[:-1]           # the kill cut the last line short ("ACK 123" without its count)
    acks += [ln for ln in lines if ln.startswith("ACK")]
    through, n = (int(x) for x in acks[-1].split()[1:3])
    return start, through, n


def test_sigkill_at_random_moments_never_loses_acknowledged_observations(tmp_path):
    path = str(tmp_path / "crash.db")
    rng = random.Random(1234)
    vocab = Vocabulary(VocabConfig(allow_model=False))
    kills = 0
    total_acked = 0
    for i in range(22):
        start, through, n_acked = _run_and_kill(path, seed=i, rng=rng)
        kills += 1
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            got = conn.execute("SELECT count(*) FROM observations WHERE stamp_ns >= ? AND stamp_ns <= ?",
                               (start, through)).fetchone()[0]
            stored_through = int(conn.execute("SELECT value FROM meta WHERE key = 'ingested_through_ns'").fetchone()[0])
        finally:
            conn.close()
        assert got == n_acked, f"run {i}: {got} stored of {n_acked} acknowledged"
        assert stored_through >= through
        total_acked += n_acked
    assert kills >= 20 and total_acked > 0
    # after all that, the store opens as a memory and answers
    mem = MemoryCore.open(path, vocab=vocab)
    assert mem.store.integrity_check() == "ok"
    assert mem.count_observations() >= total_acked
    assert mem.stats()["objects"] > 0 and mem.objects()
    mem.close()
