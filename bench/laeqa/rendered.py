"""``--rendered``: the patrols' memory built from rendered frames through the product's perception pipeline.

Instead of the visibility model (home.py's ``PerceptionEmulator``), every used patrol frame is rendered by
the simulator (MuJoCo RGB-D with instance masks, the camera of config/sim.yaml) and goes through
``Perception.process`` exactly as the perception node runs it (config/perception.yaml: the noisy-oracle
detector on the instance masks, lifting from the rendered depth, keyframes, places, the occupancy grid and
the room cut from that depth, room labels); its outputs feed ``MemoryCore`` as the memory node would. The
scorer side (never shown to an agent) comes from the same frames: the true entity of each observation
(the oracle's scorer table) and the entities truly in view (instance-mask pixels).

What stays emulated in this mode: the looks an agent takes while answering (``BenchNavigator.look``, the
visibility model at the question's frozen moment) -- the memory they start from is the rendered one.
Costs about 50 ms a frame on one core (render ~40 ms at 320x240): ~1,000 frames a patrol day.
"""
from __future__ import annotations

import copy
import sys
import time
from typing import List, Optional, Tuple

import numpy as np

from memory_nodes.common.types import PerceptionOutput
from memory_nodes.perception.config import PerceptionConfig
from memory_nodes.perception.oracle import NoisyOracleDetector
from memory_nodes.perception.pipeline import Perception
from sim.simulator import Simulator

from .config import ObservationConfig
from .home import PerceptionRun, product_perception_config
from .truth import merge_seen

_RENDER_SEED_TAG = 0x4E4D


def in_view_entities(instance_mask: np.ndarray, instance_to_entity: dict, min_px: int) -> List[str]:
    """The entities with at least ``min_px`` pixels of the instance mask (the scorer's "truly in view")."""
    ids, counts = np.unique(instance_mask, return_counts=True)
    return [instance_to_entity[int(i)] for i, c in zip(ids, counts)
            if c >= min_px and int(i) in instance_to_entity]


def perceive_home_rendered(sim: Simulator, days: int, obs: ObservationConfig,
                           perception: Optional[PerceptionConfig] = None, progress: bool = True) -> PerceptionRun:
    """Patrol days 0 .. days-1 rendered and perceived by the product's pipeline (see the module doc)."""
    pc = copy.deepcopy(perception if perception is not None else product_perception_config())
    pc.oracle.seed = int(np.random.default_rng([int(sim.seed), _RENDER_SEED_TAG, obs.seed]).integers(2 ** 31))
    detector = NoisyOracleDetector(pc.oracle, sim.class_table)
    perception = Perception(pc, detector=detector)
    cam = sim.config.camera
    min_px = max(1, int(round(pc.oracle.min_area_px * cam.width * cam.height / (640 * 480))))
    outputs: List[PerceptionOutput] = []
    det_truth: List[List[str]] = []
    seen_pairs: List[Tuple[str, int]] = []
    first = last = 0
    frames = nobs = 0
    t0 = time.perf_counter()
    for day in range(days):
        plan = sim.patrol_plan(day)
        stamps = plan.trajectory.stamps_ns(cam.rate_hz)[::obs.frame_stride]
        if day == 0:
            first = stamps[0]
        for t in stamps:
            f = sim.frame_at(sim.base_pose_T(plan.trajectory.pose_at(t)), t)
            dets = detector.detect(f.frame)
            out = perception.process(f.frame, f.map_T_camera, f.map_T_base, detections=dets)
            iids = detector.scorer_truth(dets)                  # scorer side table: the benchmark only
            det_truth.append([f.instance_to_object_id.get(int(iids[i]), "") if iids[i] >= 0 else ""
                              for i in perception.last_source_indices])
            outputs.append(out)
            seen_pairs += [(e, t) for e in in_view_entities(f.frame.instance_mask, f.instance_to_object_id, min_px)]
            frames += 1
            nobs += len(out.observations)
        last = stamps[-1]
        outputs.append(perception.finish(last + 1))
        det_truth.append([])
        if progress:
            print(f"  rendered home {sim.seed}: day {day + 1}/{days}, {frames} frames, "
                  f"{frames / max(time.perf_counter() - t0, 1e-9):.1f} frames/s", file=sys.stderr, flush=True)
    return PerceptionRun(outputs, det_truth, merge_seen(seen_pairs), perception.places, first, last, frames, nobs)
