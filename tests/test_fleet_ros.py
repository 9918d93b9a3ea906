"""Fleet questions over ROS: the planner node and the outbox relay, started from the stack's own launch
description (launch/memory_stack.launch.yaml with fleet_url:=...), answer an Ask about a fleet of two robots'
stores on a throwaway PostgreSQL server with the robot and its evidence. robot_a's store is shipped by the
relay the launch file starts beside it; robot_b (another robot, elsewhere) ships its own."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, ros_env

from memory_nodes.memory import MemoryCore
from memory_nodes.memory.repository.fleet import FleetServer, Shipper
from memory_nodes.memory.synthetic import SynthConfig, SyntheticHousehold, run_days
from memory_nodes.vocab import VocabConfig, Vocabulary

pytestmark = pytest.mark.ros
pytest_plugins = ["helpers.postgres"]       # fixtures: pg_server, pg_database, new_pg_url
DOMAIN = 121


def _store(path: Path, vocab, days: int) -> MemoryCore:
    mem = MemoryCore.open(str(path), vocab=vocab)
    run_days(mem, SyntheticHousehold(SynthConfig(seed=1, n_rooms=2)), days)
    return mem


def _ask(ctx, question: str):
    from memory_interfaces.srv import Ask
    cli = ctx.node.create_client(Ask, "ask")
    ctx.spin_until(cli.service_is_ready, 90.0, "the planner's ask service")
    req = Ask.Request()
    req.question, req.budget_m, req.timeout_s = question, 0.0, 30.0
    return ctx.wait_future(cli.call_async(req), 60.0, f"answer to {question!r}")


def test_ask_over_ros_names_the_robot_and_its_evidence(tmp_path, new_pg_url, ros_context_factory):
    from memory_nodes.ros.launcher import Stack, describe_all

    vocab = Vocabulary(VocabConfig(allow_model=False))
    url = new_pg_url()
    data = tmp_path / "data"
    data.mkdir()
    a = _store(data / "memory.db", vocab, 1)          # robot_a: this robot, at the memory node's store.path
    b = _store(tmp_path / "b.db", vocab, 2)           # robot_b: a robot that patrolled a day longer
    server = FleetServer(url)
    sb = Shipper("robot_b", str(tmp_path / "b.db"), server)
    while sb.ship_once():
        pass
    tmp = tempfile.TemporaryDirectory(prefix="fleet_launch_")
    d = describe_all(REPO_ROOT / "launch" / "memory_stack.launch.yaml",
                     {"config_dir": str(REPO_ROOT / "config"), "with_sim": "false", "use_sim_time": "false",
                      "data_dir": str(data), "fleet_url": url, "robot_id": "robot_a"}, Path(tmp.name))
    specs = {s.name: s for s in d.nodes}
    assert "fleet_shipper" in specs and not specs["fleet_shipper"].is_node
    assert specs["planner"].parameters["fleet.url"] == url
    stack = Stack([specs["planner"], specs["fleet_shipper"]], tmp, env=ros_env(DOMAIN), log_dir=tmp_path / "logs",
                  echo=False).start()
    try:
        local = {o.id for o in a.observations()}
        deadline = time.monotonic() + 90
        while set(server.obs_ids("robot_a")) != local and time.monotonic() < deadline:
            assert stack.poll()["fleet_shipper"] is None, (tmp_path / "logs" / "fleet_shipper.log").read_text()
            time.sleep(0.2)
        assert set(server.obs_ids("robot_a")) == local        # the launch file's relay shipped robot_a

        ctx = ros_context_factory(DOMAIN, "fleet_test_client")
        r = _ask(ctx, "which robot saw the mug last?")
        assert r.error_code == 0 and r.status == 0 and r.query_kind == "fleet_last_seen", r.reason
        assert r.best_guess == "robot_b" and r.answer.startswith("robot_b saw the mug last"), r.answer
        obs = list(r.evidence.observation_ids)
        row = next(o for o in b.observations() if o.id == obs[0])           # robot_b's own observation
        assert list(r.evidence.object_ids) == [f"robot_b/{row.object_id}"]
        assert r.place_id == row.place_id and r.room_id == row.room_id and f"observation {obs[0]}" in r.answer
        assert r.time.sec * 10**9 + r.time.nanosec == row.stamp_ns and 0.0 < r.probability <= 1.0

        seen = _ask(ctx, "has any of the robots seen a mug?")
        assert seen.status == 0 and seen.query_kind == "fleet_seen" and seen.yes_no == 1, seen.reason
        assert sorted(o.split("/")[0] for o in seen.evidence.object_ids) == ["robot_a", "robot_b"]
        assert len(seen.top_answers) == 2 and "robot_a (this robot)" in seen.answer
    finally:
        codes = stack.stop()
        a.close()
        b.close()
        sb.close()
        server.close()
    log = (tmp_path / "logs" / "fleet_shipper.log").read_text()
    assert "shipping" in log and f"shipped through observation {max(local)}" in log, log
    assert codes["fleet_shipper"] in (0, None), log


def test_server_unreachable_the_robot_answers_from_its_own_memory_saying_so(process_factory, ros_context_factory):
    """fleet.url set but nothing listening there: the fleet question is answered over memory/recall (the fake
    memory of tests/test_planner_node.py), the answer saying it covers only this robot; other questions
    are answered as before."""
    import sys
    domain = DOMAIN + 1
    env = ros_env(domain)
    process_factory([sys.executable, str(REPO_ROOT / "tests" / "test_planner_node.py")], env, cwd=str(REPO_ROOT))
    process_factory([sys.executable, "-m", "memory_nodes.ros.planner_node", "--ros-args",
                     "-p", "fleet.url:=postgresql:///fleet?host=/nonexistent_fleet_socket_dir",
                     "-p", "fleet.robot_id:=robot_a", "-p", "fleet.timeout_s:=1.0",
                     "-p", "parser.use_embeddings:=false", "-p", "node.server_wait_s:=10.0",
                     "-p", "node.service_timeout_s:=20.0"], env, cwd=str(REPO_ROOT))
    ctx = ros_context_factory(domain, "fleet_local_client")
    from memory_interfaces.srv import Recall
    recall = ctx.node.create_client(Recall, "memory/recall")
    ctx.spin_until(recall.service_is_ready, 60.0, "fake memory/recall")
    r = _ask(ctx, "has any robot seen the book?")
    assert r.status == 0 and r.query_kind == "fleet_seen" and r.yes_no == 1, r.reason
    assert "fleet server unreachable" in r.answer and "own memory only" in r.answer, r.answer
    assert r.answer.startswith("Yes: robot_a (this robot)") and r.room_label == "living room", r.answer
    assert [o.split("/")[0] for o in r.evidence.object_ids] == ["robot_a"]
    plain = _ask(ctx, "where is the book?")                   # no fleet scope: answered as before
    assert plain.status == 0 and plain.query_kind == "where_now" and "book_2" in list(plain.evidence.object_ids)
