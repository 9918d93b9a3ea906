"""What changes on a robot after its rows shipped reaches the fleet server (memory_nodes/memory/repository/
fleet.py). A forget: the rows it deleted locally and had shipped are deleted on the server too, the robot's
"last seen" summary no longer points at them, class names nothing refers to go, other robots' rows stay, and
a retry changes nothing. A merge: answers name the identity the object goes by now. And a server set up by
the previous release is migrated."""
from __future__ import annotations

import pytest

from memory_nodes.memory import MemoryCore
from memory_nodes.memory.repository.fleet import FLEET_SCHEMA_VERSION, FleetServer, Shipper
from memory_nodes.memory.repository.fleet_view import FleetView
from memory_nodes.memory.synthetic import SynthConfig, SyntheticHousehold, run_days
from memory_nodes.vocab import VocabConfig, Vocabulary

pytest_plugins = ["helpers.postgres"]       # fixtures: pg_server, pg_database, new_pg_url


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def _drain(sh: Shipper) -> None:
    while sh.ship_once():
        pass


def _classes_of(server: FleetServer, robot_id: str) -> set:
    with server.pool.connection() as c:
        return {r[0] for r in c.execute("SELECT DISTINCT class FROM fleet_observations WHERE robot_id = %s",
                                        (robot_id,))}


def test_a_forget_deletes_the_shipped_rows_on_the_server(tmp_path, vocab, new_pg_url):
    server = FleetServer(new_pg_url())
    mems, ships = {}, {}
    for name, seed in (("robot_a", 1), ("robot_b", 2)):
        path = str(tmp_path / f"{name}.db")
        mems[name] = MemoryCore.open(path, vocab=vocab)
        run_days(mems[name], SyntheticHousehold(SynthConfig(seed=seed, n_rooms=2)), 1)
        ships[name] = Shipper(name, path, server, batch=50)
        _drain(ships[name])
    a, b = mems["robot_a"], mems["robot_b"]
    assert "mug" in _classes_of(server, "robot_a") and "mug" in _classes_of(server, "robot_b")
    b_rows = set(server.obs_ids("robot_b"))
    mugs_a = {o.id for o in a.observations() if o.class_name == "mug"}
    assert mugs_a
    # robot_a's user: "forget my mug"
    res = a.forget(class_name="mug")
    assert res.observations_deleted >= len(mugs_a)
    _drain(ships["robot_a"])
    assert ships["robot_a"].forgotten_deleted >= len(mugs_a)
    on_server = set(server.obs_ids("robot_a"))
    assert on_server == {o.id for o in a.observations()}           # the server holds what the robot holds
    assert not on_server & mugs_a
    assert "mug" not in _classes_of(server, "robot_a")
    assert set(server.obs_ids("robot_b")) == b_rows                  # other robots' rows stay
    # "which robot saw the mug last": robot_b now, never the forgotten sightings
    ans = FleetView("robot_a", a, server).which_robot_saw_last("mug")
    assert ans.source == "fleet" and [s.robot_id for s in ans.sightings] == ["robot_b"]
    assert {s.robot_id for s in server.seen_since(["mug"], 0)} == {"robot_b"}
    # a shipper restarted (its watermarks asked of the server again) re-sends nothing and changes nothing
    again = Shipper("robot_a", str(tmp_path / "robot_a.db"), server, batch=50)
    _drain(again)
    assert again.forgotten_deleted == 0 and set(server.obs_ids("robot_a")) == on_server
    # the server forgets the same ids twice without harm (a lost reply retried)
    fr = again.local_forgets(0, 10_000)
    assert server.forget("robot_a", again.store_uid, fr[-1][0], [o for _, o in fr]) == 0
    # the class goes from the fleet's names once no robot has it
    b.forget(class_name="mug")
    _drain(ships["robot_b"])
    assert "mug" not in server.classes()
    for x in (*ships.values(), again):
        x.close()
    for m in mems.values():
        m.close()
    server.close()


def test_a_forget_before_shipping_never_reaches_the_server(tmp_path, vocab, new_pg_url):
    server = FleetServer(new_pg_url())
    path = str(tmp_path / "r.db")
    mem = MemoryCore.open(path, vocab=vocab)
    run_days(mem, SyntheticHousehold(SynthConfig(seed=3, n_rooms=2)), 1)
    mem.forget(class_name="keys")
    sh = Shipper("robot_r", path, server, batch=100)
    _drain(sh)
    assert "keys" not in _classes_of(server, "robot_r")
    assert set(server.obs_ids("robot_r")) == {o.id for o in mem.observations()}
    sh.close()
    mem.close()
    server.close()


def test_a_version_1_fleet_schema_is_migrated(new_pg_url):
    url = new_pg_url()
    server = FleetServer(url)
    with server.pool.connection() as c:            # as a server set up by the previous release left it
        c.execute("ALTER TABLE fleet_robots DROP COLUMN forgot_seq")
        c.execute("DROP TABLE fleet_rooms")
        c.execute("DROP TABLE fleet_merges")
        c.execute("UPDATE fleet_info SET schema_version = 1")
    server.close()
    server = FleetServer(url)
    with server.pool.connection() as c:
        assert c.execute("SELECT schema_version FROM fleet_info").fetchone()[0] == FLEET_SCHEMA_VERSION == 2
        c.execute("SELECT forgot_seq FROM fleet_robots")
        c.execute("SELECT robot_id, room_id, label FROM fleet_rooms")
        c.execute("SELECT robot_id, object_id, into_id FROM fleet_merges")
    server.close()


def test_answers_follow_a_merge_made_after_the_rows_shipped(tmp_path, vocab, new_pg_url):
    """A robot's track merged into an older identity after its rows shipped: the server's rows keep the id
    they were shipped with, the shipper ships the robot's merges, and answers name the id it goes by now."""
    server = FleetServer(new_pg_url())
    path = str(tmp_path / "m.db")
    mem = MemoryCore.open(path, vocab=vocab)
    run_days(mem, SyntheticHousehold(SynthConfig(seed=1, n_rooms=2)), 2)
    sh = Shipper("robot_m", path, server, batch=500)
    _drain(sh)
    merged = sh.local_merges()
    assert merged and all(b >= 0 for _, b in merged)          # the synthetic patrol merges a few tracks
    with server.pool.connection() as c:
        assert {(int(a), int(b)) for a, b in c.execute(
            "SELECT object_id, into_id FROM fleet_merges WHERE robot_id = 'robot_m'")} == set(merged)
    # as if the robot's latest mug track had been merged into another identity (a chain of two) after shipping
    hit = server.last_seen_by_any(["mug"])
    assert hit is not None and hit.object_id is not None
    server.ship_merges("robot_m", sh.store_uid, [(hit.object_id, 900_001), (900_001, 900_002)])
    again = server.last_seen_by_any(["mug"])
    assert (again.observation_id, again.object_id) == (hit.observation_id, 900_002)
    assert [s.object_id for s in server.seen_since(["mug"], 0)] == [900_002]
    sh.close()
    mem.close()
    server.close()
