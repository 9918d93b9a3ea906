"""The planner's memory/* calls survive a request whose reply DDS dropped (call_read_only sends again)."""
from __future__ import annotations

import threading

import pytest

pytestmark = pytest.mark.ros


class FakeClient:
    """A service client whose first ``lost`` requests are never answered; later ones are, shortly after."""

    def __init__(self, lost: int):
        self.lost = lost
        self.sent = 0
        self.forgotten = []

    def call_async(self, req):
        from rclpy.task import Future
        f = Future()
        self.sent += 1
        if self.sent > self.lost:
            threading.Timer(0.02, f.set_result, args=(("reply to", req, self.sent),)).start()
        return f

    def remove_pending_request(self, f):
        self.forgotten.append(f)


def test_a_lost_reply_is_asked_again_and_the_stale_request_forgotten():
    from memory_nodes.ros.planner_node import call_read_only
    cli = FakeClient(lost=1)
    out = call_read_only(cli, "recall last_seen mug", 0.6, "memory/recall last_seen")
    assert out == ("reply to", "recall last_seen mug", 2)
    assert cli.sent == 2 and len(cli.forgotten) == 1 and not cli.forgotten[0].done()


def test_an_answered_first_request_is_sent_once():
    from memory_nodes.ros.planner_node import call_read_only
    cli = FakeClient(lost=0)
    assert call_read_only(cli, "q", 3.0, "memory/recall")[2] == 1
    assert cli.sent == 1 and cli.forgotten == []


def test_no_reply_at_all_times_out_naming_the_call_and_the_requests_sent():
    from memory_nodes.ros.planner_node import WaitTimeout, call_read_only
    cli = FakeClient(lost=99)
    with pytest.raises(WaitTimeout, match=r"memory/get_scene_graph: no reply within 0.3 s \(\d request\(s\) sent\)"):
        call_read_only(cli, "g", 0.3, "memory/get_scene_graph")
    assert cli.sent >= 3 and len(cli.forgotten) == cli.sent       # every unanswered request forgotten
