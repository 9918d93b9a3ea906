"""Simulator benchmark: render rate on one core, and simulated seconds per wall second for a patrol day.

    python -m bench.sim [--quick] [--json PATH] [--seed N] [--day D]

Rendering is measured with one thread (LP_NUM_THREADS=1 for Mesa's llvmpipe, set before the first GL
context; numpy/BLAS threads 1). ``sim_speedup`` = simulated seconds of a patrol day's patrol divided by the
wall time to produce every frame of it at the configured camera rate (ground truth, poses, render, noise);
``sim_speedup_full_day`` counts the whole 24 h day (the household runs between patrols, nothing rendered).
The machine may be shared: the load average is recorded with the figures.
"""
from __future__ import annotations

import os

for _v in ("LP_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from typing import Dict  # noqa: E402


def _fps(sim, width: int, height: int, n: int, t_ns: int, map_T_camera) -> float:
    r = sim.renderer(width, height)
    scene = sim.scene_state(t_ns)
    r.render(map_T_camera, scene)     # warm-up (context, first upload)
    t0 = time.perf_counter()
    for _ in range(n):
        r.render(map_T_camera, scene)
    return n / (time.perf_counter() - t0)


def run(quick: bool, seed: int, day: int) -> Dict[str, float]:
    from sim import Simulator
    from sim.render import backend_choice
    out: Dict[str, float] = {}
    t0 = time.perf_counter()
    sim = Simulator(seed=seed)
    out["world_gen_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.ground_truth(14)
    out["ground_truth_14_days_s"] = time.perf_counter() - t0

    plan = sim.patrol_plan(day)
    stamps = plan.trajectory.stamps_ns(sim.config.camera.rate_hz)
    mid = stamps[len(stamps) // 3]
    T = sim.base_pose_T(plan.trajectory.pose_at(mid)) @ sim.base_T_camera
    n = 60 if quick else 300
    out["render_fps_320x240"] = _fps(sim, 320, 240, n, mid, T)
    out["render_fps_640x480"] = _fps(sim, 640, 480, n // 2, mid, T)

    # a patrol day on a fresh simulator: ground truth for the day, every frame rendered with noise
    sim2 = Simulator(seed=seed)
    sim2.renderer()                   # GL context creation is a one-off, not per day
    frames = stamps if not quick else stamps[: min(len(stamps), 150)]
    t0 = time.perf_counter()
    sim2.ground_truth(day + 1)
    plan2 = sim2.patrol_plan(day)
    for t in frames:
        sim2.frame_at(sim2.base_pose_T(plan2.trajectory.pose_at(t)), t)
    wall = time.perf_counter() - t0
    simulated_s = (frames[-1] - frames[0]) / 1e9 + 1.0 / sim.config.camera.rate_hz
    out["patrol_frames"] = float(len(frames))
    out["patrol_simulated_s"] = simulated_s
    out["patrol_wall_s"] = wall
    out["frame_fps_with_noise"] = len(frames) / wall
    out["sim_speedup"] = simulated_s / wall
    full_wall = wall * (plan.trajectory.duration_s / simulated_s)   # whole patrol at the measured rate
    out["sim_speedup_full_day"] = 86400.0 / full_wall
    out["patrol_duration_s"] = plan.trajectory.duration_s
    out["patrol_distance_m"] = plan.trajectory.distance_m()
    out["patrol_coverage_fraction"] = plan.covered_area_fraction

    t0 = time.perf_counter()
    w = sim.world
    a = (w.dock_pose[0], w.dock_pose[1])
    k = 0
    for r in w.rooms:
        sim.plan_path(a, sim.planner.nearest_free(*r.center_xy_m, max_dist_m=2.0) or a)
        k += 1
    out["astar_plan_ms"] = 1000 * (time.perf_counter() - t0) / k
    out["load_avg_1min"] = os.getloadavg()[0]
    out["cpu_count"] = float(os.cpu_count() or 0)
    ch = backend_choice()
    out["_backend"] = f"{ch.backend}/{ch.gl}" if ch.gl else ch.backend
    out["_backend_reason"] = ch.reason
    out["_num_objects"] = len(w.objects)
    out["_num_classes"] = len(w.object_classes())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames (under a minute)")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--day", type=int, default=1)
    a = ap.parse_args(argv)
    res = run(a.quick, a.seed, a.day)
    goals = {"render_fps_320x240": 30.0, "render_fps_640x480": 15.0, "sim_speedup": 10.0}
    print(f"bench.sim  seed={a.seed} day={a.day} quick={a.quick}  python {platform.python_version()}  "
          f"backend {res['_backend']} ({res['_backend_reason']})")
    print(f"{'metric':32s} {'value':>12s} {'goal':>8s}")
    for k, v in res.items():
        if k.startswith("_"):
            continue
        g = goals.get(k)
        mark = "" if g is None else (">= %g %s" % (g, "ok" if v >= g else "MISS"))
        print(f"{k:32s} {v:12.3f} {mark:>8s}")
    print(f"note: one render thread; machine load average {res['load_avg_1min']:.2f} on "
          f"{int(res['cpu_count'])} cores (shared machine: figures are pessimistic)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({k.lstrip("_"): v for k, v in res.items()}, f, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
