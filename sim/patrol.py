"""The robot's motion: timed trajectories of a differential-drive base, and the daily patrol.

A ``Trajectory`` is a list of segments (turn in place, drive straight, spin) with start times; ``pose_at``
interpolates the planar pose (x_m, y_m, yaw_rad) at any time. The daily patrol visits a random subset of
rooms covering ``coverage_fraction`` of the home's area (seeded by world seed and day), stops at one or more
free spots per room and spins a full turn there, then returns to the dock.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from memory_nodes.common.errors import InputError

from .calendar import NS_PER_S
from .config import PatrolConfig, RobotConfig
from .nav import GridPlanner
from .world import World

Pose2D = Tuple[float, float, float]
_PATROL_SEED_TAG = 0xBA7201


def wrap_angle(a: float) -> float:
    return math.atan2(math.sin(a), math.cos(a))


@dataclass(frozen=True)
class Segment:
    t0_ns: int
    t1_ns: int
    kind: str                    # "turn" | "drive" | "spin" | "wait"
    start: Pose2D
    end: Pose2D                  # for spin: end yaw = start yaw + delta (unwrapped in yaw_delta)
    yaw_delta_rad: float = 0.0   # signed rotation for turn/spin

    def pose_at(self, t_ns: int) -> Pose2D:
        if self.t1_ns <= self.t0_ns:
            return self.end
        u = min(1.0, max(0.0, (t_ns - self.t0_ns) / (self.t1_ns - self.t0_ns)))
        if self.kind == "drive":
            return (self.start[0] + u * (self.end[0] - self.start[0]),
                    self.start[1] + u * (self.end[1] - self.start[1]), self.start[2])
        if self.kind in ("turn", "spin"):
            return (self.start[0], self.start[1], wrap_angle(self.start[2] + u * self.yaw_delta_rad))
        return self.start


@dataclass
class Trajectory:
    start_ns: int
    segments: List[Segment] = field(default_factory=list)

    @property
    def end_ns(self) -> int:
        return self.segments[-1].t1_ns if self.segments else self.start_ns

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S

    def pose_at(self, t_ns: int) -> Pose2D:
        if not self.segments:
            raise InputError("empty_trajectory", "no segments")
        if t_ns <= self.segments[0].t0_ns:
            return self.segments[0].start
        # binary search on segment start times
        lo, hi = 0, len(self.segments) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.segments[mid].t0_ns <= t_ns:
                lo = mid
            else:
                hi = mid - 1
        return self.segments[lo].pose_at(t_ns)

    def path_xy(self) -> List[Tuple[float, float]]:
        pts = [(self.segments[0].start[0], self.segments[0].start[1])] if self.segments else []
        for s in self.segments:
            if s.kind == "drive":
                pts.append((s.end[0], s.end[1]))
        return pts

    def distance_m(self) -> float:
        return float(sum(math.hypot(s.end[0] - s.start[0], s.end[1] - s.start[1])
                         for s in self.segments if s.kind == "drive"))

    def stamps_ns(self, rate_hz: float) -> List[int]:
        """Frame stamps at ``rate_hz`` from start to end inclusive of the start."""
        period = int(round(NS_PER_S / rate_hz))
        n = int((self.end_ns - self.start_ns) // period) + 1
        return [self.start_ns + k * period for k in range(n)]


class TrajectoryBuilder:
    """Appends turn/drive/spin segments at the robot's speeds."""

    def __init__(self, start_ns: int, pose: Pose2D, robot: RobotConfig):
        self.traj = Trajectory(int(start_ns))
        self.pose = (float(pose[0]), float(pose[1]), float(pose[2]))
        self.t = int(start_ns)
        self.robot = robot

    def _add(self, kind: str, end: Pose2D, dur_s: float, dyaw: float = 0.0) -> None:
        t1 = self.t + int(round(dur_s * NS_PER_S))
        self.traj.segments.append(Segment(self.t, t1, kind, self.pose, end, dyaw))
        self.t, self.pose = t1, end

    def turn_to(self, yaw: float) -> None:
        d = wrap_angle(yaw - self.pose[2])
        if abs(d) > 1e-3:
            self._add("turn", (self.pose[0], self.pose[1], wrap_angle(yaw)), abs(d) / self.robot.angular_speed_radps, d)

    def spin(self, turns: float = 1.0) -> None:
        d = 2 * math.pi * turns
        self._add("spin", (self.pose[0], self.pose[1], wrap_angle(self.pose[2] + d)),
                  abs(d) / self.robot.angular_speed_radps, d)

    def drive_to(self, x: float, y: float) -> None:
        dist = math.hypot(x - self.pose[0], y - self.pose[1])
        if dist < 1e-3:
            return
        self.turn_to(math.atan2(y - self.pose[1], x - self.pose[0]))
        self._add("drive", (float(x), float(y), self.pose[2]), dist / self.robot.linear_speed_mps)

    def follow(self, waypoints: Sequence[Tuple[float, float]]) -> None:
        for p in waypoints[1:]:
            self.drive_to(p[0], p[1])

    def wait(self, dur_s: float) -> None:
        self._add("wait", self.pose, dur_s)


def plan_drive(planner: GridPlanner, robot: RobotConfig, start_ns: int, start: Pose2D, goal: Pose2D
               ) -> Optional[Trajectory]:
    """Trajectory from ``start`` to ``goal`` (final yaw = goal yaw), or None if unreachable."""
    path = planner.plan((start[0], start[1]), (goal[0], goal[1]))
    if path is None:
        return None
    b = TrajectoryBuilder(start_ns, start, robot)
    b.follow([(start[0], start[1])] + list(path[1:]))
    b.turn_to(goal[2])
    if not b.traj.segments:
        b.wait(0.0)
    return b.traj


@dataclass
class PatrolPlan:
    day: int
    rooms: List[int]                       # visited room ids, in order
    stops: List[Tuple[float, float, int]]  # (x_m, y_m, room_id)
    trajectory: Trajectory
    covered_area_fraction: float


def room_stops(world: World, planner: GridPlanner, room_id: int, n: int, rng: np.random.Generator,
               reach: np.ndarray) -> List[Tuple[float, float]]:
    """Up to ``n`` reachable, well-spread stopping spots inside a room (first near its free centre)."""
    room = world.room(room_id)
    g = planner.cspace
    t = world.config.wall_thickness_m
    r0, c0 = g.cell_of(room.min_xy_m[0] + t, room.min_xy_m[1] + t)
    r1, c1 = g.cell_of(room.max_xy_m[0] - t, room.max_xy_m[1] - t)
    sub = reach[max(r0, 0):r1, max(c0, 0):c1]
    idx = np.argwhere(sub)
    if idx.size == 0:
        return []
    # prefer cells with clearance: distance to nearest obstacle
    from scipy import ndimage
    clear = ndimage.distance_transform_edt(~g.occupied[max(r0, 0):r1, max(c0, 0):c1])
    pts = np.array([g.center_of(int(a + max(r0, 0)), int(b + max(c0, 0))) for a, b in idx])
    clr = clear[idx[:, 0], idx[:, 1]] * g.resolution_m          # clearance of the robot centre (m)
    good = clr >= min(0.35, 0.8 * float(clr.max()))
    pts, clr = pts[good], clr[good]
    cx, cy = room.center_xy_m
    d_center = np.hypot(pts[:, 0] - cx, pts[:, 1] - cy)
    first = int(np.argmin(d_center - 1.0 * np.minimum(clr, 1.0) + 0.05 * rng.random(len(pts))))
    chosen = [first]
    mind = np.hypot(pts[:, 0] - pts[first, 0], pts[:, 1] - pts[first, 1])
    while len(chosen) < n:
        k = int(np.argmax(np.minimum(mind, 2.5) + 1.5 * np.minimum(clr, 1.0)))
        if mind[k] < 1.5:
            break
        chosen.append(k)
        mind = np.minimum(mind, np.hypot(pts[:, 0] - pts[k, 0], pts[:, 1] - pts[k, 1]))
    return [(float(pts[k, 0]), float(pts[k, 1])) for k in chosen]


def plan_patrol(world: World, planner: GridPlanner, robot: RobotConfig, cfg: PatrolConfig, day: int,
                start_ns: int, start_pose: Optional[Pose2D] = None) -> PatrolPlan:
    """The patrol of ``day`` starting at ``start_ns`` from ``start_pose`` (default: the dock), ending there."""
    rng = np.random.default_rng([world.seed, _PATROL_SEED_TAG, int(day)])
    start = start_pose or world.dock_pose
    reach = planner.reachable_mask(start[:2])
    rooms = [r for r in world.rooms if r.room_type != "hallway"]
    total = sum(r.area_m2 for r in world.rooms)
    order = [rooms[i] for i in rng.permutation(len(rooms))]
    chosen, area = [], 0.0
    hall = [r for r in world.rooms if r.room_type == "hallway"]
    if cfg.always_visit_hallway:
        area += sum(r.area_m2 for r in hall)
    full = cfg.mapping_tour_first_day and int(day) == 0
    for r in order:
        if not full and area >= cfg.coverage_fraction * total - 1e-9:
            break
        chosen.append(r)
        area += r.area_m2
    # stops per room
    stops: List[Tuple[float, float, int]] = []
    per_room = {}
    for r in chosen + (hall if cfg.always_visit_hallway else []):
        n = max(1, int(round(r.area_m2 / 20.0 * cfg.stops_per_room_per_20m2)))
        per_room[r.room_id] = room_stops(world, planner, r.room_id, n, rng, reach)
    # greedy nearest-neighbour tour over rooms by path length from the current position
    cur = (start[0], start[1])
    todo = [rid for rid in per_room if per_room[rid]]
    visit: List[int] = []
    while todo:
        field = planner.distance_field(cur)
        best = min(todo, key=lambda rid: (field[planner.cspace.cell_of(*per_room[rid][0])], rid))
        visit.append(best)
        todo.remove(best)
        for p in per_room[best]:
            stops.append((p[0], p[1], best))
        cur = per_room[best][-1]
    b = TrajectoryBuilder(start_ns, start, robot)
    pos = (start[0], start[1])
    for x, y, _ in stops:
        path = planner.plan(pos, (x, y))
        if path is None:
            continue
        b.follow([pos] + list(path[1:]))
        if cfg.spin_at_stops:
            b.spin(1.0)
        pos = (x, y)
    path = planner.plan(pos, (start[0], start[1]))
    if path is not None:
        b.follow([pos] + list(path[1:]))
    b.turn_to(start[2])
    if not b.traj.segments:
        b.wait(1.0)
    covered = sum(world.room(rid).area_m2 for rid in visit) / total if total > 0 else 0.0
    return PatrolPlan(day, visit, stops, b.traj, covered)
