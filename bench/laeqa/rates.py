"""Measure the visibility-based observation model against the rendered perception pipeline.

    python -m bench.laeqa.rates [--seed N ...] [--day D] [--frames K] [--json PATH]

For patrol frames of a home (dev seeds by default), the simulator renders RGB-D + instance masks and
perception's noisy-oracle detector runs on them (config/perception.yaml); the visibility model predicts,
for the same pose and time, which entities are in view and their miss probability. Printed per entity
kind and distance band: the measured miss rate of the rendered pipeline among the entities the model
calls visible, the model's mean predicted miss probability, the share of rendered detections the model
did not call visible, and the confusion rate. These are the figures the benchmark's table refers to.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from typing import Dict, List

import numpy as np


def measure(seeds: List[int], day: int, frames: int, obs_cfg, perception_cfg) -> Dict:
    from memory_nodes.perception.oracle import NoisyOracleDetector
    from sim.config import load_sim_config
    from sim.simulator import Simulator

    from .observe import VisibilityModel, world_state

    bands = [(0.0, 2.0), (2.0, 4.0), (4.0, 99.0)]
    acc = defaultdict(lambda: {"visible": 0, "missed": 0, "p_pred": 0.0})
    extra = {"detections": 0, "unpredicted": 0, "confused": 0, "false_pos": 0, "frames": 0}
    for seed in seeds:
        sim = Simulator(load_sim_config(seed=seed))
        sim.ground_truth(day + 1)
        det = NoisyOracleDetector(perception_cfg.oracle, sim.class_table)
        vm = VisibilityModel(sim.world, sim.config.robot, sim.config.camera, obs_cfg)
        id_of = sim.instance_to_object_id
        plan = sim.patrol_plan(day)
        stamps = plan.trajectory.stamps_ns(sim.config.camera.rate_hz)
        pick = np.linspace(0, len(stamps) - 1, min(frames, len(stamps))).astype(int)
        state_t, state = None, None
        for i in pick:
            t = stamps[i]
            pose = plan.trajectory.pose_at(t)
            if state is None or sim.ground_truth(day + 1).changes(state_t + 1, t + 1):
                state = world_state(sim.world, sim.ground_truth(day + 1), t)
            state_t = t
            f = sim.frame_at(sim.base_pose_T(pose), t)
            dets = det.detect(f.frame)
            truth = det.scorer_truth(dets)
            detected = {}
            for d, iid in zip(dets, truth):
                if iid < 0:
                    extra["false_pos"] += 1
                    continue
                eid = id_of.get(iid, "")
                detected[eid] = d.class_name
                if d.class_name != det.true_class(iid):
                    extra["confused"] += 1
            extra["detections"] += len(dets)
            sights = vm.sightings(state, pose)
            seen = set()
            for s in sights:
                e = s.entity
                seen.add(e.entity_id)
                band = next(b for b in bands if b[0] <= s.distance_m < b[1])
                key = f"{e.kind} {band[0]:.0f}-{band[1]:.0f} m" if band[1] < 90 else f"{e.kind} >{band[0]:.0f} m"
                a = acc[key]
                a["visible"] += 1
                a["missed"] += 0 if e.entity_id in detected else 1
                a["p_pred"] += vm.p_miss(s)
            extra["unpredicted"] += sum(1 for eid in detected if eid not in seen)
            extra["frames"] += 1
    rows = {}
    for k in sorted(acc):
        a = acc[k]
        rows[k] = {"visible": a["visible"], "miss_rate_rendered": round(a["missed"] / max(a["visible"], 1), 3),
                   "miss_prob_model": round(a["p_pred"] / max(a["visible"], 1), 3)}
    tot_vis = sum(a["visible"] for a in acc.values())
    tot_miss = sum(a["missed"] for a in acc.values())
    tot_pred = sum(a["p_pred"] for a in acc.values())
    true_dets = max(extra["detections"] - extra["false_pos"], 1)
    return {"seeds": seeds, "day": day, "frames": extra["frames"], "by_kind_and_distance": rows,
            "miss_rate_rendered": round(tot_miss / max(tot_vis, 1), 3),
            "miss_prob_model": round(tot_pred / max(tot_vis, 1), 3),
            "rendered_detections_not_predicted_visible": round(extra["unpredicted"] / true_dets, 3),
            "confusion_rate_rendered": round(extra["confused"] / true_dets, 3),
            "false_positives_per_frame_rendered": round(extra["false_pos"] / max(extra["frames"], 1), 3)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.laeqa.rates", description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, nargs="+")
    ap.add_argument("--day", type=int, default=0)
    ap.add_argument("--frames", type=int, default=200, help="frames per home (spread over the patrol)")
    ap.add_argument("--json", type=str)
    args = ap.parse_args(argv)
    from memory_nodes.common.config import load_node_params
    from memory_nodes.perception.config import PerceptionConfig

    from .config import REPO_ROOT, load_laeqa_config
    cfg = load_laeqa_config()
    pcfg = PerceptionConfig.from_params(load_node_params(REPO_ROOT / "config" / "perception.yaml", "perception"))
    out = measure(args.seed or cfg.run.dev_seeds[:1], args.day, args.frames, cfg.observation, pcfg)
    print(f"Observation model vs rendered pipeline: homes {out['seeds']}, day {out['day']}, {out['frames']} frames")
    print("| entities (model: visible) | n | miss rate, rendered | miss prob, model |")
    print("|---|---|---|---|")
    for k, r in out["by_kind_and_distance"].items():
        print(f"| {k} | {r['visible']} | {r['miss_rate_rendered']:.3f} | {r['miss_prob_model']:.3f} |")
    print(f"all: rendered miss rate {out['miss_rate_rendered']:.3f}, model {out['miss_prob_model']:.3f}; "
          "rendered detections the model did not call visible: "
          f"{out['rendered_detections_not_predicted_visible']:.3f}; "
          f"confusions {out['confusion_rate_rendered']:.3f}; false positives/frame "
          f"{out['false_positives_per_frame_rendered']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
