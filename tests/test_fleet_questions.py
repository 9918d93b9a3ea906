"""Fleet questions (memory_nodes/planner/fleet_questions.py) without ROS: the scope phrase is found and the
rest read by the planner's own parser; answers from a fleet of two robots' stores on a throwaway
PostgreSQL server name the robot and its evidence; with no server configured, or the server unreachable,
this robot's own memory answers and the answer says it covers only this robot. Questions without a fleet
scope are not fleet questions (the planner answers them as before)."""
from __future__ import annotations

import pytest

from memory_nodes.memory import MemoryCore
from memory_nodes.memory.repository.fleet import FleetConfig, FleetServer, Shipper
from memory_nodes.memory.repository.fleet_relay import relay_settings
from memory_nodes.memory.repository.fleet_view import FleetView
from memory_nodes.memory.synthetic import SynthConfig, SyntheticHousehold, run_days
from memory_nodes.planner.config import PlannerConfig
from memory_nodes.planner.fleet_questions import (
    FLEET_LAST_SEEN,
    FLEET_SEEN,
    LAST,
    SEEN,
    answer_fleet,
    detect_fleet_question,
)
from memory_nodes.planner.parse import QuestionParser
from memory_nodes.vocab import VocabConfig, Vocabulary

pytest_plugins = ["helpers.postgres"]       # fixtures: pg_server, pg_database, new_pg_url

P = 0.9


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


@pytest.fixture(scope="module")
def parser(vocab):
    cfg = PlannerConfig().parser
    cfg.use_embeddings = False
    return QuestionParser(cfg, vocab)


@pytest.mark.parametrize("question,mode,target,window", [
    ("has any robot seen my keys today?", SEEN, "keys", "today"),
    ("which robot saw the mug last?", LAST, "mug", None),
    ("did any of the robots see a backpack yesterday?", SEEN, "backpack", "yesterday"),
    ("have the other robots seen the book?", SEEN, "book", None),
    ("where did a robot last see my wallet?", LAST, "wallet", None),
    ("Can you tell me if any robot saw a backpack yesterday", SEEN, "backpack", "yesterday"),
    ("which robot saw my keys most recently?", LAST, "keys", None),
])
def test_the_scope_phrase_is_found_and_the_rest_read_by_the_parser(parser, question, mode, target, window):
    fq = detect_fleet_question(question, parser, 3 * 86400 * 10**9)
    assert fq is not None and fq.mode == mode and fq.target == target
    assert (fq.window.label if fq.window else None) == window


@pytest.mark.parametrize("question", ["where is the mug?", "when did you last see my keys?",
                                      "did you see a backpack yesterday?", "where is the robot vacuum?",
                                      "what is the color of the biggest robot in the painting?",
                                      "which room are you in?", "where were you at 3 pm?"])
def test_questions_without_a_fleet_scope_are_not_fleet_questions(parser, question):
    assert detect_fleet_question(question, parser, 3 * 86400 * 10**9) is None


def test_a_fleet_question_that_names_no_object_cannot_parse(parser):
    fq = detect_fleet_question("has any robot seen it?", parser, 10**18)
    assert fq is not None
    a = answer_fleet(fq, None, "robot_a", 10**18, P)
    assert a.status == "CANNOT_PARSE" and a.query.reason_code == "no_target"


def _robot(tmp_path, vocab, name: str, seed: int, days: int):
    path = str(tmp_path / f"{name}.db")
    mem = MemoryCore.open(path, vocab=vocab)
    run_days(mem, SyntheticHousehold(SynthConfig(seed=seed, n_rooms=2)), days)
    return path, mem


@pytest.fixture
def fleet(tmp_path, vocab, new_pg_url):
    """robot_a (1 day) and robot_b (2 days, the same house) shipped to one server; now = just after b's last."""
    server = FleetServer(new_pg_url())
    (pa, a), (pb, b) = _robot(tmp_path, vocab, "a", 1, 1), _robot(tmp_path, vocab, "b", 1, 2)
    for rid, path in (("robot_a", pa), ("robot_b", pb)):
        sh = Shipper(rid, path, server, batch=500)
        while sh.ship_once():
            pass
        sh.close()
    now = max(o.stamp_ns for o in b.observations()) + 60 * 10**9
    yield server, a, b, now
    a.close()
    b.close()
    server.close()


def _ask(parser, view, question, now):
    fq = detect_fleet_question(question, parser, now)
    assert fq is not None, question
    return answer_fleet(fq, view, "robot_a", now, P, room_label=lambda r: {0: "hallway", 1: "kitchen"}.get(r, ""))


def test_which_robot_saw_the_mug_last_names_robot_b_with_its_evidence(parser, fleet):
    server, a, b, now = fleet
    view = FleetView("robot_a", a, server)
    ans = _ask(parser, view, "which robot saw the mug last?", now)
    assert ans.status == "ANSWERED" and ans.query_kind == FLEET_LAST_SEEN and ans.best_guess == "robot_b"
    assert ans.answer.startswith("robot_b saw the mug last") and "from the fleet server" in ans.reason
    obs = ans.evidence.observation_ids[0]
    row = next(o for o in b.observations() if o.id == obs)           # the evidence is robot_b's own row
    assert ans.evidence.object_ids == [f"robot_b/{row.object_id}"]
    assert ans.evidence.stamps_ns == [row.stamp_ns] == [ans.time_ns]
    assert ans.place_id == row.place_id == ans.evidence.place_ids[0] and ans.room_id == row.room_id
    assert f"observation {obs}" in ans.answer
    assert (f"view {row.view_id}" in ans.answer) if row.view_id else (" view " not in ans.answer)  # synthetic: none
    # another robot's room by the name it gave it (its rooms shipped with its rows), in its own map
    b_name = b.rooms()[row.room_id]
    assert ans.room_label == b_name and f"in robot_b's {b_name} (room {row.room_id})" in ans.answer
    assert "robot_b's map" in ans.reason
    assert ans.probability == P and ans.top_answers[0].text.startswith("robot_b on ")


def test_has_any_robot_seen_today_and_yesterday_windows(parser, fleet):
    server, a, b, now = fleet
    view = FleetView("robot_a", a, server)
    today = _ask(parser, view, "has any robot seen my keys today?", now)      # today = robot_b's 2nd day
    assert today.query_kind == FLEET_SEEN and today.yes_no is True and today.answer.startswith("Yes today: robot_b")
    assert [o.split("/")[0] for o in today.evidence.object_ids] == ["robot_b"]   # robot_a patrolled yesterday only
    yesterday = _ask(parser, view, "did any of the robots see a mug yesterday?", now)
    assert yesterday.yes_no is True
    robots = [o.split("/")[0] for o in yesterday.evidence.object_ids]
    assert sorted(robots) == ["robot_a", "robot_b"] and len(yesterday.top_answers) == 2
    assert "robot_a (this robot)" in yesterday.answer
    day0_end = now - now % (86400 * 10**9)
    assert all(t < day0_end for t in yesterday.evidence.stamps_ns)
    absent = next(c for c in ("umbrella", "guitar", "toaster", "helmet") if c not in server.classes())
    none = _ask(parser, view, f"have the other robots seen a {absent} today?", now)
    assert none.status == "ANSWERED" and none.yes_no is False and not none.evidence.object_ids
    assert none.answer == f"No: no robot has seen the {absent} today."
    last = _ask(parser, view, f"which robot saw the {absent} last?", now)
    assert last.status == "NOT_SURE" and "no robot has seen" in last.reason


def test_a_room_in_a_fleet_question_keeps_sightings_in_rooms_so_named(parser, fleet):
    server, a, b, now = fleet
    view = FleetView("robot_a", a, server)
    names = {(rid, i): lb for rid, m in (("robot_a", a), ("robot_b", b)) for i, lb in m.rooms().items()}
    seen_in = sorted({names[("robot_b", x.room_id)] for x in b.observations()
                      if x.class_name == "book" and ("robot_b", x.room_id) in names})
    room = seen_in[0]
    ans = _ask(parser, view, f"has any robot seen a book in the {room}?", now)
    assert ans.query.room == room and "in a room its robot calls the" in ans.reason
    assert ans.yes_no is True and ans.evidence.object_ids
    for o, t in zip(ans.evidence.object_ids, ans.evidence.stamps_ns):
        rid = o.split("/")[0]
        mem = a if rid == "robot_a" else b
        obs = [x for x in mem.observations() if x.stamp_ns == t and f"{rid}/{x.object_id}" == o]
        assert obs and names[(rid, obs[0].room_id)] == room          # each one in a room called so
    # every robot's latest book sighting in that room: the server's rows filtered the same way agree
    want = {s.robot_id: s.observation_id for s in server.seen_since(["book"], 0, 2 ** 61, room_label=room)}
    assert dict(zip([o.split("/")[0] for o in ans.evidence.object_ids], ans.evidence.observation_ids)) == want
    none = _ask(parser, view, "has any robot seen a book in the garage?", now)
    assert none.yes_no is False and none.answer == "No: no robot has seen the book in the garage."


def test_without_a_server_or_with_it_unreachable_own_memory_answers_saying_so(parser, fleet):
    server, a, b, now = fleet
    alone = _ask(parser, FleetView("robot_a", a, None), "which robot saw the mug last?", now)
    assert alone.status == "ANSWERED" and alone.best_guess == "robot_a"
    assert "no fleet server configured" in alone.answer and "own memory only" in alone.reason
    assert alone.answer.startswith("robot_a (this robot) saw the mug last")
    server.close()                                           # every call now fails: as if unreachable
    down = _ask(parser, FleetView("robot_a", a, server), "has any robot seen a mug?", now)
    assert down.yes_no is True and "fleet server unreachable" in down.answer
    assert {o.split("/")[0] for o in down.evidence.object_ids} == {"robot_a"}


def test_relay_settings_read_the_fleet_and_memory_sections(tmp_path):
    fleet_yaml = tmp_path / "fleet.yaml"
    fleet_yaml.write_text("/**:\n  ros__parameters:\n    fleet:\n      url: ''\n      robot_id: ''\n      batch: 100\n")
    mem_yaml = tmp_path / "memory.yaml"
    mem_yaml.write_text("/**/memory:\n  ros__parameters:\n    store:\n      path: m.db\n")
    site = tmp_path / "site.yaml"
    site.write_text("/**:\n  ros__parameters:\n    fleet:\n      url: postgresql:///fleet?host=/tmp\n")
    cfg, store = relay_settings([str(fleet_yaml), str(mem_yaml), str(site)], "/robot7", "d")
    assert (cfg.url, cfg.robot_id, cfg.batch, store) == ("postgresql:///fleet?host=/tmp", "robot7", 100, "d/m.db")
    off, _ = relay_settings([str(fleet_yaml)], "", "d")
    assert off.url == "" and isinstance(off, FleetConfig)
