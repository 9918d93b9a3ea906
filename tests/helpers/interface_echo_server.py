"""A separate-process peer for the interface round-trip tests: it transforms what it receives, so the
test can tell that every field crossed the process boundary intact (not merely that a call returned)."""
from __future__ import annotations

import time

import rclpy
from memory_interfaces.action import AskActive
from memory_interfaces.msg import AnswerCandidate, SceneGraph, View
from memory_interfaces.srv import Ask, Recall
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy


class EchoServer(Node):
    def __init__(self):
        super().__init__("interface_echo_server")
        group = ReentrantCallbackGroup()
        self.create_service(Ask, "ask", self.on_ask, callback_group=group)
        self.create_service(Recall, "memory/recall", self.on_recall, callback_group=group)
        ActionServer(self, AskActive, "ask_active", self.on_goal_exec, callback_group=group,
                     goal_callback=lambda g: GoalResponse.ACCEPT,
                     cancel_callback=lambda g: CancelResponse.ACCEPT)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.view_pub = self.create_publisher(View, "echo/views", qos)
        self.graph_pub = self.create_publisher(SceneGraph, "echo/scene_graph", qos)
        self.create_subscription(View, "views", self.on_view, qos, callback_group=group)
        self.create_subscription(SceneGraph, "scene_graph", self.on_graph, qos, callback_group=group)

    def on_ask(self, req, resp):
        resp.status = Ask.Response.STATUS_NOT_SURE if req.budget_m > 0 else Ask.Response.STATUS_ANSWERED
        resp.query_kind = "echo"
        resp.answer = req.question[::-1]
        resp.count = len(req.question)
        resp.time = req.window_end
        resp.path_m = req.budget_m * 2.0
        resp.probability = min(1.0, req.timeout_s / 10.0)
        resp.top_answers = [AnswerCandidate(text=w, probability=0.5, place_id=i)
                            for i, w in enumerate(req.question.split()[:3])]
        resp.evidence.stamps = [req.window_start, req.window_end]
        resp.evidence.keyframe_refs = ["sha256:" + req.question[:4]]
        return resp

    def on_recall(self, req, resp):
        if req.kind not in ("last_seen", "count"):
            resp.error_code = Recall.Response.BAD_REQUEST
            resp.error_msg = f"unknown kind {req.kind!r}"
            return resp
        from memory_interfaces.msg import RecallItem
        item = RecallItem(class_name=req.class_name.upper(), room_id=req.room_id + 1,
                          count=req.max_results * 2, stamp=req.t)
        item.evidence.observation_ids = [1, 2, 3]
        resp.items = [item]
        return resp

    def on_goal_exec(self, goal_handle):
        req = goal_handle.request
        travelled = 0.0
        for step in range(50):
            if goal_handle.is_cancel_requested:
                goal_handle.canceled()
                res = AskActive.Result(status=AskActive.Result.STATUS_NOT_SURE,
                                       error_code=AskActive.Result.CANCELED, path_m=travelled)
                return res
            travelled += 0.5
            fb = AskActive.Feedback(distance_travelled_m=travelled, phase="navigating",
                                    current_target=f"step {step}", target_place_id=step)
            goal_handle.publish_feedback(fb)
            if travelled >= req.budget_m:
                break
            time.sleep(0.05)
        goal_handle.succeed()
        return AskActive.Result(status=AskActive.Result.STATUS_ANSWERED, answer=req.question.upper(),
                                path_m=travelled)

    def on_view(self, msg):
        msg.view_id = msg.view_id + "/echo"
        msg.place_id = msg.place_id + 1
        self.view_pub.publish(msg)

    def on_graph(self, msg):
        for n in msg.nodes:
            n.semantic_label = n.semantic_label + "!"
        self.graph_pub.publish(msg)


def main():
    rclpy.init()
    node = EchoServer()
    ex = MultiThreadedExecutor(num_threads=3)
    ex.add_node(node)
    print("echo server ready", flush=True)
    try:
        ex.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
