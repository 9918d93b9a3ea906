"""``--ros``: the same replay through the nodes, as a robot runs them.

launch/memory_stack.launch.yaml starts with with_sim:=false detector:=onnx use_sim_time:=false (perception,
memory with its lifecycle manager, planner) through the pip launcher (memory_nodes.ros.launcher), every
node pinned to the one CPU this process runs on. This process plays the camera driver and tf with the
product's frame player (memory_nodes.ros.bag_player, the one ``memory-stack replay`` uses): per frame it
publishes /tf (map -> base_link -> camera_optical at the frame's stamp), then the colour image (rgb8), the
depth image (16UC1, millimetres, as a Kinect or RealSense driver does) and the camera info on perception's
camera topics, RELIABLE, and waits for perception/frame_ack (one per frame, processed or rejected) before
the next: lockstep, so no frame is dropped and frames/s is what the nodes sustain on one core. Accepted
frames are counted on perception/frames. When memory/ingested_through has passed the last frame, the stack
is stopped (the memory node commits and closes its store) and the store is returned to be read.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np

LAUNCH_NAME = "memory_stack.launch.yaml"
CAMERA_FRAME = "camera_optical"


def replay_ros(rec, indices: Sequence[int], pcfg, repo: Path, work: Path, cpu: Optional[int],
               log: Optional[Callable[[str], None]] = None, domain_id: Optional[int] = None,
               start_timeout_s: float = 90.0, stack_log: Optional[Path] = None) -> Dict[str, Any]:
    """Replay ``indices`` of Recording ``rec`` through the nodes. Returns the counts and timings (the
    keys ``replay`` returns, where the nodes can tell them) and ``store``: the memory node's store path.
    The nodes' output goes to ``stack_log`` (default: work/stack.log)."""
    from tf2_msgs.msg import TFMessage

    from memory_nodes.ros.bag_player import (
        FrameSet,
        GraphPlayer,
        find_store,
        launch_stack,
        merged_params_file,
        stack_env,
    )
    from memory_nodes.ros.conversions.basic import (
        intrinsics_to_camera_info,
        make_transform_stamped,
        numpy_to_image,
    )

    say = log or (lambda s: None)
    domain = int(domain_id if domain_id is not None else 40 + os.getpid() % 50)
    env = stack_env(domain)
    data_dir = work / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    onnx = pcfg.onnx
    params_file = merged_params_file(work / "overrides.yaml", {"perception": {
        "sync": {"reliable": True},
        "onnx": {"model_path": str(onnx.model_path), "providers": ["CPUExecutionProvider"], "intra_op_threads": 1},
        "frames": {"map_frame": "map", "base_frame": "base_link", "camera_frame": ""}}})
    log_path = stack_log or work / "stack.log"
    stack = launch_stack({"with_sim": "false", "detector": "onnx", "use_sim_time": "false",
                          "data_dir": str(data_dir), "params_file": str(params_file),
                          "config_dir": str(repo / "config")}, env, open(log_path, "w"),
                         launch_file=repo / "launch" / LAUNCH_NAME)
    player = GraphPlayer(domain, node_name="realdata_replay", log_path=log_path)
    out: Dict[str, Any] = {"domain_id": domain}
    t_start = t_end = 0.0
    last = -1
    try:
        stack.start()
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            for p in stack.procs.values():
                try:
                    os.sched_setaffinity(p.pid, {cpu})
                except OSError:
                    pass
        say(f"  nodes starting (ROS_DOMAIN_ID {domain}; their log: {log_path})")
        player.wait_ready(stack, start_timeout_s)
        K = rec.intrinsics
        t_start = time.perf_counter()
        for k, i in enumerate(indices):
            stamp = rec.stamp_ns(i)
            T = rec.map_T_camera(i)
            B = rec.map_T_base(T)
            tf = TFMessage(transforms=[make_transform_stamped(B, "map", "base_link", stamp),
                                       make_transform_stamped(np.linalg.inv(B) @ T, "base_link", CAMERA_FRAME, stamp)])
            player.play_frame(FrameSet(stamp, numpy_to_image(rec.rgb(i), "rgb8", CAMERA_FRAME, stamp),
                                       numpy_to_image(rec.depth_mm(i), "16UC1", CAMERA_FRAME, stamp),
                                       intrinsics_to_camera_info(K, CAMERA_FRAME, stamp), tf=[tf]), stack)
            last = stamp
            if (k + 1) % 100 == 0:
                say(f"  {k + 1}/{len(indices)} frames through the nodes, "
                    f"{(time.perf_counter() - t_start) / (k + 1) * 1e3:.1f} ms/frame")
        t_end = time.perf_counter()
        player.finish(stack, timeout_s=60.0)
        accepted, views, obs = len(player.accepted), player.views, sum(player.accepted.values())
    finally:
        stack.stop()
        player.close()
    store = find_store(data_dir)
    if store is None:
        raise FileNotFoundError(f"the memory node left no memory.db under {data_dir}")
    n = len(indices)
    out.update({"frames": n, "accepted": int(accepted), "rejected": {"rejected_by_perception": n - accepted}
                if accepted < n else {}, "views": int(views), "obs_total": int(obs),
                "busy_s": t_end - t_start, "last_stamp_ns": last, "store": store, "data_dir": data_dir})
    return out
