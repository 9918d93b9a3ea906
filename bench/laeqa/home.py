"""One simulated home over D days of patrol: ground truth, the true visibility index, and the stream of
perception outputs the memory is built from (through the visibility-based observation model).

Perception is emulated at the level of its outputs: the visibility model replaces the detector and the
lifting (objects in the frustum and not occluded, missed / confused at the noisy oracle's rates), while
places, the room grid, room segmentation, room labels, the room of each place and the cadence of all this
are perception's own ``PlacesAndRooms`` (memory_nodes/perception/places_rooms.py, what
``Perception.process`` runs) under the product's config (config/perception.yaml), fed with the model's
detections and depth. What the emulator does differently is passed to it explicitly: low-resolution
keyframe depth (``pixel_stride`` 1, ``observation.room_grid_resolution_m``; frames without a keyframe give
depth without the small objects, and only every ``observation.grid_every_n_frames``-th depth frame the
product would take), and with ``observation.rooms_source: layout`` the true room extents (``LayoutRooms``)
instead of a cut of the grid. Emulated frame k is the product's frame k, so rooms are cut every
``rooms.segment_every_n_frames`` used frames.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from memory_nodes.common.config import load_node_params
from memory_nodes.common.types import PerceptionOutput, Room, RoomSegmentation
from memory_nodes.perception.config import PerceptionConfig, RoomsConfig
from memory_nodes.perception.places import PlaceGraphBuilder
from memory_nodes.perception.places_rooms import PlacesAndRooms
from memory_nodes.perception.rooms import RoomLabeler
from sim.config import SimConfig
from sim.simulator import Simulator
from sim.world import World

from .config import REPO_ROOT, ObservationConfig
from .observe import Pose2D, VisibilityModel, WorldState, world_state
from .truth import HomeTruth, merge_seen

_OBS_SEED_TAG = 0x0B5E


@dataclass
class HomeData:
    seed: int
    days: int                                   # patrol days 0 .. days-1
    sim: Simulator
    truth: HomeTruth
    outputs: List[PerceptionOutput]             # the memory's input, in time order
    first_patrol_ns: int
    last_patrol_end_ns: int
    frames_used: int = 0
    observations: int = 0
    detection_truth: List[List[str]] = field(default_factory=list)   # per output: true entity per observation
    places: Optional[PlaceGraphBuilder] = None   # perception's place graph builder after the last patrol


def product_perception_config() -> PerceptionConfig:
    """The perception config the product runs with (config/perception.yaml)."""
    return PerceptionConfig.from_params(load_node_params(REPO_ROOT / "config" / "perception.yaml", "perception"))


class PerceptionEmulator:
    """Perception over a run fed by the visibility model: detections and depth from the model, everything
    about places and rooms from perception's ``PlacesAndRooms`` (``self.scene``)."""

    def __init__(self, vm: VisibilityModel, perception: Optional[PerceptionConfig] = None,
                 layout: Optional[World] = None):
        """``perception``: the product's config (default: config/perception.yaml); ``layout``: take room
        extents from the world's true layout (labels still from perception's labeler over the detections)
        instead of cutting them from the emulated depth."""
        self.vm = vm
        pc = perception if perception is not None else product_perception_config()
        rc = copy.deepcopy(pc.rooms)
        rc.pixel_stride = 1                      # the model's depth is already low resolution
        rc.grid_resolution_m = vm.config.room_grid_resolution_m
        rc.update_every_n_frames *= vm.config.grid_every_n_frames
        self.scene = PlacesAndRooms(pc.places, rc, LayoutRooms(layout, rc) if layout is not None else None)

    @property
    def places(self) -> PlaceGraphBuilder:
        return self.scene.places

    def step(self, state: WorldState, pose: Pose2D, stamp_ns: int, rng: np.random.Generator,
             make_view: bool) -> Tuple[PerceptionOutput, List[str], List[str]]:
        """One frame: (output, true entity id per observation, entities truly in view)."""
        vm, scene = self.vm, self.scene
        pid = scene.update_place(np.array([pose[0], pose[1], 0.0]), stamp_ns)
        sights = vm.sightings(state, pose)
        view_id = f"v{stamp_ns}"
        obs, truth = vm.detect(sights, stamp_ns, rng, view_id if make_view else "", pid, pose)
        scene.add_objects(obs)
        view = vm.make_view(state, pose, stamp_ns, view_id, pid, [o.class_name for o in obs]) if make_view else None
        if scene.depth_due:
            if view is not None:
                scene.integrate_depth(view.depth_m, view.intrinsics, view.map_T_camera)
            else:
                scene.integrate_depth(vm.depth_image(state, pose, include_objects=False), vm.view_K,
                                      vm.map_T_camera(pose))
        update = scene.end_frame(stamp_ns)
        out = PerceptionOutput(stamp_ns=stamp_ns, observations=obs, view=view, place_id=pid,
                               places=update.places, rooms=update.rooms)
        return out, truth, [s.entity.entity_id for s in sights]

    def finish(self, stamp_ns: int) -> PerceptionOutput:
        update = self.scene.finish(stamp_ns)
        return PerceptionOutput(stamp_ns=stamp_ns, observations=[], place_id=self.scene.places.current,
                                places=update.places, rooms=update.rooms)

    def room_at(self, x_m: float, y_m: float) -> int:
        return self.scene.room_at(x_m, y_m)


class LayoutRooms:
    """Known rooms (perception's ``KnownRooms``) with the world's true extents and ids, labelled by
    perception's labeler (objects and shape): its label, or "unknown" below ``label_min_confidence``."""

    def __init__(self, world: World, config: RoomsConfig):
        self.world = world
        self.config = config

    def segment(self, labeler: RoomLabeler, stamp_ns: int) -> RoomSegmentation:
        return layout_segmentation(self.world, labeler, stamp_ns, self.config)

    def room_at(self, x_m: float, y_m: float) -> int:
        return self.world.room_at(x_m, y_m)


def layout_segmentation(world: World, labeler: RoomLabeler, stamp_ns: int, cfg: RoomsConfig) -> RoomSegmentation:
    """Rooms with the true extents (ids = the world's room ids), labelled by perception's labeler."""
    res = cfg.grid_resolution_m
    W, H = world.size_xy_m
    cols, rows = int(np.ceil(W / res)), int(np.ceil(H / res))
    xs = (np.arange(cols) + 0.5) * res
    ys = (np.arange(rows) + 0.5) * res
    room_map = np.full((rows, cols), -1, np.int16)
    for r in world.rooms:
        c0, c1 = np.searchsorted(xs, [r.min_xy_m[0], r.max_xy_m[0]])
        r0, r1 = np.searchsorted(ys, [r.min_xy_m[1], r.max_xy_m[1]])
        room_map[r0:r1, c0:c1] = r.room_id
    shapes = {r.room_id: (min(r.max_xy_m[0] - r.min_xy_m[0], r.max_xy_m[1] - r.min_xy_m[1]), float(r.area_m2))
              for r in world.rooms}     # (width, area): a long, narrow room's shape is hallway evidence
    labels = labeler.label_rooms(world.room_at, shapes)
    rooms = []
    for r in world.rooms:
        lab, conf = labels.get(r.room_id, ("unknown", 0.0))
        if conf < cfg.label_min_confidence:
            lab = "unknown"
        cx, cy = r.center_xy_m
        rooms.append(Room(room_id=r.room_id, label=lab, label_confidence=float(conf),
                          centroid_m=np.array([cx, cy, 0.0]), area_m2=float(r.area_m2)))
    return RoomSegmentation(stamp_ns=stamp_ns, rooms=rooms, room_map=room_map, resolution_m=res,
                            origin_xy_m=(0.0, 0.0))


_RUN_VERSION = 2   # of PerceptionRun: bump when the emulator's outputs change for the same configs


@dataclass
class PerceptionRun:
    """What the patrols produced (cacheable): the perception outputs, the true visibility index, perception's
    final place graph builder, and counts."""
    outputs: List[PerceptionOutput]
    detection_truth: List[List[str]]
    seen: Dict[str, List[int]]
    places: PlaceGraphBuilder
    first_patrol_ns: int
    last_patrol_end_ns: int
    frames_used: int
    observations: int
    version: int = _RUN_VERSION

    def __setstate__(self, state: Dict[str, Any]) -> None:
        """Unpickling (the harness's disk cache) refuses runs of another emulator version, so they are rebuilt."""
        if state.get("version") != _RUN_VERSION:
            raise ValueError(f"perception run of version {state.get('version')}, expected {_RUN_VERSION}")
        self.__dict__.update(state)


def simulate_home(seed: int, days: int, sim_config: SimConfig, future_days: int = 2) -> Simulator:
    """The simulator of home ``seed`` with ground truth for ``days + future_days`` days (the future is for
    the forecasts' truth only)."""
    cfg = copy.deepcopy(sim_config)
    cfg.world.seed = int(seed)
    sim = Simulator(cfg)
    sim.ground_truth(days + future_days)
    return sim


def perceive_home(sim: Simulator, days: int, obs: ObservationConfig,
                  perception: Optional[PerceptionConfig] = None) -> PerceptionRun:
    """Run the patrols of days 0 .. days-1 through the visibility model and the perception emulator
    (``perception``: the product's config, default config/perception.yaml)."""
    cfg = sim.config
    seed = sim.seed
    log = sim.ground_truth(days)
    vm = VisibilityModel(sim.world, cfg.robot, cfg.camera, obs)
    emu = PerceptionEmulator(vm, perception, layout=sim.world if obs.rooms_source == "layout" else None)
    outputs: List[PerceptionOutput] = []
    det_truth: List[List[str]] = []
    seen_pairs: List[Tuple[str, int]] = []
    first = last = 0
    frames = nobs = 0
    state: Optional[WorldState] = None
    state_t = -1
    for day in range(days):
        plan = sim.patrol_plan(day)
        stamps = plan.trajectory.stamps_ns(cfg.camera.rate_hz)[::obs.frame_stride]
        if day == 0:
            first = stamps[0]
        rng = np.random.default_rng([int(seed), _OBS_SEED_TAG, obs.seed, day])
        for k, t in enumerate(stamps):
            if state is None or log.changes(state_t + 1, t + 1):
                state = world_state(sim.world, log, t)
            state_t = t
            pose = plan.trajectory.pose_at(t)
            out, truth, in_view = emu.step(state, pose, t, rng, make_view=(k % obs.view_every_n_frames == 0))
            outputs.append(out)
            det_truth.append(truth)
            seen_pairs += [(e, t) for e in in_view]
            frames += 1
            nobs += len(out.observations)
        last = stamps[-1]
        outputs.append(emu.finish(last + 1))
        det_truth.append([])
    return PerceptionRun(outputs, det_truth, merge_seen(seen_pairs), emu.places, first, last, frames, nobs)


def assemble_home(sim: Simulator, days: int, run: PerceptionRun, canonical) -> HomeData:
    truth = HomeTruth(sim.world, sim.ground_truth(days), sim.calendar, run.seen, canonical)
    return HomeData(sim.seed, days, sim, truth, run.outputs, run.first_patrol_ns, run.last_patrol_end_ns,
                    run.frames_used, run.observations, run.detection_truth, run.places)


def build_home(seed: int, days: int, sim_config: SimConfig, obs: ObservationConfig, canonical,
               future_days: int = 2) -> HomeData:
    """Simulate ``days`` days of patrol in home ``seed`` and the perception outputs of every used frame."""
    sim = simulate_home(seed, days, sim_config, future_days)
    return assemble_home(sim, days, perceive_home(sim, days, obs), canonical)
