"""Transforms behind one small interface: ``lookup(target, source, stamp_ns) -> target_T_source`` (4x4),
raising TransformError.

On a real ROS 2 install this is tf2_ros's Buffer with a TransformListener. Where tf2_ros is missing (the
pip wheels have none), /tf and /tf_static (tf2_msgs/msg/TFMessage) are fed into the project's own
time-interpolating buffer (memory_nodes.perception.tf_buffer).
"""
from __future__ import annotations

from typing import Protocol

import numpy as np
from rclpy.node import Node

from memory_nodes.common.errors import TransformError
from memory_nodes.perception.config import TransformsConfig
from memory_nodes.perception.tf_buffer import TransformBuffer

from .conversions.basic import time_to_ns, transform_to_T
from .qos import TF, TF_STATIC


class TransformSource(Protocol):
    kind: str

    def lookup(self, target: str, source: str, stamp_ns: int) -> np.ndarray: ...


class TopicTransformSource:
    """/tf and /tf_static into the core TransformBuffer."""

    kind = "memory_nodes TransformBuffer over /tf, /tf_static"

    def __init__(self, node: Node, config: TransformsConfig):
        from tf2_msgs.msg import TFMessage

        self.buffer = TransformBuffer(cache_time_ns=int(config.cache_time_s * 1e9),
                                      max_extrapolation_ns=int(config.max_extrapolation_s * 1e9),
                                      forward_tolerance_ns=int(config.jump_forward_tolerance_s * 1e9),
                                      new_time_base_stamps=config.new_time_base_stamps)
        self._node = node
        self._subs = [node.create_subscription(TFMessage, "/tf", lambda m: self._on_tf(m, False), TF),
                      node.create_subscription(TFMessage, "/tf_static", lambda m: self._on_tf(m, True), TF_STATIC)]
        self.rejected = 0

    def _on_tf(self, msg, static: bool) -> None:
        for t in msg.transforms:
            try:
                self.buffer.set_transform(t.header.frame_id, t.child_frame_id, transform_to_T(t.transform),
                                          time_to_ns(t.header.stamp), static=static)
            except (TransformError, ValueError) as e:
                self.rejected += 1
                self._node.get_logger().warning(f"ignoring transform {t.header.frame_id}->{t.child_frame_id}: {e}",
                                             throttle_duration_sec=10.0)

    def lookup(self, target: str, source: str, stamp_ns: int) -> np.ndarray:
        return self.buffer.lookup(target, source, stamp_ns)


class Tf2TransformSource:
    """tf2_ros.Buffer + TransformListener (a real ROS 2 install)."""

    kind = "tf2_ros.Buffer"

    def __init__(self, node: Node, config: TransformsConfig):
        import tf2_ros
        from rclpy.duration import Duration

        self._tf2 = tf2_ros
        self.buffer = tf2_ros.Buffer(cache_time=Duration(seconds=config.cache_time_s))
        self._listener = tf2_ros.TransformListener(self.buffer, node)
        self._timeout = Duration(seconds=config.lookup_timeout_s)

    def lookup(self, target: str, source: str, stamp_ns: int) -> np.ndarray:
        from rclpy.time import Time

        try:
            t = self.buffer.lookup_transform(target, source, Time(nanoseconds=int(stamp_ns)), self._timeout)
        except (self._tf2.LookupException, self._tf2.ConnectivityException,
                self._tf2.ExtrapolationException, self._tf2.InvalidArgumentException) as e:
            raise TransformError(f"{target} <- {source} at {stamp_ns} ns: {e}") from e
        return transform_to_T(t.transform)


def make_transform_source(node: Node, config: TransformsConfig, prefer_tf2: bool = True) -> TransformSource:
    """tf2_ros where importable, else the project's own buffer over /tf and /tf_static."""
    if prefer_tf2:
        try:
            import tf2_ros  # noqa: F401
        except ImportError:
            pass
        else:
            return Tf2TransformSource(node, config)
    return TopicTransformSource(node, config)
