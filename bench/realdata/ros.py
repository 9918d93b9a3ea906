"""``--ros``: the same replay through the nodes, as a robot runs them.

launch/memory_stack.launch.yaml starts with with_sim:=false detector:=onnx use_sim_time:=false (perception,
memory with its lifecycle manager, planner) through the pip launcher (memory_nodes.ros.launcher), every
node pinned to the one CPU this process runs on. This process plays the camera driver and tf: per frame it
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
import yaml

from bench.laeqa.ros_check import _wait  # spin until a predicate holds, with a time-out (one helper)

LAUNCH_NAME = "memory_stack.launch.yaml"
CAMERA_FRAME = "camera_optical"


def replay_ros(rec, indices: Sequence[int], pcfg, repo: Path, work: Path, cpu: Optional[int],
               log: Optional[Callable[[str], None]] = None, domain_id: Optional[int] = None,
               start_timeout_s: float = 90.0, stack_log: Optional[Path] = None) -> Dict[str, Any]:
    """Replay ``indices`` of Recording ``rec`` through the nodes. Returns the counts and timings (the
    keys ``replay`` returns, where the nodes can tell them) and ``store``: the memory node's store path.
    The nodes' output goes to ``stack_log`` (default: work/stack.log)."""
    import rclpy
    from builtin_interfaces.msg import Time
    from memory_interfaces.msg import FrameObservations, IngestProgress
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import CameraInfo, Image
    from tf2_msgs.msg import TFMessage

    from memory_nodes.ros.conversions.basic import (
        intrinsics_to_camera_info,
        make_transform_stamped,
        numpy_to_image,
        time_to_ns,
    )
    from memory_nodes.ros.launcher import Stack
    from memory_nodes.ros.perception_node import COLOR, DEPTH, INFO
    from memory_nodes.ros.qos import EVENTS, STREAM, TF, camera_qos

    say = log or (lambda s: None)
    domain = int(domain_id if domain_id is not None else 40 + os.getpid() % 50)
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(domain)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env.setdefault("ROS_LOCALHOST_ONLY", "1")
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = "1"
    data_dir = work / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    onnx = pcfg.onnx
    overrides = {"perception": {"ros__parameters": {
        "sync": {"reliable": True},
        "onnx": {"model_path": str(onnx.model_path), "providers": ["CPUExecutionProvider"], "intra_op_threads": 1},
        "frames": {"map_frame": "map", "base_frame": "base_link", "camera_frame": ""}}}}
    params_file = work / "overrides.yaml"
    params_file.write_text(yaml.safe_dump(overrides))
    stack = Stack.from_file(repo / "launch" / LAUNCH_NAME,
                            {"with_sim": "false", "detector": "onnx", "use_sim_time": "false",
                             "data_dir": str(data_dir), "params_file": str(params_file),
                             "config_dir": str(repo / "config")},
                            env=env, out=open(stack_log or work / "stack.log", "w"))
    # this process publishes 1.5 MB frame sets: it needs the large shared-memory segment the nodes get
    # from the launch file (the default segment cannot hold one, and reliable delivery stalls)
    profile = repo / "config" / "dds" / "fastdds_large_shm.xml"
    if profile.is_file():
        os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(profile))
    ctx = rclpy.context.Context()
    rclpy.init(context=ctx, domain_id=domain)
    node = rclpy.create_node("realdata_replay", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)

    def spin() -> None:
        ex.spin_once(timeout_sec=0.01)

    cam_qos = camera_qos(True)
    pub_color = node.create_publisher(Image, COLOR, cam_qos)
    pub_depth = node.create_publisher(Image, DEPTH, cam_qos)
    pub_info = node.create_publisher(CameraInfo, INFO, cam_qos)
    pub_tf = node.create_publisher(TFMessage, "/tf", TF)
    st: Dict[str, Any] = {"acks": set(), "frames": 0, "views": 0, "obs": 0, "ingested": -1, "last_frame": -1}

    def on_frame(m: FrameObservations) -> None:
        st["frames"] += 1
        st["last_frame"] = max(st["last_frame"], time_to_ns(m.header.stamp))
        st["obs"] += len(m.observations)
        st["views"] += len(m.view)

    node.create_subscription(Time, "perception/frame_ack", lambda m: st["acks"].add(time_to_ns(m)), EVENTS)
    node.create_subscription(FrameObservations, "perception/frames", on_frame, STREAM)
    node.create_subscription(IngestProgress, "memory/ingested_through",
                             lambda m: st.__setitem__("ingested", time_to_ns(m.ingested_through)), EVENTS)
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
        say(f"  nodes starting (ROS_DOMAIN_ID {domain}; their log: {stack_log or work / 'stack.log'})")
        _wait(lambda: min(pub_color.get_subscription_count(), pub_depth.get_subscription_count(),
                          pub_info.get_subscription_count(), pub_tf.get_subscription_count()) >= 1
              and node.count_publishers("memory/ingested_through") >= 1, start_timeout_s, spin,
              "perception's camera and tf subscriptions and the memory node")
        for _ in range(50):               # let discovery settle (tf, acks)
            spin()
        K = rec.intrinsics
        t_start = time.perf_counter()
        for k, i in enumerate(indices):
            stamp = rec.stamp_ns(i)
            T = rec.map_T_camera(i)
            B = rec.map_T_base(T)
            pub_tf.publish(TFMessage(transforms=[
                make_transform_stamped(B, "map", "base_link", stamp),
                make_transform_stamped(np.linalg.inv(B) @ T, "base_link", CAMERA_FRAME, stamp)]))
            pub_color.publish(numpy_to_image(rec.rgb(i), "rgb8", CAMERA_FRAME, stamp))
            pub_depth.publish(numpy_to_image(rec.depth_mm(i), "16UC1", CAMERA_FRAME, stamp))
            pub_info.publish(intrinsics_to_camera_info(K, CAMERA_FRAME, stamp))
            _wait(lambda stamp=stamp: stamp in st["acks"], 30.0, spin, f"perception's ack of frame {i}")
            last = stamp
            if (k + 1) % 100 == 0:
                say(f"  {k + 1}/{len(indices)} frames through the nodes, "
                    f"{(time.perf_counter() - t_start) / (k + 1) * 1e3:.1f} ms/frame")
        t_end = time.perf_counter()
        for _ in range(100):              # the last frames' messages on their way to this process
            spin()
        _wait(lambda: st["ingested"] >= st["last_frame"], 60.0, spin,
              "memory/ingested_through to pass the last processed frame")
    finally:
        stack.stop()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
    store = next(data_dir.rglob("memory.db"), None)
    if store is None:
        raise FileNotFoundError(f"the memory node left no memory.db under {data_dir}")
    n = len(indices)
    out.update({"frames": n, "accepted": int(st["frames"]), "rejected": {"rejected_by_perception": n - st["frames"]}
                if st["frames"] < n else {}, "views": int(st["views"]), "obs_total": int(st["obs"]),
                "busy_s": t_end - t_start, "last_stamp_ns": last, "store": store, "data_dir": data_dir})
    return out
