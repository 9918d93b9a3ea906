"""Ask the robot a question through the public interfaces only, as `ros2 service call` or
`ros2 action send_goal` would, and print the answer, confidence, evidence and path driven.

    .venv/bin/python -m memory_nodes.ros.ask_client "where is the mug?"                 # Ask service
    .venv/bin/python -m memory_nodes.ros.ask_client "where is the mug?" --budget 20 --active  # AskActive
Equivalent CLI lines on a real ROS 2 install:
    ros2 service call /ask memory_interfaces/srv/Ask "{question: 'where is the mug?', budget_m: 0.0}"
    ros2 action send_goal --feedback /ask_active memory_interfaces/action/AskActive \
        "{question: 'where is the mug?', budget_m: 20.0}"
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

from memory_nodes.ros import compat

STATUS = {0: "ANSWERED", 1: "NOT_SURE", 2: "CANNOT_PARSE"}
YES_NO = {0: "", 1: "yes", 2: "no"}


@dataclass
class AskOutcome:
    question: str
    status: str
    query_kind: str
    answer: str
    probability: float
    reason: str
    path_m: float
    best_guess: str
    evidence_objects: List[str] = field(default_factory=list)
    evidence_places: List[int] = field(default_factory=list)
    evidence_stamps_ns: List[int] = field(default_factory=list)
    keyframe_refs: List[str] = field(default_factory=list)
    observation_ids: List[int] = field(default_factory=list)
    error_code: int = 0
    error_msg: str = ""
    feedback: List[str] = field(default_factory=list)
    has_position: bool = False
    position: tuple = (0.0, 0.0, 0.0)
    place_id: int = -1
    room_id: int = -1
    room_label: str = ""
    count: int = -1
    time_ns: int = 0
    yes_no: str = ""
    wall_s: float = 0.0


def outcome_from_reply(question: str, r, feedback: Optional[List[str]] = None, wall_s: float = 0.0) -> AskOutcome:
    from memory_nodes.ros.conversions.basic import time_to_ns
    ev = r.evidence
    return AskOutcome(
        question=question, status=STATUS.get(int(r.status), str(r.status)), query_kind=r.query_kind,
        answer=r.answer, probability=float(r.probability), reason=r.reason, path_m=float(r.path_m),
        best_guess=r.best_guess, evidence_objects=list(ev.object_ids), evidence_places=list(ev.place_ids),
        evidence_stamps_ns=[time_to_ns(t) for t in ev.stamps], keyframe_refs=list(ev.keyframe_refs),
        observation_ids=list(ev.observation_ids), error_code=int(r.error_code), error_msg=r.error_msg,
        feedback=list(feedback or []), has_position=bool(r.has_position),
        position=(r.position.x, r.position.y, r.position.z), place_id=int(r.place_id), room_id=int(r.room_id),
        room_label=r.room_label, count=int(r.count), time_ns=time_to_ns(r.time), yes_no=YES_NO.get(int(r.yes_no), ""),
        wall_s=wall_s)


def _fmt_time(ns: int) -> str:
    if ns <= 0:
        return "-"
    return _dt.datetime.fromtimestamp(ns / 1e9, tz=_dt.timezone.utc).strftime("%a %Y-%m-%d %H:%M")


def format_outcome(o: AskOutcome, keyframe_dir: Optional[str] = None) -> str:
    lines = [f"Q: {o.question}",
             f"  status      {o.status}" + (f" ({o.query_kind})" if o.query_kind else ""),
             f"  answer      {o.answer or '-'}"]
    if o.status == "NOT_SURE" and o.best_guess:
        lines.append(f"  best guess  {o.best_guess}")
    lines.append(f"  confidence  {o.probability:.2f}")
    if o.reason:
        lines.append(f"  reason      {o.reason}")
    ev = []
    if o.evidence_objects:
        ev.append("objects " + ", ".join(o.evidence_objects[:6]) + (" ..." if len(o.evidence_objects) > 6 else ""))
    if o.evidence_places:
        ev.append("places " + ", ".join(str(p) for p in o.evidence_places[:8]))
    if o.evidence_stamps_ns:
        ts = sorted(o.evidence_stamps_ns)
        ev.append(f"seen {_fmt_time(ts[0])}" + (f" .. {_fmt_time(ts[-1])}" if len(ts) > 1 else "")
                  + f" ({len(ts)} times)")
    if o.observation_ids:
        ev.append(f"{len(o.observation_ids)} observations")
    lines.append("  evidence    " + ("; ".join(ev) if ev else "-"))
    for ref in o.keyframe_refs[:3]:
        path = _keyframe_path(ref, keyframe_dir)
        lines.append(f"  keyframe    {path or ref}")
    lines.append(f"  path        {o.path_m:.1f} m driven")
    if o.feedback:
        lines.append(f"  feedback    {len(o.feedback)} updates, last: {o.feedback[-1]}")
    if o.error_code:
        lines.append(f"  error       {o.error_code}: {o.error_msg}")
    return "\n".join(lines)


def _keyframe_path(ref: str, keyframe_dir: Optional[str]) -> Optional[str]:
    if not keyframe_dir:
        return None
    h = ref.split(":", 1)[-1]
    for cand in (os.path.join(keyframe_dir, h[:2], h + ".jpg"), os.path.join(keyframe_dir, h[:2], h),
                 os.path.join(keyframe_dir, h + ".jpg"), os.path.join(keyframe_dir, h)):
        if os.path.exists(cand):
            return cand
    return None


class AskClient:
    """A small client node: one Ask service client and one AskActive action client."""

    def __init__(self, namespace: str = "", context=None, node_name: str = "ask_client"):
        import rclpy
        from memory_interfaces.action import AskActive
        from memory_interfaces.srv import Ask
        from rclpy.action import ActionClient
        self._rclpy = rclpy
        self.Ask, self.AskActive = Ask, AskActive
        self.node = rclpy.create_node(node_name, namespace=namespace or None, context=context)
        self.ask_cli = self.node.create_client(Ask, "ask")
        self.action_cli = ActionClient(self.node, AskActive, "ask_active")
        from rclpy.executors import SingleThreadedExecutor
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)

    def _wait(self, fut, timeout_s: float):
        deadline = time.monotonic() + timeout_s
        while not fut.done() and time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
        if not fut.done():
            raise TimeoutError(f"no reply within {timeout_s:.0f} s")
        return fut.result()

    def wait_ready(self, timeout_s: float = 30.0, active: bool = False) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.ask_cli.service_is_ready() and (not active or self.action_cli.server_is_ready()):
                return True
            self.executor.spin_once(timeout_sec=0.1)
        return False

    def ask(self, question: str, budget_m: float = 0.0, timeout_s: float = 60.0) -> AskOutcome:
        t0 = time.monotonic()
        req = self.Ask.Request(question=question, budget_m=float(budget_m), timeout_s=float(timeout_s))
        r = self._wait(self.ask_cli.call_async(req), timeout_s + 10.0)
        return outcome_from_reply(question, r, wall_s=time.monotonic() - t0)

    def ask_active(self, question: str, budget_m: float, timeout_s: float = 120.0,
                   cancel_after_s: Optional[float] = None) -> AskOutcome:
        t0 = time.monotonic()
        fb: List[str] = []

        def on_fb(msg):
            f = msg.feedback
            top = ", ".join(f"{c.text} {c.probability:.2f}" for c in f.top_answers[:2])
            fb.append(f"{f.phase}: {f.current_target or '-'}; {f.distance_travelled_m:.1f} m; {top}")

        goal = self.AskActive.Goal(question=question, budget_m=float(budget_m), timeout_s=float(timeout_s))
        gh = self._wait(self.action_cli.send_goal_async(goal, feedback_callback=on_fb), 30.0)
        if not gh.accepted:
            raise RuntimeError("goal rejected")
        res_fut = gh.get_result_async()
        if cancel_after_s is not None:
            deadline = time.monotonic() + cancel_after_s
            while not res_fut.done() and time.monotonic() < deadline:
                self.executor.spin_once(timeout_sec=0.05)
            if not res_fut.done():
                self._wait(gh.cancel_goal_async(), 30.0)
        _status, result = compat.goal_result(self._wait(res_fut, timeout_s + 30.0))
        return outcome_from_reply(question, result, fb, wall_s=time.monotonic() - t0)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("question")
    ap.add_argument("--budget", type=float, default=0.0, help="metres the robot may drive (0 = memory only)")
    ap.add_argument("--active", action="store_true", help="use the AskActive action (feedback, cancel)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds")
    ap.add_argument("--namespace", default="")
    ap.add_argument("--keyframe-dir", default=None, help="memory's keyframe folder, to print file paths")
    a = ap.parse_args(argv)
    with compat.session():
        client = AskClient(a.namespace)
        try:
            if not client.wait_ready(30.0, active=a.active):
                print("ask_client: the planner's ask service is not available (is the stack running?)",
                      file=sys.stderr)
                return 2
            o = (client.ask_active(a.question, a.budget, a.timeout) if a.active
                 else client.ask(a.question, a.budget, a.timeout))
            print(format_outcome(o, a.keyframe_dir))
            return 0 if o.error_code == 0 else 1
        except (TimeoutError, RuntimeError) as e:
            print(f"ask_client: {e}", file=sys.stderr)
            return 1
        finally:
            client.close()


if __name__ == "__main__":
    sys.exit(main())
