"""LA-EQA harness: overlays leave the memory snapshot untouched, explore-only and the oracle behave as
defined on a tiny home, and the visibility model respects walls, the frustum and range."""
from __future__ import annotations

import math

import numpy as np
import pytest
from helpers.tiny_world import tiny_sim_config

from bench.laeqa.agents import ExploreOnlyAgent, OracleAgent, PlannerAgent, planner_variant
from bench.laeqa.config import LaeqaConfig
from bench.laeqa.harness import HomeContext, build_memory
from bench.laeqa.home import build_home
from bench.laeqa.observe import VisibilityModel, world_state
from bench.laeqa.questions import Question, Truth
from memory_nodes.planner.config import PlannerConfig
from memory_nodes.vocab.vocabulary import default_vocabulary

H = 3_600_000_000_000


@pytest.fixture(scope="module")
def vocab():
    return default_vocabulary()


@pytest.fixture(scope="module")
def ctx(vocab):
    cfg = LaeqaConfig()
    cfg.observation.frame_stride = 10
    home = build_home(3, 1, tiny_sim_config(), cfg.observation, vocab.canonical)
    mem = build_memory(home, None, vocab)
    sc = home.sim.config
    return HomeContext(home, mem, VisibilityModel(home.sim.world, sc.robot, sc.camera, cfg.observation),
                       cfg.observation)


def _ask(ctx) -> int:
    return ctx.home.sim.calendar.stamp_ns(0, 20 * 3600.0)


def _where_question(ctx, oid: str) -> Question:
    t = _ask(ctx)
    s = ctx.home.truth.state(oid, t)
    cls = ctx.home.sim.world.object_by_id(oid).class_name
    return Question("q0", 3, 0, t, "present", "where_now", f"where is the {cls.replace('_', ' ')}?", "dev", "",
                    Truth("room", s.room_id, ctx.home.truth.room_type[s.room_id], verify_entities=[oid]),
                    {"kinds": ["where_now"], "target": cls.replace("_", " "), "room": "", "receptacle": ""},
                    {"object_id": oid})


def _unique_object(ctx) -> str:
    objs = ctx.home.sim.world.objects
    t = _ask(ctx)
    for o in objs:
        if sum(p.class_name == o.class_name for p in objs) == 1 and ctx.home.truth.state(o.object_id, t).present \
                and o.class_name not in ctx.home.truth.colliding_classes():
            return o.object_id
    raise AssertionError("no uniquely named object")


def _snapshot(mem):
    return (mem.stats(), mem.ingested_through_ns, sorted(mem.objects()),
            [(s.object_id, tuple(np.round(s.position_m, 6)), s.last_seen_ns) for c in ("mug", "book", "ball")
             for s in mem.last_seen(c)])


def test_overlay_is_discarded_between_agents(ctx, vocab):
    before = _snapshot(ctx.memory)
    agent = PlannerAgent("voi", planner_variant(PlannerConfig(), "voi"), vocab, 40.0)
    overlay = ctx.memory.fork()
    nav = ctx.navigator(_ask(ctx), overlay, seed=0)
    look = nav.look()
    assert look.observations and look.views
    assert overlay.stats()["observations"] > ctx.memory.stats()["observations"]
    agent.answer(_where_question(ctx, _unique_object(ctx)), ctx, 0)
    assert _snapshot(ctx.memory) == before


def test_navigator_paths_and_frozen_world(ctx):
    t = _ask(ctx)
    nav = ctx.navigator(t, None, seed=1)
    start = nav.current_pose()
    room = ctx.home.sim.world.rooms[1]
    goal = (room.center_xy_m[0], room.center_xy_m[1], 0.0)
    cost = nav.path_cost_m(start, goal)
    assert math.isfinite(cost) and cost >= math.hypot(goal[0] - start[0], goal[1] - start[1]) - 0.3
    assert nav.go_to(goal) == pytest.approx(cost)
    assert nav.driven_m == pytest.approx(cost)
    a = nav.look()
    b = ctx.navigator(t, None, seed=1)
    b.go_to(goal)
    assert [o.class_name for o in b.look().observations] == [o.class_name for o in a.observations]


def test_oracle_path_is_nearest_verifying_spot_and_zero_for_the_past(ctx):
    oid = _unique_object(ctx)
    q = _where_question(ctx, oid)
    r = OracleAgent().answer(q, ctx, 0)
    assert r.probability == 1.0 and r.path_m > 0
    state = ctx.state_at(q.ask_ns)
    spots = ctx.candidate_spots()
    planner = ctx.home.sim.planner
    start = ctx.start_pose()
    d = sorted(planner.path_length_m(start[:2], tuple(p)) for p in spots
               if ctx.vm.seen_from(state, (float(p[0]), float(p[1])), oid))
    assert r.path_m == pytest.approx(d[0])
    past = Question("q1", 3, 0, q.ask_ns, "past", "where_at", "where was it yesterday?", "dev", "",
                    Truth("room", 1, "kitchen"), {"kinds": ["where_at"]}, {})
    assert OracleAgent().answer(past, ctx, 0).path_m == 0.0


def test_explore_only_searches_nearest_first_until_found(ctx, vocab):
    agent = PlannerAgent("parser", PlannerConfig(), vocab, 0.0)
    oid = _unique_object(ctx)
    q = _where_question(ctx, oid)
    ex = ExploreOnlyAgent(agent.planner, budget_m=200.0)
    visits = []
    saw_target = []                  # per look: did it detect the target's class
    orig = ctx.navigator
    cls = ctx.home.sim.world.object_by_id(oid).class_name

    def spy(t, overlay, seed, with_views=True):
        nav = orig(t, overlay, seed, with_views)
        go, look = nav.go_to, nav.look

        def go_to(goal):
            visits.append((tuple(nav.current_pose()[:2]), tuple(goal[:2])))
            return go(goal)

        def look_spy():
            res = look()
            saw_target.append(any(ctx.home.truth.canon(o.class_name) == ctx.home.truth.canon(cls)
                                  for o in res.observations))
            return res
        nav.go_to, nav.look = go_to, look_spy
        return nav
    ctx.navigator = spy
    try:
        r = ex.answer(q, ctx, 0)
    finally:
        ctx.navigator = orig
    assert visits, "explore-only never moved"
    all_vps = [vp for rid in range(len(ctx.home.sim.world.rooms)) for vp in ctx.viewpoints(rid)]
    planner = ctx.home.sim.planner
    for i, (here, goal) in enumerate(visits):   # each step goes to the nearest viewpoint not yet visited
        left = [vp for vp in all_vps if vp not in [g for _, g in visits[:i]]]
        costs = [planner.path_length_m(here, vp) for vp in left]
        assert planner.path_length_m(here, goal) == pytest.approx(min(costs), abs=1e-6)
    # one look per viewpoint driven to, the path within the budget and equal to the legs driven
    assert r.looks == len(visits) == len(saw_target)
    assert r.path_m <= 200.0 + 1e-6
    assert r.path_m == pytest.approx(sum(planner.path_length_m(here, goal) for here, goal in visits), rel=1e-6)
    if r.status == "ANSWERED":              # found: it stopped at the first look that saw the target
        assert ctx.home.sim.world.room_at(*r.position_m[:2]) == q.truth.value
        assert saw_target[-1] and not any(saw_target[:-1])
    else:                                   # not found: no look saw it
        assert not any(saw_target)
    past = Question("q2", 3, 0, q.ask_ns, "past", "last_seen", f"when did you last see the {q.expected['target']}?",
                    "dev", "", Truth("time", 0, accept_range_ns=(0, 1)), {"kinds": ["last_seen"]}, {})
    rp = ex.answer(past, ctx, 0)
    assert rp.status == "NOT_SURE" and rp.path_m == 0.0


def test_visibility_respects_walls_frustum_and_range(ctx):
    world = ctx.home.sim.world
    vm = ctx.vm
    state = world_state(world, ctx.home.truth.log, _ask(ctx))
    obj = next(e for e in state.entities if e.kind == "object")
    ox, oy = obj.center_m[:2]
    # from a free spot near the object, facing it: visible; facing away: not
    spots = [tuple(p) for p in ctx.candidate_spots() if 0.8 < math.hypot(p[0] - ox, p[1] - oy) < 2.0
             and world.room_at(p[0], p[1]) == world.room_at(ox, oy)]
    seen_any = False
    for x, y in spots:
        yaw = math.atan2(oy - y, ox - x)
        toward = vm.sightings(state, (x, y, yaw), only=(obj.entity_id,))
        away = vm.sightings(state, (x, y, yaw + math.pi), only=(obj.entity_id,))
        assert not away
        seen_any |= bool(toward)
    assert seen_any
    # from another room, behind walls (no door in line), far away: nothing of it
    far = [tuple(p) for p in ctx.candidate_spots() if world.room_at(p[0], p[1]) not in (world.room_at(ox, oy), 0)]
    blocked = 0
    for x, y in far:
        yaw = math.atan2(oy - y, ox - x)
        if not vm.sightings(state, (x, y, yaw), only=(obj.entity_id,)):
            blocked += 1
    assert blocked >= 0.8 * len(far)
    # the miss probability grows with distance
    from bench.laeqa.observe import Sighting
    assert vm.p_miss(Sighting(obj, 1.0, 0.0, 2000.0)) < vm.p_miss(Sighting(obj, 5.0, 0.0, 2000.0))
