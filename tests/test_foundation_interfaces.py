"""The project's interfaces cross a process boundary intact: service, action (feedback + cancel), topics."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import PYTHON, REPO_ROOT, ros_env

pytestmark = pytest.mark.ros

DOMAIN = 3


@pytest.fixture
def peer(process_factory, ros_context_factory):
    proc = process_factory([PYTHON, str(REPO_ROOT / "tests" / "helpers" / "interface_echo_server.py")],
                           env=ros_env(DOMAIN))
    ros = ros_context_factory(DOMAIN)
    yield ros, proc


def test_ask_service_round_trip(peer):
    from builtin_interfaces.msg import Time
    from memory_interfaces.srv import Ask
    ros, _ = peer
    client = ros.node.create_client(Ask, "ask")
    ros.spin_until(lambda: client.service_is_ready(), 30, "ask service")
    req = Ask.Request(question="where are my keys", budget_m=0.0, timeout_s=5.0,
                      window_start=Time(sec=10, nanosec=5), window_end=Time(sec=20, nanosec=7))
    resp = ros.call_read_only(client, req, 20)
    assert resp.status == Ask.Response.STATUS_ANSWERED
    assert resp.answer == "syek ym era erehw"
    assert resp.count == len(req.question)
    assert (resp.time.sec, resp.time.nanosec) == (20, 7)
    assert resp.probability == pytest.approx(0.5)
    assert [c.text for c in resp.top_answers] == ["where", "are", "my"]
    assert [c.place_id for c in resp.top_answers] == [0, 1, 2]
    assert [(s.sec, s.nanosec) for s in resp.evidence.stamps] == [(10, 5), (20, 7)]
    assert list(resp.evidence.keyframe_refs) == ["sha256:wher"]
    resp2 = ros.call_read_only(client, Ask.Request(question="x", budget_m=3.0), 20)
    assert resp2.status == Ask.Response.STATUS_NOT_SURE and resp2.path_m == pytest.approx(6.0)


def test_recall_service_errors_and_items(peer):
    from builtin_interfaces.msg import Time
    from memory_interfaces.srv import Recall
    ros, _ = peer
    client = ros.node.create_client(Recall, "memory/recall")
    ros.spin_until(lambda: client.service_is_ready(), 30, "recall service")
    bad = ros.call_read_only(client, Recall.Request(kind="nonsense"), 20)
    assert bad.error_code == Recall.Response.BAD_REQUEST and "nonsense" in bad.error_msg and not bad.items
    ok = ros.wait_future(client.call_async(Recall.Request(kind="count", class_name="mug", room_id=4,
                                                          max_results=6, t=Time(sec=99))), 10)
    assert ok.error_code == Recall.Response.NONE
    assert ok.items[0].class_name == "MUG" and ok.items[0].room_id == 5 and ok.items[0].count == 12
    assert ok.items[0].stamp.sec == 99 and list(ok.items[0].evidence.observation_ids) == [1, 2, 3]


def test_ask_active_feedback_result_and_cancel(peer):
    from memory_interfaces.action import AskActive
    from rclpy.action import ActionClient
    ros, _ = peer
    client = ActionClient(ros.node, AskActive, "ask_active")
    ros.spin_until(lambda: client.server_is_ready(), 30, "ask_active server")

    feedback = []
    goal = AskActive.Goal(question="is there a mug", budget_m=1.5)
    gh = ros.wait_future(client.send_goal_async(goal, feedback_callback=lambda f: feedback.append(f.feedback)), 10)
    assert gh.accepted
    result = ros.wait_future(gh.get_result_async(), 20).result
    assert result.status == AskActive.Result.STATUS_ANSWERED and result.answer == "IS THERE A MUG"
    assert result.path_m == pytest.approx(1.5)
    assert [f.distance_travelled_m for f in feedback] == pytest.approx([0.5, 1.0, 1.5])

    feedback.clear()
    gh = ros.wait_future(client.send_goal_async(AskActive.Goal(question="long", budget_m=100.0),
                                                feedback_callback=lambda f: feedback.append(f.feedback)), 10)
    ros.spin_until(lambda: len(feedback) >= 2, 20, "feedback before cancel")
    ros.wait_future(gh.cancel_goal_async(), 10)
    res = ros.wait_future(gh.get_result_async(), 20)
    assert res.result.error_code == AskActive.Result.CANCELED
    assert res.result.path_m < 100.0


def test_view_and_scene_graph_topics_round_trip(peer):
    from memory_interfaces.msg import SceneGraph, SceneGraphNode, View
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from memory_nodes.common.geometry import pose2d_T
    from memory_nodes.ros.conversions.basic import T_to_pose, depth_from_image, numpy_to_image, pose_to_T
    ros, _ = peer
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    got_views, got_graphs = [], []
    ros.node.create_subscription(View, "echo/views", got_views.append, qos)
    ros.node.create_subscription(SceneGraph, "echo/scene_graph", got_graphs.append, qos)
    pub_v = ros.node.create_publisher(View, "views", qos)
    pub_g = ros.node.create_publisher(SceneGraph, "scene_graph", qos)
    ros.spin_until(lambda: pub_v.get_subscription_count() > 0 and pub_g.get_subscription_count() > 0, 30,
                   "peer subscriptions")
    depth = np.linspace(0.5, 4.0, 160 * 120, dtype=np.float32).reshape(120, 160)
    T = pose2d_T(1.0, -2.0, 0.7, 1.2)
    v = View(view_id="v1", place_id=7, camera_pose=T_to_pose(T), depth=numpy_to_image(depth, "32FC1"),
             detected_classes=["mug", "book"])
    v.color.format = "jpeg"
    v.color.data = bytes(range(256)) * 4
    g = SceneGraph(nodes=[SceneGraphNode(id="object/3", layer=SceneGraphNode.LAYER_OBJECTS, semantic_label="mug")])

    def sent_and_back():
        if not got_views:
            pub_v.publish(v)
        if not got_graphs:
            pub_g.publish(g)
        return bool(got_views) and bool(got_graphs)

    ros.spin_until(sent_and_back, 30, "echoed view and graph")
    back = got_views[0]
    assert back.view_id == "v1/echo" and back.place_id == 8 and list(back.detected_classes) == ["mug", "book"]
    np.testing.assert_array_equal(depth_from_image(back.depth), depth)
    np.testing.assert_allclose(pose_to_T(back.camera_pose), T, atol=1e-9)
    assert bytes(back.color.data) == bytes(range(256)) * 4
    assert got_graphs[0].nodes[0].semantic_label == "mug!" and got_graphs[0].nodes[0].layer == 2


def test_navigate_to_pose_and_tf_types_are_nav2_and_tf2_definitions():
    """The stand-ins carry the upstream names and fields, so they are wire-compatible with Nav2 and tf2."""
    from nav2_msgs.action import NavigateToPose
    from tf2_msgs.msg import TFMessage
    assert NavigateToPose.Goal.get_fields_and_field_types() == {
        "pose": "geometry_msgs/PoseStamped", "behavior_tree": "string"}
    fb = NavigateToPose.Feedback.get_fields_and_field_types()
    assert fb["distance_remaining"] == "float" and fb["current_pose"] == "geometry_msgs/PoseStamped"
    assert TFMessage.get_fields_and_field_types() == {"transforms": "sequence<geometry_msgs/TransformStamped>"}


def test_ask_client_uses_only_public_interfaces_and_prints_evidence(peer):
    from memory_nodes.ros.ask_client import AskClient, format_outcome
    ros, _ = peer
    client = AskClient(context=ros.context)
    try:
        assert client.wait_ready(30.0, active=True)
        o = client.ask("where is the mug", budget_m=0.0, timeout_s=5.0)
        assert o.status == "ANSWERED" and o.answer == "gum eht si erehw" and o.probability == pytest.approx(0.5)
        text = format_outcome(o)
        assert "ANSWERED (echo)" in text and "sha256:wher" in text and "0.50" in text
        a = client.ask_active("go look", budget_m=1.0, timeout_s=20.0)
        assert a.status == "ANSWERED" and a.answer == "GO LOOK" and a.path_m == pytest.approx(1.0)
        assert len(a.feedback) == 2 and "navigating" in a.feedback[-1]
        c = client.ask_active("cancel me", budget_m=100.0, timeout_s=20.0, cancel_after_s=0.3)
        assert c.error_code == 5 and c.path_m < 100.0
    finally:
        client.close()
