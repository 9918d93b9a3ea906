"""Message conversions the simulator node needs beyond memory_nodes.ros.conversions.basic (time, poses,
images, camera info): odometry, /clock, TF messages, the instance class table."""
from __future__ import annotations

from typing import Dict, Iterable, Tuple

import numpy as np
from memory_interfaces.msg import InstanceClassTable
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock
from tf2_msgs.msg import TFMessage

from memory_nodes.ros.conversions.basic import T_to_pose, make_transform_stamped, ns_to_time


def clock_msg(t_ns: int) -> Clock:
    return Clock(clock=ns_to_time(t_ns))


def tf_message(transforms: Iterable[Tuple[np.ndarray, str, str]], stamp_ns: int) -> TFMessage:
    """TFMessage from (parent_T_child, parent, child) triples, all stamped ``stamp_ns``."""
    return TFMessage(transforms=[make_transform_stamped(T, p, c, stamp_ns) for T, p, c in transforms])


def odometry_msg(odom_T_base: np.ndarray, v_mps: float, w_radps: float, odom_frame: str, base_frame: str,
                 stamp_ns: int, pose_var: float = 1e-4, twist_var: float = 1e-4) -> Odometry:
    """nav_msgs/Odometry: pose in the odom frame, twist in the base frame (forward, yaw rate)."""
    msg = Odometry()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = odom_frame
    msg.child_frame_id = base_frame
    msg.pose.pose = T_to_pose(odom_T_base)
    cov = [0.0] * 36
    for i in range(6):
        cov[i * 7] = pose_var
    msg.pose.covariance = cov
    msg.twist.twist.linear.x = float(v_mps)
    msg.twist.twist.angular.z = float(w_radps)
    tcov = [0.0] * 36
    for i in range(6):
        tcov[i * 7] = twist_var
    msg.twist.covariance = tcov
    return msg


def class_table_msg(table: Dict[int, str], stamp_ns: int, frame_id: str) -> InstanceClassTable:
    msg = InstanceClassTable()
    msg.header.stamp = ns_to_time(stamp_ns)
    msg.header.frame_id = frame_id
    ids = sorted(table)
    msg.instance_ids = [int(i) for i in ids]
    msg.class_names = [table[i] for i in ids]
    return msg
