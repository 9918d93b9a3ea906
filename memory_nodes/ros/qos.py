"""The stack's QoS profiles, one of each, chosen on purpose (every node, the demo and the tests use these).

LATCHED          RELIABLE, TRANSIENT_LOCAL, depth 1: current state a late joiner must get (scene graph, place
                 graph, rooms, class table, sim status).
STREAM           RELIABLE, VOLATILE, depth 1000: perception -> memory, one message per frame; memory must get
                 every frame even when it lags behind a burst of the simulator's fast-forward.
EVENTS           RELIABLE, VOLATILE, depth 50: small, frequent messages read as "the latest wins" or summed
                 in order (frame acks, ingested_through, odom, /clock). 50 rather than 10: a subscriber whose
                 executor is busy for a moment (the planner during a look, memory during a commit) while the
                 simulator runs faster than real time still receives every odom step and ack; the messages
                 are small, so the deeper history costs little.
SENSOR           the ROS sensor-data profile (BEST_EFFORT, depth 5): camera streams on a real robot.
RELIABLE_SENSOR  RELIABLE, VOLATILE, depth 5: camera streams where a lost image would stall (the simulator
                 in lockstep); ``camera_qos(reliable)`` picks one of the two.
TF, TF_STATIC    /tf and /tf_static as tf2_ros uses them: RELIABLE, depth 100; /tf_static TRANSIENT_LOCAL.
SERVICES         ``services_qos(depth)``: rclpy's services default (RELIABLE, VOLATILE, KEEP_LAST) with the
                 depth sized to the load. The default depth is 10: a server whose callbacks are busy holds at
                 most 10 unread requests per DDS reader, and an 11th replaces the oldest one, unanswered and
                 unlogged (a client without a time-out then waits forever). The nodes size it from
                 ``node.service_queue_depth`` (memory) / ``services.queue_depth`` (planner) and answer
                 what they cannot work on with BUSY instead of leaving it queued. A client that keeps many
                 calls in flight needs the same depth on its side (its response reader).
"""
from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from . import compat


def _reliable(depth: int, latched: bool = False) -> QoSProfile:
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


LATCHED = _reliable(1, latched=True)
STREAM = _reliable(1000)
EVENTS = _reliable(50)
SENSOR = compat.sensor_data_qos()
RELIABLE_SENSOR = _reliable(5)
TF = _reliable(100)
TF_STATIC = _reliable(100, latched=True)


SERVICE_QUEUE_DEPTH = 100       # requests (and responses) a service's DDS readers hold before dropping


def services_qos(depth: int = SERVICE_QUEUE_DEPTH) -> QoSProfile:
    """The services profile with ``depth`` requests held (see SERVICES above)."""
    return _reliable(max(1, int(depth)))


SERVICES = services_qos()


def camera_qos(reliable: bool) -> QoSProfile:
    """RELIABLE_SENSOR when a lost image must not happen (lockstep), else the sensor-data profile."""
    return RELIABLE_SENSOR if reliable else SENSOR
