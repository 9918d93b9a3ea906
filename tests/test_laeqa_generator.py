"""LA-EQA question generator: deterministic for a seed, every category present, truths that agree with
the ground-truth log, and ground-truth queries checked on a hand-written log."""
from __future__ import annotations

import pytest
from helpers.tiny_world import tiny_sim_config

from bench.laeqa.config import LaeqaConfig
from bench.laeqa.home import build_home
from bench.laeqa.phrasing import load_pool
from bench.laeqa.questions import CATEGORY_OF, EXPECTED_PLANNER_KINDS, KINDS, category_quotas, generate
from bench.laeqa.truth import HomeTruth
from memory_nodes.vocab.vocabulary import default_vocabulary
from sim.ground_truth import GroundTruthLog, ObjectState
from sim.world import generate_world

H = 3_600_000_000_000
TOL = {"last_seen": H // 2, "since": H, "forecast": 3 * H}


@pytest.fixture(scope="module")
def vocab():
    return default_vocabulary()


@pytest.fixture(scope="module")
def home(vocab):
    cfg = LaeqaConfig()
    cfg.observation.frame_stride = 10
    return build_home(3, 2, tiny_sim_config(), cfg.observation, vocab.canonical)


@pytest.fixture(scope="module")
def pools():
    return {"dev": load_pool("dev"), "test": load_pool("test")}


def _gen(home, pools, n=40, seed=3):
    return generate(home.truth, n, 1, home.first_patrol_ns, pools, LaeqaConfig().generator, TOL, seed)


def test_same_seed_same_questions_and_truths(home, pools):
    a, b = _gen(home, pools), _gen(home, pools)
    assert [q.to_json() for q in a] == [q.to_json() for q in b]
    c = _gen(home, pools, seed=4)
    assert [q.text for q in c] != [q.text for q in a]


def test_every_category_and_out_of_scope_questions(home, pools):
    qs = _gen(home, pools, n=60)
    cats = {q.category for q in qs}
    assert cats == set(KINDS), cats
    assert all(CATEGORY_OF[q.kind] == q.category for q in qs)
    oos = [q for q in qs if q.category == "out_of_scope"]
    assert oos and all(q.truth.answer_type == "cannot_parse" for q in oos)
    assert {q.pool for q in qs} == {"dev", "test"}
    assert all("{" not in q.text for q in qs)


def test_quotas_sum_and_out_of_scope_floor():
    w = LaeqaConfig().generator.category_weights
    q = category_quotas(200, w, min_out_of_scope=50)
    assert sum(q.values()) == 200 and q["out_of_scope"] >= 50
    q = category_quotas(30, w)
    assert sum(q.values()) == 30 and all(v > 0 for v in q.values())


def test_truths_agree_with_the_log(home, pools, vocab):
    t = home.truth
    log = t.log
    qs = _gen(home, pools, n=80)
    checked = set()
    for q in qs:
        if q.kind == "where_now":
            assert q.truth.value == log.object_state(q.slots["object_id"], q.ask_ns).room_id
        elif q.kind in ("count_now", "exists_now"):
            c = vocab.canonical(q.slots["class"])
            n = sum(1 for o in t.world.objects
                    if vocab.canonical(o.class_name) == c and log.object_state(o.object_id, q.ask_ns).present
                    and log.object_state(o.object_id, q.ask_ns).room_id == q.slots["room_id"])
            assert q.truth.value == (n if q.kind == "count_now" else n > 0)
        elif q.kind == "what_on_now":
            on = sorted({vocab.canonical(o.class_name) for o in t.world.objects
                         if log.object_state(o.object_id, q.ask_ns).present
                         and log.object_state(o.object_id, q.ask_ns).furniture_id == q.slots["furniture_id"]})
            assert q.truth.value == on
        elif q.kind == "last_seen":
            stamps = [s for s in t.seen[q.slots["object_id"]] if s <= q.ask_ns]
            assert q.truth.value == max(stamps)
        elif q.kind == "attribute":
            assert q.truth.value == t.world.object_by_id(q.slots["object_id"]).colour
        else:
            continue
        checked.add(q.kind)
    assert {"where_now", "count_now", "what_on_now"} <= checked


def test_questions_never_name_ambiguous_things(home, pools):
    t = home.truth
    bad = t.colliding_classes()
    for q in _gen(home, pools, n=80):
        oid = q.slots.get("object_id")
        if oid:
            assert t.world.object_by_id(oid).class_name not in bad


def test_reference_parse_covers_every_kind():
    for kinds in KINDS.values():
        for k in kinds:
            assert k in EXPECTED_PLANNER_KINDS


# ------------------------------------------------------------------------------------------------------
# ground-truth queries on a hand-written log
# ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def handmade(vocab):
    cfg = tiny_sim_config(5)
    world = generate_world(cfg.world, cfg.robot.radius_m)
    log = GroundTruthLog({"seed": 5, "world_hash": "x", "world": {"objects": []}})
    oid = world.objects[0].object_id
    kitchen = next(r.room_id for r in world.rooms if r.room_type == "kitchen")
    living = next(r.room_id for r in world.rooms if r.room_type == "living_room")

    def st(t_h, room, x, furn="f1", present=True):
        return ObjectState(int(t_h * H), oid, present, furn if present else "", 0, room if present else -1,
                           (x, 1.0, 0.9), 0.0, "test")
    for s in (st(0, kitchen, 1.0), st(10, living, 5.0, "f2"), st(12, kitchen, 1.1), st(20, -1, 0, present=False),
              st(30, living, 5.0, "f2")):
        log.add_object_state(s)
    from sim.calendar import Calendar
    seen = {oid: [int(1 * H), int(11 * H), int(13 * H)]}
    return HomeTruth(world, log, Calendar("2025-03-03"), seen, vocab.canonical), oid, kitchen, living


def test_truth_queries_on_handmade_log(handmade):
    t, oid, kitchen, living = handmade
    assert t.room_of(oid, int(11 * H)) == living
    assert t.room_of(oid, int(21 * H)) == -1
    # moved at some point in (9h, 13h], but back on the same furniture within 0.5 m at 13h
    assert t.moved_between(oid, int(9 * H), int(13 * H), 0.5) == (True, False)
    assert t.moved_between(oid, int(9 * H), int(11 * H), 0.5) == (True, True)
    assert t.moved_between(oid, int(12.5 * H), int(19 * H), 0.5) == (False, False)
    sh = t.room_shares(oid, 0, int(20 * H))
    assert sh[kitchen] == pytest.approx(18 / 20) and sh[living] == pytest.approx(2 / 20)
    assert t.next_entry(oid, living, int(13 * H), int(24 * H)) == int(30 * H)
    assert t.next_entry(oid, living, int(13 * H), int(10 * H)) is None
    assert t.next_disappearance(oid, int(13 * H), int(10 * H)) == int(20 * H)
    assert t.constant_over(lambda x: t.room_of(oid, x), int(12 * H), int(19 * H)) == kitchen
    assert t.constant_over(lambda x: t.room_of(oid, x), int(9 * H), int(13 * H)) is None
    assert t.last_seen(oid, int(12 * H)) == int(11 * H)
    assert t.first_seen_after(oid, int(12 * H), int(20 * H)) == int(13 * H)
    assert t.arrival_ns(oid, int(15 * H)) == int(12 * H)
