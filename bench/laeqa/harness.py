"""The in-process harness: memory per home built once (and cached), a Navigator over the frozen true world,
and per-question overlays.

- Memory: ``MemoryCore.in_memory`` fed with the home's perception outputs (home.py). Each (agent, question)
  answers over ``memory.fork()`` -- a copy-on-write overlay that takes what the agent observes and is
  dropped afterwards -- so every agent starts from the same snapshot.
- Navigator: path cost from the simulator's occupancy grid (Dijkstra distance fields), ``go_to`` moves the
  robot instantly (the world is frozen at the question's time), ``look`` is a yaw sweep through the
  visibility model at the current pose; what it sees also goes into the overlay memory, as perception
  would feed the memory node.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from memory_nodes.common.protocols import LookResult
from memory_nodes.common.types import ObjectObservation, PerceptionOutput, View
from sim.config import SimConfig

from .config import ObservationConfig
from .home import HomeData, PerceptionRun, assemble_home, perceive_home, product_perception_config, simulate_home
from .observe import Pose2D, VisibilityModel, WorldState, world_state

CACHE_VERSION = 2                 # 2: perception runs made by the product's PlacesAndRooms
_LOOK_SEED_TAG = 0x100C


def _free_pose(home: HomeData, x: float, y: float) -> Tuple[float, float]:
    q = home.sim.planner.nearest_free(x, y, max_dist_m=1.0)
    return (float(q[0]), float(q[1])) if q is not None else (x, y)


class BenchNavigator:
    """Navigator protocol over the frozen true world of one question."""

    def __init__(self, home: HomeData, vm: VisibilityModel, state: WorldState, start: Pose2D, stamp_ns: int,
                 places: Any, memory: Any = None, rng: Optional[np.random.Generator] = None,
                 yaw_steps: int = 8, with_views: bool = True):
        self.home = home
        self.vm = vm
        self.state = state
        self.pose: Pose2D = (float(start[0]), float(start[1]), float(start[2]))
        self.stamp_ns = int(stamp_ns)
        self.places = places                     # a private copy of perception's place graph builder
        self.memory = memory                     # the overlay memory (fork) the looks feed, or None
        self.rng = rng or np.random.default_rng(0)
        self.yaw_steps = yaw_steps
        self.with_views = with_views             # keyframes (depth) with each look; off for agents without memory
        self.driven_m = 0.0
        self.looks = 0
        self.goals: List[Pose2D] = []
        self.seen_entities: set = set()          # scorer side: what the looks truly had in view

    def current_pose(self) -> Pose2D:
        return self.pose

    def path_cost_m(self, start: Sequence[float], goal: Sequence[float]) -> float:
        return float(self.home.sim.planner.path_length_m((float(start[0]), float(start[1])),
                                                         (float(goal[0]), float(goal[1]))))

    def go_to(self, goal: Sequence[float]) -> float:
        d = self.path_cost_m(self.pose, goal)
        if not math.isfinite(d):
            raise RuntimeError(f"goal ({goal[0]:.2f}, {goal[1]:.2f}) unreachable")
        x, y = _free_pose(self.home, float(goal[0]), float(goal[1]))
        self.pose = (x, y, float(goal[2]) if len(goal) > 2 else self.pose[2])
        self.driven_m += d
        self.goals.append(self.pose)
        return d

    def look(self) -> LookResult:
        """A full yaw sweep at the current position: views and detections (also ingested into the overlay)."""
        self.looks += 1
        views: List[View] = []
        obs: List[ObjectObservation] = []
        x, y, yaw0 = self.pose
        for k in range(self.yaw_steps):
            self.stamp_ns += 1_000_000            # the world is frozen: looks are stamped at the question time
            pose = (x, y, yaw0 + 2.0 * math.pi * k / self.yaw_steps)
            changed = self.places.update(np.array([x, y, 0.0]), self.stamp_ns) if self.places is not None else False
            pid = self.places.current if self.places is not None else -1
            sights = self.vm.sightings(self.state, pose)
            self.seen_entities.update(s.entity.entity_id for s in sights)
            view_id = f"look{self.looks}_{k}_{self.stamp_ns}"
            o, _ = self.vm.detect(sights, self.stamp_ns, self.rng, view_id, pid, pose)
            obs += o
            if not self.with_views:
                continue
            v = self.vm.make_view(self.state, pose, self.stamp_ns, view_id, pid, [a.class_name for a in o])
            views.append(v)
            if self.memory is not None:
                self.memory.ingest(PerceptionOutput(stamp_ns=self.stamp_ns, observations=o, view=v, place_id=pid,
                                                    places=self.places.graph(self.stamp_ns) if changed else None))
        return LookResult(views=views, observations=obs)


@dataclass
class HomeContext:
    """One home ready for questions: its data, the memory snapshot, the observation model."""
    home: HomeData
    memory: Any                                  # MemoryCore (the snapshot; never written after building)
    vm: VisibilityModel
    obs_cfg: ObservationConfig
    build_s: float = 0.0
    ingest_s: float = 0.0
    cached: bool = False
    viewpoint_area_m2: float = 10.0
    _states: Dict[int, WorldState] = field(default_factory=dict)
    _viewpoints: Dict[int, List[Tuple[float, float]]] = field(default_factory=dict)
    _spots: Optional[np.ndarray] = None

    def state_at(self, t_ns: int) -> WorldState:
        s = self._states.get(t_ns)
        if s is None:
            s = self._states[t_ns] = world_state(self.home.sim.world, self.home.truth.log, t_ns)
        return s

    def viewpoints(self, room_id: int) -> List[Tuple[float, float]]:
        """Spots to look from in a room (the floor plan's, not memory's): spread, reachable, one per
        ~``viewpoint_area_m2`` of floor."""
        vp = self._viewpoints.get(room_id)
        if vp is None:
            from sim.patrol import room_stops
            world = self.home.sim.world
            planner = self.home.sim.planner
            reach = planner.reachable_mask(world.dock_pose[:2])
            n = max(1, int(round(world.room(room_id).area_m2 / self.viewpoint_area_m2)))
            rng = np.random.default_rng([self.home.seed, 0x5107, room_id])
            vp = self._viewpoints[room_id] = room_stops(world, planner, room_id, n, rng, reach)
        return vp

    def candidate_spots(self) -> np.ndarray:
        """(N, 2) reachable free positions on a 0.5 m lattice (where the oracle may look from)."""
        if self._spots is None:
            planner = self.home.sim.planner
            g = planner.cspace
            reach = planner.reachable_mask(self.home.sim.world.dock_pose[:2])
            step = max(1, int(round(0.5 / g.resolution_m)))
            rr, cc = np.nonzero(reach[::step, ::step])
            self._spots = np.array([g.center_of(int(r * step), int(c * step)) for r, c in zip(rr, cc)])
        return self._spots

    def verify_path_m(self, t_ns: int, entities: Sequence[str], rooms: Sequence[int]) -> float:
        """Length of a short path from the start pose that puts every entity in view (a yaw sweep) and
        looks inside every room: greedy nearest-first over the targets, each reached at its nearest spot
        from which it is truly visible."""
        state = self.state_at(t_ns)
        planner = self.home.sim.planner
        spots = self.candidate_spots()
        world = self.home.sim.world
        pos = self.start_pose()[:2]
        todo: List[Tuple[str, Any]] = [("e", e) for e in entities] + [("r", r) for r in rooms]
        total = 0.0
        while todo:
            field = planner.distance_field(pos)
            cells = [planner.cspace.cell_of(x, y) for x, y in spots]
            d = np.array([field[r, c] for r, c in cells])
            best = (math.inf, None, None)
            order = np.argsort(d)
            for item in todo:
                for i in order:
                    if not math.isfinite(d[i]) or d[i] >= best[0]:
                        break
                    xy = (float(spots[i][0]), float(spots[i][1]))
                    if item[0] == "r":
                        ok = world.room_at(*xy) == item[1]
                    else:
                        e = state.entity(item[1])
                        ok = e is not None and np.hypot(e.center_m[0] - xy[0], e.center_m[1] - xy[1]) <= \
                            self.vm.config.max_range_m and self.vm.seen_from(state, xy, item[1],
                                                                             self.obs_cfg.look_yaw_steps)
                    if ok:
                        best = (float(d[i]), item, xy)
                        break
            if best[1] is None:
                break
            total += best[0]
            pos = best[2]
            todo.remove(best[1])
        return total

    def start_pose(self) -> Pose2D:
        return tuple(self.home.sim.world.dock_pose)  # type: ignore[return-value]

    def navigator(self, t_ns: int, overlay: Any, seed: int, with_views: bool = True) -> BenchNavigator:
        places = copy.deepcopy(self.home.places) if self.home.places is not None else None
        rng = np.random.default_rng([self.home.seed, _LOOK_SEED_TAG, seed])
        return BenchNavigator(self.home, self.vm, self.state_at(t_ns), self.start_pose(), t_ns, places, overlay,
                              rng, self.obs_cfg.look_yaw_steps, with_views)


def config_hash(*parts: Any) -> str:
    def enc(o):
        if hasattr(o, "__dataclass_fields__"):
            return asdict(o)
        return o
    blob = json.dumps([enc(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_or_build_home(seed: int, days: int, sim_cfg: SimConfig, obs_cfg: ObservationConfig, vocab,
                       cache_dir: Optional[Path]) -> Tuple[HomeData, bool]:
    """The home's data; the patrols' perception run comes from the disk cache when its key matches
    (seed, days, simulator, observation and perception config, cache version)."""
    sim = simulate_home(seed, days, sim_cfg)
    pc = product_perception_config()        # what the emulator runs: config/perception.yaml's places/rooms
    rendered = obs_cfg.model == "rendered"  # the whole pipeline runs: all of its config is in the key
    key = config_hash(CACHE_VERSION, seed, days, sim_cfg, obs_cfg, *((pc,) if rendered else (pc.places, pc.rooms)),
                      sim.world.hash())
    path = cache_dir / f"perception_s{seed}_d{days}_{key}.pkl" if cache_dir else None
    run = None
    if path is not None and path.is_file():
        try:
            with path.open("rb") as f:
                run = pickle.load(f)
            if not isinstance(run, PerceptionRun):
                run = None
        except Exception:  # a stale or corrupt cache entry is rebuilt
            run = None
    cached = run is not None
    if run is None:
        if rendered:
            from .rendered import perceive_home_rendered
            run = perceive_home_rendered(sim, days, obs_cfg, pc)
        else:
            run = perceive_home(sim, days, obs_cfg, pc)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as f:
                pickle.dump(run, f, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(path)
            for old in path.parent.glob(f"perception_s{seed}_d{days}_*.pkl"):
                if old != path:          # entries of older configs of this home: never read again
                    old.unlink(missing_ok=True)
    return assemble_home(sim, days, run, vocab.canonical), cached


def build_memory(home: HomeData, memory_config, vocab):
    """The memory snapshot of a home: every perception output ingested, committed."""
    from memory_nodes.memory import MemoryCore
    mem = MemoryCore.in_memory(memory_config, vocab)
    mem.ingest_many(home.outputs)
    return mem
