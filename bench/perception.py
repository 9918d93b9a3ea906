"""Perception benchmark against the simulator's ground truth.

    python -m bench.perception [--quick] [--json PATH] [--seed N] [--days D]

Runs the perception pipeline (config/perception.yaml, noisy-oracle detector) over the simulator's patrol
(every room visited: patrol.coverage_fraction = 1) and scores:

- centroid error of the lifted observations against the true object centres (small objects; furniture
  separately), median and p95. The detection -> true instance side table of the oracle is read HERE only;
- room_agreement: the predicted room map against the true rooms on the cells both cover, after a
  one-to-one (Hungarian) matching of predicted to true rooms: the share of cells whose room matches (over-
  and under-segmentation both cost); room_coverage: the share of the true rooms' floor that got a room;
- room_label_accuracy: true rooms whose matched predicted room carries the true room type, over ALL true
  rooms (a room that was missed counts as wrong);
- pipeline_fps_320x240 / _640x480: frames per second of detection + Perception.process on one core
  (numpy/BLAS/OpenCV threads 1), on frames rendered beforehand along the patrol (rendering excluded).
The machine may be shared with other work: the load average is recorded with the figures.
"""
from __future__ import annotations

import os

for _v in ("LP_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Dict, List, Tuple  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def perception_config():
    from memory_nodes.common.config import load_node_params
    from memory_nodes.perception.config import PerceptionConfig
    return PerceptionConfig.from_params(load_node_params(REPO / "config" / "perception.yaml", "perception"))


def true_position(sim, entity_id: str, t_ns: int, furniture: Dict[str, Tuple[float, float, float]]):
    """(centre (3,), is_furniture) of an object or furniture piece at t."""
    if entity_id in furniture:
        f = sim.world.furniture_by_id(entity_id)
        x, y, _ = furniture[entity_id]
        return np.array([x, y, f.height_m / 2.0]), True
    s = sim.object_state(entity_id, t_ns)
    return np.asarray(s.position_m, float), False


def room_scores(sim, seg) -> Dict[str, float]:
    from scipy.optimize import linear_sum_assignment

    world = sim.world
    rows, cols = seg.room_map.shape
    xs = seg.origin_xy_m[0] + (np.arange(cols) + 0.5) * seg.resolution_m
    ys = seg.origin_xy_m[1] + (np.arange(rows) + 0.5) * seg.resolution_m
    gt = np.full((rows, cols), -1, np.int32)
    for r in world.rooms:
        c0, c1 = np.searchsorted(xs, r.min_xy_m[0]), np.searchsorted(xs, r.max_xy_m[0])
        r0, r1 = np.searchsorted(ys, r.min_xy_m[1]), np.searchsorted(ys, r.max_xy_m[1])
        gt[r0:r1, c0:c1] = r.room_id
    pred = seg.room_map.astype(np.int32)
    both = (pred >= 0) & (gt >= 0)
    pred_ids = sorted(int(p) for p in np.unique(pred[pred >= 0]))
    gt_ids = [r.room_id for r in world.rooms]
    out: Dict[str, float] = {"rooms_true": float(len(gt_ids)), "rooms_predicted": float(len(pred_ids))}
    if not pred_ids or not np.any(both):
        out.update(room_agreement=0.0, room_coverage=0.0, room_label_accuracy=0.0)
        return out
    table = np.zeros((len(pred_ids), len(gt_ids)))
    pi = {p: i for i, p in enumerate(pred_ids)}
    for p, g in zip(pred[both], gt[both]):
        table[pi[int(p)], int(g)] += 1
    ri, ci = linear_sum_assignment(-table)
    out["room_agreement"] = float(table[ri, ci].sum() / table.sum())
    # coverage: true floor (free in the simulator's own grid) that got some predicted room
    out["room_coverage"] = float(np.count_nonzero(both) / max(np.count_nonzero(gt >= 0), 1))
    labels = {r.room_id: r.label for r in seg.rooms}
    correct = 0
    per_room: List[str] = []
    for i, j in zip(ri, ci):
        if table[i, j] == 0:
            continue
        true_type = world.rooms[gt_ids[j]].room_type
        got = labels.get(pred_ids[i], "unknown")
        correct += int(got == true_type)
        per_room.append(f"{world.rooms[gt_ids[j]].name}:{got}")
    out["room_label_accuracy"] = correct / len(gt_ids)
    out["room_labels"] = ", ".join(per_room)   # type: ignore[assignment]
    return out


def accuracy_run(seed: int, days: int, rate_hz: float, cfg) -> Dict[str, float]:
    from memory_nodes.perception.oracle import NoisyOracleDetector
    from memory_nodes.perception.pipeline import Perception
    from sim.simulator import Simulator

    sim = Simulator(seed=seed)
    sim.config.patrol.coverage_fraction = 1.0
    det = NoisyOracleDetector(cfg.oracle, sim.class_table)
    perception = Perception(cfg, detector=det)
    obj_err: List[float] = []
    furn_err: List[float] = []
    n_frames = n_obs = n_dets = n_fp = 0
    confused = 0
    t_proc = 0.0
    last_t = 0
    for day in range(days):
        for f in sim.patrol(day, rate_hz=rate_hz):
            furniture = sim.furniture_poses(f.stamp_ns)
            t0 = time.perf_counter()
            dets = det.detect(f.frame)
            out = perception.process(f.frame, f.map_T_camera, f.map_T_base, detections=dets)
            t_proc += time.perf_counter() - t0
            truth = det.scorer_truth(dets)           # scorer side table: read by the benchmark only
            n_frames += 1
            n_dets += len(dets)
            n_fp += sum(1 for t in truth if t < 0)
            for obs, i in zip(out.observations, perception.last_source_indices):
                iid = truth[i]
                if iid < 0:
                    continue
                n_obs += 1
                confused += int(obs.class_name != sim.class_table[iid])
                pos, is_furn = true_position(sim, f.instance_to_object_id[iid], f.stamp_ns, furniture)
                (furn_err if is_furn else obj_err).append(float(np.linalg.norm(obs.centroid_m - pos)))
            last_t = f.stamp_ns
    final = perception.finish(last_t)
    out = {"frames": float(n_frames), "observations_true": float(n_obs), "detections": float(n_dets),
           "false_positive_share": n_fp / max(n_dets, 1), "confused_share": confused / max(n_obs, 1),
           "centroid_err_median_m": float(np.median(obj_err)) if obj_err else float("nan"),
           "centroid_err_p95_m": float(np.percentile(obj_err, 95)) if obj_err else float("nan"),
           "centroid_err_furniture_median_m": float(np.median(furn_err)) if furn_err else float("nan"),
           "centroid_err_furniture_p95_m": float(np.percentile(furn_err, 95)) if furn_err else float("nan"),
           "object_observations": float(len(obj_err)), "places": float(len(final.places.places)),
           "place_edges": float(len(final.places.edges)),
           "accuracy_run_pipeline_fps_320x240": n_frames / max(t_proc, 1e-9)}
    out.update(room_scores(sim, final.rooms))
    return out


def fps_run(seed: int, width: int, height: int, n_frames: int, repeats: int, cfg) -> Dict[str, float]:
    """Detection + Perception.process per second on frames rendered beforehand (one core)."""
    from memory_nodes.perception.oracle import NoisyOracleDetector
    from memory_nodes.perception.pipeline import Perception
    from sim.simulator import Simulator

    sim = Simulator(seed=seed)
    sim.config.patrol.coverage_fraction = 1.0
    plan = sim.patrol_plan(0)
    stamps = plan.trajectory.stamps_ns(sim.config.camera.rate_hz)
    pick = stamps[:: max(1, len(stamps) // n_frames)][:n_frames]
    frames = []
    for t in pick:
        map_T_base = sim.base_pose_T(plan.trajectory.pose_at(t))
        map_T_camera = map_T_base @ sim.base_T_camera
        frames.append((sim.render(map_T_camera, t, width, height), map_T_camera, map_T_base))
    best = float("inf")
    split = {"detect": 0.0, "process": 0.0}
    for r in range(repeats):
        det = NoisyOracleDetector(cfg.oracle, sim.class_table)
        perception = Perception(cfg, detector=det)
        td = tp = 0.0
        for k, (frame, T, B) in enumerate(frames):
            frame.stamp_ns = int(r * 10**12 + k * 200_000_000)
            t0 = time.perf_counter()
            dets = det.detect(frame)
            t1 = time.perf_counter()
            perception.process(frame, T, B, detections=dets)
            t2 = time.perf_counter()
            td += t1 - t0
            tp += t2 - t1
        if td + tp < best:
            best = td + tp
            split = {"detect": td, "process": tp}
    n = len(frames)
    return {f"pipeline_fps_{width}x{height}": n / best,
            f"detect_ms_{width}x{height}": 1000.0 * split["detect"] / n,
            f"process_ms_{width}x{height}": 1000.0 * split["process"] / n}


def run(quick: bool, seed: int, days: int) -> Dict[str, object]:
    try:
        import cv2
        cv2.setNumThreads(1)
    except ImportError:
        pass
    cfg = perception_config()
    t0 = time.perf_counter()
    out: Dict[str, object] = {}
    out.update(accuracy_run(seed, days, 2.0 if quick else 5.0, cfg))
    n = 60 if quick else 150
    reps = 2 if quick else 3
    out.update(fps_run(seed, 320, 240, n, reps, cfg))
    out.update(fps_run(seed, 640, 480, n, reps, cfg))
    out["bench_wall_s"] = time.perf_counter() - t0
    out["load_avg_1m"] = os.getloadavg()[0]
    out["cpu_count"] = float(os.cpu_count() or 0)
    out["machine_note"] = (f"{platform.machine()} {os.cpu_count()} cores shared with other engineers' work; "
                           f"load average {os.getloadavg()[0]:.2f} at the end; figures are pessimistic")
    out["quick"] = float(quick)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="under a minute: one patrol day at 2 Hz, fewer fps frames")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--days", type=int, default=None, help="patrol days for the accuracy run (default 1; 2 full)")
    a = ap.parse_args(argv)
    days = a.days if a.days is not None else (1 if a.quick else 2)
    fig = run(a.quick, a.seed, days)
    keys = ["centroid_err_median_m", "centroid_err_p95_m", "centroid_err_furniture_median_m",
            "centroid_err_furniture_p95_m", "room_agreement", "room_coverage", "room_label_accuracy",
            "rooms_true", "rooms_predicted", "pipeline_fps_320x240", "pipeline_fps_640x480",
            "detect_ms_640x480", "process_ms_640x480", "frames", "object_observations", "confused_share",
            "false_positive_share", "places", "place_edges", "bench_wall_s", "load_avg_1m"]
    print(f"bench.perception (seed {a.seed}, {days} patrol day(s){', quick' if a.quick else ''})")
    print(f"{'figure':36s} value")
    for k in keys:
        v = fig.get(k)
        print(f"{k:36s} {v:.4g}" if isinstance(v, float) else f"{k:36s} {v}")
    print(f"{'room labels (true room:predicted)':36s} {fig.get('room_labels', '')}")
    print(f"note: {fig['machine_note']}")
    if a.json:
        Path(a.json).write_text(json.dumps(fig, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
