"""The benchmark's perception emulator runs perception's own places-and-rooms code: the cadence comes from
the perception config, ``Perception.process`` and a ``PlacesAndRooms`` fed the same inputs agree, known
rooms (the true layout) never feed the grid, and a cached run of another emulator version is refused."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from helpers.tiny_world import tiny_sim_config

from bench.laeqa.config import LaeqaConfig
from bench.laeqa.home import PerceptionEmulator, PerceptionRun, perceive_home, simulate_home
from bench.laeqa.observe import VisibilityModel, world_state
from memory_nodes.common.types import ObjectObservation, Room, RoomSegmentation
from memory_nodes.perception.config import PerceptionConfig, PlacesConfig, RoomsConfig
from memory_nodes.perception.pipeline import Perception
from memory_nodes.perception.places_rooms import PlacesAndRooms
from memory_nodes.perception.synthetic import demo_scene, intrinsics_for, look_at, render

S = 1_000_000_000


def _small_rooms(**kw) -> RoomsConfig:
    return RoomsConfig(grid_size_m=20.0, grid_origin_x_m=-10.0, grid_origin_y_m=-10.0, **kw)


def _obs(cls: str, x: float, y: float) -> ObjectObservation:
    c = np.array([x, y, 0.5])
    return ObjectObservation(stamp_ns=0, class_name=cls, score=0.9, centroid_m=c, bbox_min_m=c - 0.1,
                             bbox_max_m=c + 0.1, num_points=20, color_rgb=(0.5, 0.5, 0.5))


class _TwoRooms:
    """Known rooms: x < 0 is room 4, x >= 0 room 9."""

    def __init__(self):
        self.cuts = 0

    def segment(self, labeler, stamp_ns):
        self.cuts += 1
        rooms = [Room(room_id=r, label="unknown", label_confidence=0.0, centroid_m=np.zeros(3), area_m2=1.0)
                 for r in (4, 9)]
        return RoomSegmentation(stamp_ns, rooms, np.array([[4, 9]], np.int16), 1.0, (-1.0, 0.0))

    def room_at(self, x_m, y_m):
        return 4 if x_m < 0 else 9


def test_cadence_comes_from_the_rooms_config():
    scene = PlacesAndRooms(PlacesConfig(), _small_rooms(update_every_n_frames=2, segment_every_n_frames=3))
    K = intrinsics_for(32, 24)
    T = look_at((0.0, 0.0, 1.0), (2.0, 0.0, 0.0))
    depth = render([], K, T).depth_m
    fed, cut = [], []
    for k in range(9):
        scene.update_place(np.array([0.1 * k, 0.0, 0.0]), k * S)
        fed.append(scene.integrate_depth(depth, K, T))
        cut.append(scene.end_frame(k * S).rooms is not None)
    assert fed == [k % 2 == 0 for k in range(9)]
    assert cut == [k % 3 == 2 for k in range(9)]
    assert scene.frames == 9 and scene.grid.free_hits.sum() > 0


def test_places_change_when_made_or_put_in_a_known_room_and_the_grid_stays_empty():
    rooms = _TwoRooms()
    scene = PlacesAndRooms(PlacesConfig(new_place_distance_m=1.0), _small_rooms(segment_every_n_frames=2), rooms)
    assert not scene.depth_due
    out = []
    for k, x in enumerate((-1.5, -1.4, 1.5, 1.6)):
        pid = scene.update_place(np.array([x, 0.0, 0.0]), k * S)
        scene.add_objects([_obs("bed", x, 0.5)])
        assert not scene.integrate_depth(np.ones((4, 4), np.float32), intrinsics_for(4, 4), np.eye(4))
        out.append((pid, scene.end_frame(k * S)))
    assert [pid for pid, _ in out] == [0, 0, 1, 1]
    # frame 0: a new place; 1: rooms cut, place 0 put in room 4; 2: a new place and edge; 3: cut, place 1 -> 9
    assert [u.places is not None for _, u in out] == [True, True, True, True]
    assert [u.rooms is not None for _, u in out] == [False, True, False, True]
    assert [p.room_id for p in out[-1][1].places.places] == [4, 9] and rooms.cuts == 2
    assert scene.grid.free_hits.sum() == 0 and scene.grid.occ_hits.sum() == 0
    final = scene.finish(9 * S)
    assert final.places is not None and final.rooms is not None and rooms.cuts == 3


def test_perception_process_is_places_and_rooms_fed_its_inputs():
    """What the emulator does (feed PlacesAndRooms) is what the product does, output for output."""
    objects, walls = demo_scene()
    cfg = PerceptionConfig()
    cfg.rooms = _small_rooms(segment_every_n_frames=3, min_room_area_m2=1.0)
    cfg.places.new_place_distance_m = 0.5
    product = Perception(copy.deepcopy(cfg))
    product.set_class_table({b.instance_id: b.class_name for b in objects})
    shared = PlacesAndRooms(cfg.places, cfg.rooms)
    K = intrinsics_for(96, 72)
    n_rooms = 0
    for k, x in enumerate(np.linspace(-2.0, 1.0, 9)):
        T = look_at((x, 0.1, 1.0), (2.0, 0.5 - 0.3 * k, 0.4))
        frame = render(objects, K, T, stamp_ns=k * S, walls=walls)
        out = product.process(frame, T)
        assert shared.update_place(T[:3, 3], k * S) == out.place_id
        shared.add_objects(out.observations)
        shared.integrate_depth(frame.depth_m, K, T)
        mine = shared.end_frame(k * S)
        assert (mine.places is None) == (out.places is None)
        if out.places is not None:
            assert mine.places.edges == out.places.edges
            assert [(p.place_id, p.room_id, p.position_m.tolist()) for p in mine.places.places] == \
                [(p.place_id, p.room_id, p.position_m.tolist()) for p in out.places.places]
        assert (mine.rooms is None) == (out.rooms is None)
        if out.rooms is not None:
            n_rooms += 1
            assert np.array_equal(mine.rooms.room_map, out.rooms.room_map)
            assert [(r.room_id, r.label, r.label_confidence) for r in mine.rooms.rooms] == \
                [(r.room_id, r.label, r.label_confidence) for r in out.rooms.rooms]
    assert n_rooms == 3 and product.frames_processed == shared.frames == 9
    assert shared.state_bytes() == product.state_bytes()


@pytest.fixture(scope="module")
def tiny_home():
    sim = simulate_home(3, 1, tiny_sim_config(), future_days=0)
    obs = LaeqaConfig().observation
    obs.frame_stride = 10
    return sim, obs


@pytest.mark.parametrize("rooms_source", ["layout", "perception"])
def test_emulator_cuts_rooms_on_the_perception_configs_cadence(tiny_home, rooms_source):
    sim, obs = tiny_home
    obs = copy.deepcopy(obs)
    obs.rooms_source = rooms_source
    pc = PerceptionConfig()
    pc.rooms.segment_every_n_frames = 7
    run = perceive_home(sim, 1, obs, pc)
    frames = run.outputs[:-1]                      # the last is the day's final cut
    assert len(frames) == run.frames_used > 20
    assert [k for k, o in enumerate(frames) if o.rooms is not None] == [k for k in range(len(frames)) if k % 7 == 6]
    final = run.outputs[-1]
    assert final.rooms is not None and final.places is not None
    assert all(p.room_id >= 0 for p in final.places.places)
    if rooms_source == "layout":                   # true extents and ids
        assert sorted(r.room_id for r in final.rooms.rooms) == [r.room_id for r in sim.world.rooms]
        assert all(p.room_id == sim.world.room_at(*p.position_m[:2]) for p in final.places.places)


def test_emulator_grid_takes_the_product_depth_cadence_thinned_by_the_observation_config(tiny_home):
    sim, obs = tiny_home
    obs = copy.deepcopy(obs)
    obs.rooms_source = "perception"
    obs.grid_every_n_frames = 3
    pc = PerceptionConfig()
    pc.rooms.update_every_n_frames = 2
    vm = VisibilityModel(sim.world, sim.config.robot, sim.config.camera, obs)
    emu = PerceptionEmulator(vm, pc)
    assert emu.scene.rooms_config.update_every_n_frames == 6
    assert emu.scene.rooms_config.segment_every_n_frames == pc.rooms.segment_every_n_frames
    assert emu.scene.rooms_config.grid_resolution_m == obs.room_grid_resolution_m
    plan = sim.patrol_plan(0)
    log = sim.ground_truth(1)
    rng = np.random.default_rng(0)
    stamps = plan.trajectory.stamps_ns(sim.config.camera.rate_hz)[::obs.frame_stride][:13]
    hits = []
    for k, t in enumerate(stamps):
        emu.step(world_state(sim.world, log, t), plan.trajectory.pose_at(t), t, rng, make_view=(k % 5 == 0))
        hits.append(int(emu.scene.grid.free_hits.sum() + emu.scene.grid.occ_hits.sum()))
    grew = [k for k in range(len(hits)) if hits[k] > (hits[k - 1] if k else 0)]
    assert grew and all(k % 6 == 0 for k in grew)
    assert pc.rooms.update_every_n_frames == 2   # the caller's config is left alone


def test_a_cached_run_of_another_emulator_version_is_refused(tiny_home):
    sim, obs = tiny_home
    run = perceive_home(sim, 1, obs)
    again = pickle.loads(pickle.dumps(run))
    assert len(again.outputs) == len(run.outputs) and again.version == run.version
    stale = copy.copy(run)
    stale.version = run.version - 1
    with pytest.raises(ValueError):
        pickle.loads(pickle.dumps(stale))
    old = copy.copy(run)
    del old.__dict__["version"]                      # pickles made before runs carried a version
    with pytest.raises(ValueError):
        pickle.loads(pickle.dumps(old))
    assert isinstance(run, PerceptionRun)
