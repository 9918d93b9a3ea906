"""The perception node: synchronized RGB-D (+ the simulator's instance image for the oracle detector) in;
observations, views, places and rooms out.

Subscribes (relative, sensor-data QoS): camera/color/image_raw, camera/depth/image_raw,
camera/color/camera_info, camera/instances/image_raw (oracle detector only), camera/class_table (latched,
oracle only), /tf, /tf_static. Publishes perception/frames (FrameObservations, one per frame: its
observations and, for a keyframe, its View), perception/places (PlaceGraph, latched), perception/rooms
(RoomSegmentation, latched) and perception/frame_ack (builtin_interfaces/Time: the stamp of every frame
it finished or rejected, for the simulator's lockstep).

Frames are approximately time-synchronized by message_filters' ApproximateTimeSynchronizer where it is
installed, else by the core's ApproxTimeSync. A rejected frame (bad encoding, step, size, no valid depth,
missing transform, ...) is logged once per cause (later ones at debug level) and acknowledged; the node
stays up.
"""
from __future__ import annotations

import os
import time
from typing import Any, List, Optional

from builtin_interfaces.msg import Time
from memory_interfaces.msg import FrameObservations, InstanceClassTable, PlaceGraph, RoomSegmentation
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from memory_nodes.common.errors import InputError, MemoryStackError, TransformError
from memory_nodes.perception.config import PerceptionConfig
from memory_nodes.perception.pipeline import Perception
from memory_nodes.perception.sync import ApproxTimeSync

from .conversions.basic import time_to_ns
from .conversions.perception import (
    class_table_from_msg,
    frame_from_messages,
    frame_to_msg,
    place_graph_to_msg,
    rooms_to_msg,
)
from .log_once import LogOnce
from .params import NodeParameters, Section
from .qos import EVENTS, LATCHED, STREAM, camera_qos
from .runner import run_node
from .transforms import make_transform_source

_UNIT = (0.0, 1.0)
# The parameters: PerceptionConfig's sections (detector.kind, oracle.seed, ...). Ranges: only those
# validate() enforces exactly (tests/test_ros_params.py checks each).
PARAMETERS = (
    Section(PerceptionConfig, ranges={
        **{f"oracle.{n}": _UNIT for n in ("miss_prob_base", "miss_prob_per_m", "miss_prob_occlusion",
                                           "miss_prob_small", "confusion_prob", "score_mean", "score_std",
                                           "false_positive_score_mean")},
        "oracle.false_positive_rate": (0.0, None), "oracle.erode_px": (0, None), "oracle.min_area_px": (0, None),
        "onnx.score_threshold": _UNIT, "onnx.intra_op_threads": (0, None),
        "lifting.pixel_stride": (1, None), "lifting.hidden_depth_factor": (0.0, 2.0),
        "lifting.min_valid_depth_fraction": _UNIT, "views.jpeg_quality": (1, 100),
        "rooms.pixel_stride": (1, None), "rooms.update_every_n_frames": (1, None),
        "rooms.segment_every_n_frames": (1, None), "rooms.occupied_min_hits": (1, None),
        "rooms.label_min_confidence": _UNIT, "transforms.max_extrapolation_s": (0.0, None),
        "transforms.lookup_timeout_s": (0.0, None), "transforms.wait_for_tf_s": (0.0, None),
        "sync.slop_s": (0.0, None), "sync.queue_size": (1, None), "persistence.save_every_n_frames": (1, None)}),
)

class PerceptionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("perception", automatically_declare_parameters_from_overrides=True, **kwargs)
        self._params = NodeParameters(self)
        self._params.declare_sections(PARAMETERS)
        self.config = self._params.read(PerceptionConfig)
        cfg = self.config
        self.perception = Perception(cfg)
        self.map_frame = cfg.frames.map_frame
        self.base_frame = cfg.frames.base_frame
        self.camera_frame = cfg.frames.camera_frame
        self.use_oracle = cfg.detector.kind == "oracle"
        self.tf = make_transform_source(self, cfg.transforms)
        self._log_rejected = LogOnce(self.get_logger(), "rejected frame")
        self.frames_done = 0
        self._load_state()

        # memory must receive every frame's output even when it lags behind a burst: a deep reliable history
        self.pub_frames = self.create_publisher(FrameObservations, "perception/frames", STREAM)
        self.pub_places = self.create_publisher(PlaceGraph, "perception/places", LATCHED)
        self.pub_rooms = self.create_publisher(RoomSegmentation, "perception/rooms", LATCHED)
        self.pub_ack = self.create_publisher(Time, "perception/frame_ack", EVENTS)

        topics = [("camera/color/image_raw", Image), ("camera/depth/image_raw", Image),
                  ("camera/color/camera_info", CameraInfo)]
        if self.use_oracle:
            topics.append(("camera/instances/image_raw", Image))
            self.create_subscription(InstanceClassTable, "camera/class_table", self._on_class_table, LATCHED)
        self._tf_pending: List[Any] = []     # (synchronized set, first try, monotonic s) waiting for tf
        # a steady (wall) timer: under use_sim_time in lockstep, sim time stands still until this frame is acked
        from rclpy.clock import Clock, ClockType
        self.create_timer(0.02, self._retry_tf, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._sync_kind = self._make_sync(topics)
        if self.use_oracle:
            _ = self.perception.detector   # build it now: a bad detector config fails at start-up
        self.get_logger().info(
            f"perception up: detector={cfg.detector.kind}, sync={self._sync_kind}, tf={self.tf.kind}, "
            f"frames {self.map_frame} <- {self.camera_frame or '<image frame_id>'}, base {self.base_frame}")

    # ------------------------------------------------------------------ synchronization

    def _make_sync(self, topics) -> str:
        slop_s = self.config.sync.slop_s
        q = self.config.sync.queue_size
        qos = camera_qos(self.config.sync.reliable)
        try:
            import message_filters
        except ImportError:
            message_filters = None
        if message_filters is not None:
            subs = [message_filters.Subscriber(self, t, name, qos_profile=qos)
                    for name, t in topics]
            self._mf_sync = message_filters.ApproximateTimeSynchronizer(subs, q, slop_s)
            self._mf_sync.registerCallback(lambda *msgs: self._on_set(list(msgs)))
            self._mf_subs = subs
            return "message_filters.ApproximateTimeSynchronizer"
        self._sync = ApproxTimeSync(len(topics), int(slop_s * 1e9), q)
        self._subs = []
        for i, (name, t) in enumerate(topics):
            self._subs.append(self.create_subscription(
                t, name, lambda m, i=i: self._on_input(i, m), qos))
        return "memory_nodes ApproxTimeSync"

    def _on_input(self, index: int, msg) -> None:
        for matched in self._sync.add(index, time_to_ns(msg.header.stamp), msg):
            self._on_set(matched)

    def _on_class_table(self, msg: InstanceClassTable) -> None:
        try:
            table = class_table_from_msg(msg)
        except InputError as e:
            self._reject(e.cause, str(e), None)
            return
        self.perception.set_class_table(table)
        self.get_logger().info(f"class table: {len(table)} instances")

    # ------------------------------------------------------------------ one frame

    def _on_set(self, msgs: List[Any]) -> None:
        if self._tf_pending:       # earlier frames wait for their tf: keep the order
            self._tf_pending.append((msgs, time.monotonic()))
            if len(self._tf_pending) > 100:     # bounded: the oldest is decided now (rejected if still no tf)
                oldest, _since = self._tf_pending.pop(0)
                self._process_set(oldest, may_wait=False)
            return
        if not self._process_set(msgs, may_wait=True):
            self._tf_pending.append((msgs, time.monotonic()))

    def _retry_tf(self) -> None:
        """Frames whose images overtook their /tf: retry in order until processed or waited out."""
        wait_s = self.config.transforms.wait_for_tf_s
        while self._tf_pending:
            msgs, since = self._tf_pending[0]
            if not self._process_set(msgs, may_wait=time.monotonic() - since < wait_s):
                return
            self._tf_pending.pop(0)

    def _process_set(self, msgs: List[Any], may_wait: bool = False) -> bool:
        """Process one synchronized set; False = its tf has not arrived yet (held for a retry)."""
        stamp = msgs[0].header.stamp
        try:
            frame = frame_from_messages(msgs[0], msgs[1], msgs[2], msgs[3] if len(msgs) > 3 else None)
            cam = self.camera_frame or frame.frame_id
            if not cam:
                raise InputError("missing_frame_id", "images have no frame_id and frames.camera_frame is empty")
            try:
                map_T_camera = self.tf.lookup(self.map_frame, cam, frame.stamp_ns)
                map_T_base = self.tf.lookup(self.map_frame, self.base_frame, frame.stamp_ns)
            except TransformError as e:
                if may_wait and self.config.transforms.wait_for_tf_s > 0:
                    return False
                raise InputError("missing_tf", str(e)) from e
            out = self.perception.process(frame, map_T_camera, map_T_base)
        except MemoryStackError as e:
            cause = e.cause if isinstance(e, InputError) else type(e).__name__
            self._reject(cause, str(e), stamp)
            return True
        self.pub_frames.publish(frame_to_msg(out, self.map_frame))
        if out.places is not None:
            self.pub_places.publish(place_graph_to_msg(out.places, self.map_frame))
        if out.rooms is not None:
            self.pub_rooms.publish(rooms_to_msg(out.rooms, self.map_frame))
        self.frames_done += 1
        self.pub_ack.publish(stamp)
        if self.frames_done % self.config.persistence.save_every_n_frames == 0:
            self.save_state()
        return True

    # ------------------------------------------------------------------ state across restarts

    def _load_state(self) -> None:
        path = self.config.persistence.state_file
        if not path or not os.path.isfile(path):
            return
        try:
            with open(path, "rb") as f:
                self.perception.load_state(f.read())
        except (OSError, InputError) as e:
            self.get_logger().error(f"not using perception state {path}: {e} (starting a new map)")
            return
        self.get_logger().info(f"perception state from {path}: {len(self.perception.places.places)} places")

    def save_state(self) -> None:
        path = self.config.persistence.state_file
        if not path:
            return
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            tmp = f"{path}.tmp"
            with open(tmp, "wb") as f:
                f.write(self.perception.state_bytes())
            os.replace(tmp, path)
        except OSError as e:
            self.get_logger().error(f"cannot save perception state to {path}: {e}",
                                    throttle_duration_sec=60.0)

    def destroy_node(self):
        self.save_state()
        return super().destroy_node()

    def _reject(self, cause: str, detail: str, stamp: Optional[Time]) -> None:
        self._log_rejected.warning(cause, detail)
        if stamp is not None:
            self.pub_ack.publish(stamp)


def main(args=None) -> None:
    run_node(PerceptionNode, args, name="perception", what="the perception node")


if __name__ == "__main__":
    main()
