"""Navigation core: A* paths are collision-free, costs consistent, trajectories timed; patrol coverage;
odometry drift with the map -> odom correction."""
from __future__ import annotations

import math

import numpy as np
import pytest

from memory_nodes.common.errors import InputError
from memory_nodes.common.geometry import pose2d_T
from sim import Simulator
from sim.nav import GridPlanner, OccupancyGrid, polyline_length_m
from sim.robot import OdometryDrift, RobotMotion


@pytest.fixture(scope="module")
def sim():
    return Simulator(seed=0)


def _segment_free(planner, a, b, step=0.02):
    n = max(2, int(math.hypot(b[0] - a[0], b[1] - a[1]) / step) + 1)
    return all(planner.is_free(a[0] + (b[0] - a[0]) * k / (n - 1), a[1] + (b[1] - a[1]) * k / (n - 1))
               for k in range(n))


def test_paths_between_rooms_are_collision_free_and_costs_consistent(sim):
    p = sim.planner
    w = sim.world
    rng = np.random.default_rng(0)
    free = np.argwhere(~p.cspace.occupied & p.reachable_mask(w.dock_pose[:2]))
    for _ in range(25):
        a = p.cspace.center_of(*free[rng.integers(len(free))])
        b = p.cspace.center_of(*free[rng.integers(len(free))])
        path = sim.plan_path(a, b)
        assert path is not None
        assert path[0] == pytest.approx(a) and path[-1] == pytest.approx(b)
        assert all(_segment_free(p, u, v) for u, v in zip(path, path[1:]))
        L = polyline_length_m(path)
        grid_len = sim.path_length_m(a, b)
        assert math.hypot(b[0] - a[0], b[1] - a[1]) - 1e-6 <= L <= grid_len + 2 * w.grid.resolution_m
        assert grid_len <= 1.09 * L + 0.2        # 8-connected grid metric over-estimates by < 8 %


def test_unreachable_and_colliding_goals():
    occ = np.zeros((40, 40), dtype=bool)
    occ[:, 20] = True                            # a wall splits the grid
    g = OccupancyGrid(occ, 0.1, (0.0, 0.0))
    p = GridPlanner(g, radius_m=0.15)
    assert p.plan((0.5, 2.0), (3.5, 2.0)) is None
    assert p.path_length_m((0.5, 2.0), (3.5, 2.0)) == math.inf
    assert p.path_length_m((0.5, 2.0), (0.5, 3.5)) == pytest.approx(1.5, abs=0.11)
    with pytest.raises(InputError):
        p.plan((20.0, 20.0), (0.5, 0.5))                      # far outside: nothing free within 0.5 m
    snapped = p.plan((1.95, 2.0), (0.5, 0.5))                  # inside the inflated wall: snapped out
    assert snapped is not None and p.is_free(*snapped[0])


def test_drive_trajectory_is_timed_at_robot_speeds(sim):
    w = sim.world
    start = w.dock_pose
    room = next(r for r in w.rooms if r.room_type == "kitchen")
    goal_xy = sim.planner.nearest_free(*room.center_xy_m, max_dist_m=2.0)
    t0 = sim.calendar.stamp_ns(0, 12 * 3600)
    traj = sim.drive(t0, start, (goal_xy[0], goal_xy[1], 0.5))
    assert traj is not None and traj.start_ns == t0
    end = traj.pose_at(traj.end_ns)
    assert end[0] == pytest.approx(goal_xy[0]) and end[1] == pytest.approx(goal_xy[1])
    assert end[2] == pytest.approx(0.5, abs=1e-6)
    r = sim.config.robot
    assert traj.duration_s >= traj.distance_m() / r.linear_speed_mps - 1e-6
    stamps = traj.stamps_ns(5.0)
    for a, b in zip(stamps, stamps[1:]):
        pa, pb = traj.pose_at(a), traj.pose_at(b)
        assert math.hypot(pb[0] - pa[0], pb[1] - pa[1]) <= r.linear_speed_mps * 0.2 + 1e-6
        assert sim.planner.is_free(pb[0], pb[1])


def test_patrol_covers_configured_fraction_and_varies_by_day(sim):
    plans = [sim.patrol_plan(d) for d in range(7)]
    cov = sim.config.patrol.coverage_fraction
    room_sets = set()
    assert sim.config.patrol.mapping_tour_first_day
    assert plans[0].covered_area_fraction == pytest.approx(1.0)      # day 0: the mapping tour, every room
    for pl in plans:
        assert pl.covered_area_fraction >= cov - 1e-9
    for pl in plans[1:]:
        assert pl.covered_area_fraction < 1.0                      # later days: gaps, never the whole home
        traj = pl.trajectory
        assert traj.pose_at(traj.end_ns)[:2] == pytest.approx(sim.world.dock_pose[:2])
        for t in traj.stamps_ns(2.0):
            x, y, _ = traj.pose_at(t)
            assert sim.planner.is_free(x, y)
        room_sets.add(frozenset(pl.rooms))
    assert len(room_sets) >= 3
    assert sim.patrol_plan(3).stops == plans[3].stops                # deterministic per day


def test_robot_motion_finishes_and_stops(sim):
    m = RobotMotion(sim.world.dock_pose)
    t0 = sim.calendar.stamp_ns(0, 9 * 3600)
    traj = sim.patrol_plan(0, start_ns=t0).trajectory
    m.follow(traj, "patrol")
    mid = (traj.start_ns + traj.end_ns) // 2
    assert m.active(mid) and m.finish_if_done(mid) is None
    v, w = m.velocity_at(mid)
    assert abs(v) <= sim.config.robot.linear_speed_mps + 1e-6
    stopped = m.stop(mid)
    assert not m.active(mid + 10**9) and m.pose_at(mid + 10**9) == stopped


@pytest.mark.parametrize("enabled", [False, True])
def test_odometry_drift_and_map_to_odom_correction(sim, enabled):
    import dataclasses
    cfg = dataclasses.replace(sim.config.robot, odom_drift_enabled=enabled, odom_drift_linear_frac=0.05)
    traj = sim.patrol_plan(0).trajectory
    start = traj.pose_at(traj.start_ns)
    od = OdometryDrift(cfg, seed=0, start_pose=start)
    for t in traj.stamps_ns(5.0):
        true = traj.pose_at(t)
        od.update(true)
    true = traj.pose_at(traj.end_ns)
    od.update(true)
    err = math.hypot(od.odom_pose[0] - true[0], od.odom_pose[1] - true[1])
    if enabled:
        assert err > 0.01                                           # odometry alone has drifted
    else:
        assert err < 1e-9
    map_T_base = od.map_T_odom(true) @ od.odom_T_base()
    assert np.allclose(map_T_base, pose2d_T(*true), atol=1e-9)
    assert od.distance_m == pytest.approx(traj.distance_m(), rel=0.02)
