"""The fleet (memory_nodes/memory/repository/fleet.py) on a throwaway PostgreSQL server: robots ship their
committed observations idempotently, cross-robot questions name the robot and its evidence, a robot answers
from its own memory while the server is down, and its outbox catches up after a kill -9 of the server with
no row duplicated or lost."""
from __future__ import annotations

import threading

import pytest

from memory_nodes.memory import MemoryCore
from memory_nodes.memory.config import NS_PER_DAY
from memory_nodes.memory.repository.fleet import FleetIdentityError, FleetServer, Shipper
from memory_nodes.memory.repository.fleet_view import FleetView
from memory_nodes.memory.synthetic import SynthConfig, SyntheticHousehold, run_days
from memory_nodes.vocab import VocabConfig, Vocabulary

pytest_plugins = ["helpers.postgres"]       # fixtures: pg_server, pg_database, new_pg_url


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def _robot(tmp_path, vocab, name: str, seed: int, days: int = 1):
    path = str(tmp_path / f"{name}.db")
    mem = MemoryCore.open(path, vocab=vocab)
    run_days(mem, SyntheticHousehold(SynthConfig(seed=seed, n_rooms=2)), days)
    return path, mem


def _drain(sh: Shipper) -> None:
    while sh.ship_once():
        pass


def test_shipping_is_idempotent_and_answers_name_the_robot(tmp_path, vocab, new_pg_url):
    server = FleetServer(new_pg_url())          # its own schema: tests do not see each other's robots
    (pa, a), (pb, b) = _robot(tmp_path, vocab, "a", 1), _robot(tmp_path, vocab, "b", 1, days=2)  # 1 house
    sa, sb = Shipper("robot_a", pa, server, batch=50), Shipper("robot_b", pb, server, batch=50)
    _drain(sa)
    _drain(sb)
    n_local = a.count_observations() + b.count_observations()
    assert server.counts() == (n_local, n_local)
    # a batch shipped again (its commit reply lost): nothing doubles, the watermark stays
    again = sa.local_rows(0, 10_000)
    assert server.ship("robot_a", sa.store_uid, again) == sa.acked_through
    assert server.counts() == (n_local, n_local)
    assert sorted(server.obs_ids("robot_a")) == [r[0] for r in again]
    # another store shipping under robot_a's id (a misconfigured robot) is refused whole, not half-skipped
    with pytest.raises(FleetIdentityError, match="already shipped by another store"):
        server.ship("robot_a", sb.store_uid, sb.local_rows(0, 10))
    assert server.counts() == (n_local, n_local)
    # which robot saw a mug last: robot_b, patrolling a day longer, with its evidence
    view = FleetView("robot_a", a, server)
    ans = view.which_robot_saw_last("coffee mug")
    assert ans.source == "fleet" and len(ans.sightings) == 1
    s = ans.sightings[0]
    own = {rid: max((x.last_seen_ns for x in m.last_seen("mug")), default=-1) for rid, m in
           (("robot_a", a), ("robot_b", b))}
    assert own["robot_b"] > own["robot_a"] > 0
    assert s.robot_id == "robot_b" and s.class_name == "mug" and s.stamp_ns >= own["robot_b"] - 600 * 10 ** 9
    row = (b if s.robot_id == "robot_b" else a).observations(object_id=f"obj_{s.object_id}")
    assert s.observation_id in {o.id for o in row}                 # the evidence is that robot's observation
    # the per-robot summary (fleet_last_seen) and the full table's (class, stamp) index agree
    deep = server.last_seen_by_any(["mug"], before_ns=2 ** 61)
    assert deep is not None and (deep.robot_id, deep.observation_id) == (s.robot_id, s.observation_id)
    for cls in ("mug", "keys", "book"):
        assert [(x.robot_id, x.observation_id) for x in server.seen_since([cls], 0)] == \
            [(x.robot_id, x.observation_id) for x in server.seen_since([cls], 0, until_ns=2 ** 61)]
    # has any robot seen keys today: each robot that did, once, most recent first
    seen = view.seen_since("keys", 0)
    assert seen.source == "fleet" and len({x.robot_id for x in seen.sightings}) == len(seen.sightings) >= 1
    assert view.seen_since("keys", 5 * NS_PER_DAY).sightings == []
    for m in (a, b):
        m.close()
    sa.close()
    sb.close()
    server.close()


def test_outbox_catches_up_after_a_server_kill_without_duplicates_or_losses(tmp_path, vocab, pg_server, new_pg_url):
    server = FleetServer(new_pg_url(), timeout_s=2.0)
    path = str(tmp_path / "r.db")
    mem = MemoryCore.open(path, vocab=vocab)
    world = SyntheticHousehold(SynthConfig(seed=4, n_rooms=2))
    sh = Shipper("robot_r", path, server, batch=40, backoff_s=(0.02, 0.2))
    stop = threading.Event()
    shipping = threading.Thread(target=sh.run, args=(stop,), daemon=True)
    shipping.start()
    run_days(mem, world, 1)
    pg_server.kill9()
    run_days(mem, world, 1, first_day=1)        # the robot goes on ingesting, committing locally
    # and answers from its own store meanwhile, saying so
    ans = FleetView("robot_r", mem, server).which_robot_saw_last("mug")
    assert ans.source == "local" and "unreachable" in ans.note
    assert ans.sightings and ans.sightings[0].robot_id == "robot_r"
    pg_server.start()
    local = {o.id for o in mem.observations()}
    deadline = threading.Event()
    for _ in range(400):                         # the shipper's backoff brings it back (<= 0.2 s waits)
        if sh.acked_through >= max(local):
            break
        deadline.wait(0.05)
    stop.set()
    shipping.join(timeout=5)
    assert sh.failures >= 1
    rows, distinct = server.counts()
    assert rows == distinct == len(local)
    assert set(server.obs_ids("robot_r")) == local
    assert FleetView("robot_r", mem, server).which_robot_saw_last("mug").source == "fleet"
    mem.close()
    sh.close()
    server.close()


def test_the_relay_process_ships_beside_a_writing_memory_and_stops_on_sigterm(tmp_path, vocab, new_pg_url):
    """The outbox relay as its own process next to the memory (as beside the memory node): rows the memory
    commits while it runs reach the server; SIGTERM ends it cleanly; `ask` names the robot."""
    import os
    import signal
    import subprocess
    import sys
    import time

    url = new_pg_url()
    path, mem = _robot(tmp_path, vocab, "side", 6)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    relay = subprocess.Popen([sys.executable, "-m", "memory_nodes.memory.repository.fleet_relay", "ship",
                              "--store", path, "--robot-id", "robot_side", "--url", url], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        run_days(mem, SyntheticHousehold(SynthConfig(seed=6, n_rooms=2)), 1, first_day=1)   # written meanwhile
        local = {o.id for o in mem.observations()}
        server = FleetServer(url)
        for _ in range(600):
            if set(server.obs_ids("robot_side")) == local:
                break
            time.sleep(0.05)
        assert set(server.obs_ids("robot_side")) == local
        relay.send_signal(signal.SIGTERM)
        out, err = relay.communicate(timeout=20)
        assert relay.returncode == 0, err
        assert f"shipped through observation {max(local)}" in out
        ask = subprocess.run([sys.executable, "-m", "memory_nodes.memory.repository.fleet_relay", "ask", "--url", url,
                              "mug"], capture_output=True, text=True, env=env, timeout=60)
        assert ask.returncode == 0 and ask.stdout.startswith("robot_side: mug"), ask.stdout + ask.stderr
        server.close()
    finally:
        if relay.poll() is None:
            relay.kill()
        mem.close()
