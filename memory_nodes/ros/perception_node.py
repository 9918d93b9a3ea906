"""The perception node: synchronized RGB-D (+ the simulator's instance image for the oracle detector) in;
observations, views, places and rooms out.

Subscribes (relative, sensor-data QoS): camera/color/image_raw, camera/depth/image_raw,
camera/color/camera_info, camera/instances/image_raw (oracle detector only), camera/class_table (latched,
oracle only), /tf, /tf_static. Publishes perception/observations (ObjectObservationArray, one per frame),
perception/views (View, keyframes), perception/places (PlaceGraph, latched), perception/rooms
(RoomSegmentation, latched) and perception/frame_ack (builtin_interfaces/Time: the stamp of every frame
it finished or rejected, for the simulator's lockstep).

Frames are approximately time-synchronized by message_filters' ApproximateTimeSynchronizer where it is
installed, else by the core's ApproxTimeSync. A rejected frame (bad encoding, step, size, no valid depth,
missing transform, ...) is logged once per cause (later ones at debug level) and acknowledged; the node
stays up.
"""
from __future__ import annotations

import array
import dataclasses
import os
import time
from typing import Any, Dict, List, Optional

import rclpy
from builtin_interfaces.msg import Time
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from memory_interfaces.msg import InstanceClassTable, ObjectObservationArray, PlaceGraph, RoomSegmentation, View
from memory_nodes.common.config import flatten, unflatten
from memory_nodes.common.errors import ConfigError, InputError, MemoryStackError, TransformError
from memory_nodes.perception.config import PerceptionConfig
from memory_nodes.perception.pipeline import Perception
from memory_nodes.perception.sync import ApproxTimeSync

from .conversions.basic import time_to_ns
from .conversions.perception import (class_table_from_msg, frame_from_messages, observations_to_msg,
                                     place_graph_to_msg, rooms_to_msg, view_to_msg)
from .transforms import make_transform_source

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     history=HistoryPolicy.KEEP_LAST)
RELIABLE_CAMERA = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
                             history=HistoryPolicy.KEEP_LAST)
STREAM = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
                   history=HistoryPolicy.KEEP_LAST)   # perception -> memory: nothing may be dropped
EVENTS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
                    history=HistoryPolicy.KEEP_LAST)

_ARRAY_TYPES = {str: Parameter.Type.STRING_ARRAY, float: Parameter.Type.DOUBLE_ARRAY,
                int: Parameter.Type.INTEGER_ARRAY, bool: Parameter.Type.BOOL_ARRAY}


def _param_type(value: Any, field_type: Any) -> Parameter.Type:
    if isinstance(value, bool):
        return Parameter.Type.BOOL
    if isinstance(value, int):
        return Parameter.Type.INTEGER
    if isinstance(value, float):
        return Parameter.Type.DOUBLE
    if isinstance(value, str):
        return Parameter.Type.STRING
    item = getattr(field_type, "__args__", (str,))[0]
    return _ARRAY_TYPES.get(item, Parameter.Type.STRING_ARRAY)


def _field_types(cls, prefix: str = "") -> Dict[str, Any]:
    import typing
    out: Dict[str, Any] = {}
    for name, tp in typing.get_type_hints(cls).items():
        if dataclasses.is_dataclass(tp):
            out.update(_field_types(tp, f"{prefix}{name}."))
        else:
            out[prefix + name] = tp
    return out


class PerceptionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("perception", automatically_declare_parameters_from_overrides=True, **kwargs)
        self.config = self._declare_and_read_config()
        cfg = self.config
        self.perception = Perception(cfg)
        self.map_frame = cfg.frames.map_frame
        self.base_frame = cfg.frames.base_frame
        self.camera_frame = cfg.frames.camera_frame
        self.use_oracle = cfg.detector.kind == "oracle"
        self.tf = make_transform_source(self, cfg.transforms)
        self.rejections: Dict[str, int] = {}
        self.frames_done = 0
        self._load_state()

        # memory must receive every frame's output even when it lags behind a burst: a deep reliable history
        self.pub_obs = self.create_publisher(ObjectObservationArray, "perception/observations", STREAM)
        self.pub_views = self.create_publisher(View, "perception/views", STREAM)
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

    # ------------------------------------------------------------------ parameters

    def _declare_and_read_config(self) -> PerceptionConfig:
        defaults = flatten(dataclasses.asdict(PerceptionConfig()))
        types = _field_types(PerceptionConfig)
        for name, value in defaults.items():
            if self.has_parameter(name):
                continue
            section_field = name if name in types else name.rsplit(".", 1)[0]
            desc = ParameterDescriptor(description=f"perception {name} (see memory_nodes/perception/config.py)",
                                       read_only=True)
            if isinstance(value, list) and not value:
                self.declare_parameter(name, _param_type(value, types.get(section_field)), desc)
            else:
                self.declare_parameter(name, value, desc)
        values: Dict[str, Any] = {}
        for name in self.list_parameters([], 0).names:
            top = name.split(".", 1)[0]
            if top not in PerceptionConfig.__dataclass_fields__:
                continue
            try:
                v = self.get_parameter(name).value
            except ParameterUninitializedException:   # an empty list declared by type only
                v = defaults.get(name, [])
            values[name] = list(v) if isinstance(v, (array.array, tuple)) else v
        try:
            return PerceptionConfig.from_params(unflatten(values))
        except ConfigError as e:
            self.get_logger().fatal(f"bad perception parameters: {e}")
            raise

    # ------------------------------------------------------------------ synchronization

    def _make_sync(self, topics) -> str:
        slop_s = self.config.sync.slop_s
        q = self.config.sync.queue_size
        qos = RELIABLE_CAMERA if self.config.sync.reliable else qos_profile_sensor_data
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
        self.pub_obs.publish(observations_to_msg(out, self.map_frame))
        if out.view is not None:
            self.pub_views.publish(view_to_msg(out.view, self.map_frame))
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
        n = self.rejections.get(cause, 0) + 1
        self.rejections[cause] = n
        if n == 1:
            self.get_logger().warning(f"rejected frame ({cause}): {detail} [further '{cause}' rejections are "
                                   f"logged at debug level]")
        else:
            self.get_logger().debug(f"rejected frame ({cause}) #{n}: {detail}")
        if stamp is not None:
            self.pub_ack.publish(stamp)


def main(args=None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = PerceptionNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
