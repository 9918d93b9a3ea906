"""A full resend ring refuses new frames instead of dropping kept ones (resend.when_full = refuse, the
default): the perception node in-process (ROS_DOMAIN_ID 117) with room for 3 unacknowledged frames, a test
node standing in for memory (its memory/ingested_through). Frames 4 and 5 are not sent while memory has
acknowledged nothing; once it acknowledges, frames go out again; with drop_oldest the oldest is dropped."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench.reliability import _frames

pytestmark = pytest.mark.ros
DOMAIN = 117


@pytest.mark.parametrize("policy", ["refuse", "drop_oldest"])
def test_a_full_ring_refuses_new_frames_rather_than_drop_what_it_holds(ros_context_factory, monkeypatch, policy):
    from builtin_interfaces.msg import Time
    from memory_interfaces.msg import FrameObservations, IngestProgress
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    import memory_nodes.ros.perception_node as pn
    from memory_nodes.common.geometry import pose2d_T
    from memory_nodes.ros.conversions.basic import ns_to_time, time_to_ns
    from memory_nodes.ros.conversions.perception import frame_to_msg
    from memory_nodes.ros.perception_node import PerceptionNode
    from memory_nodes.ros.qos import EVENTS, STREAM

    ros = ros_context_factory(DOMAIN)
    perception = PerceptionNode(context=ros.context, parameter_overrides=[
        Parameter("detector.kind", value="oracle"), Parameter("node.input_timeout_s", value=0.0),
        Parameter("resend.max_frames", value=3), Parameter("resend.when_full", value=policy)])
    ros.executor.add_node(perception)
    try:
        got = []
        ros.node.create_subscription(FrameObservations, "perception/frames",
                                     lambda m: got.append(time_to_ns(m.header.stamp)), STREAM)
        progress = ros.node.create_publisher(IngestProgress, "memory/ingested_through", EVENTS)

        def ack(through_ns: int) -> None:
            m = IngestProgress()
            m.ingested_through = ns_to_time(through_ns)
            progress.publish(m)

        ros.spin_until(lambda: perception.count_subscribers("perception/frames") >= 1
                       and perception.count_publishers("memory/ingested_through") >= 1, 10, "discovery")
        n0 = perception._resend.n_acked
        ack(0)                                               # memory is up: it receives what is sent from now
        ros.spin_until(lambda: len(perception._resend.readers) == 1, 10, "perception hearing memory")
        msgs = [frame_to_msg(f, "map") for f in _frames(7, seed=3)]
        stamps = [time_to_ns(m.header.stamp) for m in msgs]
        first = [perception.publish_frame(m) for m in msgs[:5]]
        ros.spin_until(lambda: len(got) >= (3 if policy == "refuse" else 5), 10, "the frames sent")
        diag = perception._diagnose_frames().values
        if policy == "refuse":
            assert first == [True, True, True, False, False]
            assert perception._resend.refused == 2 and perception._resend.dropped == 0
            assert diag["frames refused (memory behind)"] == 2 and diag["unacknowledged held"] == 3
            # a camera frame processed while the ring is full: rejected (memory_behind), its frame_ack sent
            acks = []
            ros.node.create_subscription(Time, "perception/frame_ack", lambda m: acks.append(time_to_ns(m)), EVENTS)
            ros.spin_until(lambda: perception.count_subscribers("perception/frame_ack") >= 1, 10, "ack discovery")
            frames = _frames(7, seed=3)
            camera = SimpleNamespace(frame_id="camera", stamp_ns=stamps[3])
            monkeypatch.setattr(pn, "frame_from_messages", lambda *a: camera)
            monkeypatch.setattr(perception.tf, "lookup", lambda *a: pose2d_T(0.0, 0.0, 0.0))
            monkeypatch.setattr(perception.perception, "process", lambda *a: frames[3])
            img = Image()
            img.header.stamp = msgs[3].header.stamp
            done = perception.frames_done
            assert perception._process_set([img, img, img])
            ros.spin_until(lambda: stamps[3] in acks, 10, "the refused frame's frame_ack")
            assert perception._log_rejected.counts().get("memory_behind") == 1
            assert perception.frames_done == done and perception._resend.refused == 3
        else:
            assert first == [True] * 5
            assert perception._resend.dropped == 2 and perception._resend.refused == 0
        ack(stamps[4])                                       # memory stored everything it received
        ros.spin_until(lambda: len(perception._resend) == 0, 10, "the acknowledgement")
        assert perception._resend.n_acked - n0 == 3
        assert perception.publish_frame(msgs[5]) and perception.publish_frame(msgs[6])
        ros.spin_until(lambda: len(got) >= (5 if policy == "refuse" else 7), 10, "the later frames")
        want = stamps[:3] + stamps[5:] if policy == "refuse" else stamps
        assert sorted(got) == sorted(want)                   # a refused frame was never sent
    finally:
        ros.executor.remove_node(perception)
        perception.destroy_node()


def test_a_memory_counts_as_a_reader_only_once_its_frames_subscription_is_seen(ros_context_factory):
    """A restarted memory's first watermark can come before its perception/frames subscription is
    discovered: frames resent then would be lost to it, and its later watermark would pass them. Perception
    skips its watermarks until its node's frames subscription is in the graph (domain 118)."""
    from memory_interfaces.msg import FrameObservations, IngestProgress
    from rclpy.parameter import Parameter

    from memory_nodes.ros.perception_node import PerceptionNode
    from memory_nodes.ros.qos import EVENTS, STREAM

    ros = ros_context_factory(118, "memory_stand_in")
    perception = PerceptionNode(context=ros.context, parameter_overrides=[
        Parameter("detector.kind", value="oracle"), Parameter("node.input_timeout_s", value=0.0)])
    ros.executor.add_node(perception)
    try:
        progress = ros.node.create_publisher(IngestProgress, "memory/ingested_through", EVENTS)
        ros.spin_until(lambda: perception.count_publishers("memory/ingested_through") >= 1, 10, "discovery")
        for _ in range(3):
            progress.publish(IngestProgress())
            ros.spin_until(lambda: len(perception._pending_readers) == 1, 10, "the watermark heard")
        assert perception._resend.readers == []             # heard, not counted: no frames subscription yet
        ros.node.create_subscription(FrameObservations, "perception/frames", lambda m: None, STREAM)
        ros.spin_until(lambda: perception.count_subscribers("perception/frames") >= 1, 10, "frames discovery")

        def counted() -> bool:
            progress.publish(IngestProgress())
            ros.spin_once(0.1)
            return len(perception._resend.readers) == 1
        ros.spin_until(counted, 10, "the memory counted as a reader")
        assert perception._pending_readers == {}
    finally:
        ros.executor.remove_node(perception)
        perception.destroy_node()
