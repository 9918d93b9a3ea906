"""The main job end to end: the robot lives a few simulated days in the house, then questions are asked
over ROS 2 (Ask service and AskActive action, the public interfaces only) and answered with evidence, and a
picture of the memory is drawn.

    bash scripts/demo.sh                      # = setup, then: .venv/bin/python -m memory_nodes.ros.demo
    .venv/bin/python -m memory_nodes.ros.demo --days 3 --data-dir data/demo
    .venv/bin/python -m memory_nodes.ros.demo --fresh      # forget the stored days and start at day 0

It starts the stack from launch/memory_stack.launch.yaml (the same description `ros2 launch` uses) with the
simulator in lockstep with perception, shows progress while days pass, then asks: one question answered
from memory alone, one that needs exploring, one about the past and one out of scope. A second run
continues from the stored days: the memory store is reopened and the simulator resumes at the next day.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from memory_nodes.ros.launcher import REPO_ROOT, Stack

LAUNCH_FILE = REPO_ROOT / "launch" / "memory_stack.launch.yaml"


def log(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def write_demo_params(path: Path, days: int, camera_rate_hz: Optional[float] = None,
                      patrol_coverage: Optional[float] = None) -> Path:
    """Site overrides for the demo: the simulator in lockstep with perception, as fast as possible.
    ``days`` patrols in this run (0: none, the robot stays docked)."""
    sim: Dict[str, object] = {"node.lockstep": True, "node.real_time_factor": 0.0, "node.max_days": int(days),
                              "node.frame_ack_timeout_s": 10.0, "node.patrol_enabled": days > 0}
    if camera_rate_hz is not None:
        sim["camera.rate_hz"] = float(camera_rate_hz)
    if patrol_coverage is not None:
        sim["patrol.coverage_fraction"] = float(patrol_coverage)
    params = {"sim": {"ros__parameters": sim},
              "perception": {"ros__parameters": {"sync.reliable": True}}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# written by memory_nodes.ros.demo: site overrides for the demo run\n"
                    + yaml.safe_dump(params, sort_keys=True))
    return path


@dataclass
class Snapshot:
    status: object = None           # memory_interfaces/SimStatus
    progress: object = None         # memory_interfaces/IngestProgress
    rooms: object = None            # memory_interfaces/RoomSegmentation
    places: object = None           # memory_interfaces/PlaceGraph
    graph: object = None            # memory_interfaces/SceneGraph
    class_table: object = None      # memory_interfaces/InstanceClassTable
    odom_xy: List[Tuple[float, float]] = field(default_factory=list)
    recording: bool = False


class DemoMonitor:
    """Listens to the stack's public topics: progress, rooms, places, the scene graph and odometry."""

    def __init__(self, context=None, namespace: str = ""):
        import rclpy
        from memory_interfaces.msg import (
            IngestProgress,
            InstanceClassTable,
            PlaceGraph,
            RoomSegmentation,
            SceneGraph,
            SimStatus,
        )
        from nav_msgs.msg import Odometry
        from rclpy.executors import SingleThreadedExecutor

        from memory_nodes.ros.qos import EVENTS, LATCHED
        self.snap = Snapshot()
        self.node = rclpy.create_node("demo_monitor", namespace=namespace or None, context=context)
        s = self.snap
        self.node.create_subscription(SimStatus, "sim/status", lambda m: setattr(s, "status", m), LATCHED)
        self.node.create_subscription(IngestProgress, "memory/ingested_through",
                                      lambda m: setattr(s, "progress", m), EVENTS)
        self.node.create_subscription(RoomSegmentation, "perception/rooms", lambda m: setattr(s, "rooms", m), LATCHED)
        self.node.create_subscription(PlaceGraph, "perception/places", lambda m: setattr(s, "places", m), LATCHED)
        self.node.create_subscription(SceneGraph, "memory/scene_graph", lambda m: setattr(s, "graph", m), LATCHED)
        self.node.create_subscription(InstanceClassTable, "camera/class_table",
                                      lambda m: setattr(s, "class_table", m), LATCHED)
        self.node.create_subscription(Odometry, "odom", self._on_odom, EVENTS)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)

    def _on_odom(self, m) -> None:
        if self.snap.recording:
            p = m.pose.pose.position
            self.snap.odom_xy.append((p.x, p.y))

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=min(0.05, max(0.0, end - time.monotonic())))

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def progress_line(snap: Snapshot, days: int) -> str:
    st, pr = snap.status, snap.progress
    parts = []
    if st is not None:
        phase = "patrolling" if st.patrolling else ("driving" if st.navigating else "idle")
        parts.append(f"{st.description} | {phase} | patrol {min(st.patrols_this_run, days)}/{days} "
                     f"| {st.frames_published} frames")
    else:
        parts.append("waiting for the simulator")
    if pr is not None:
        parts.append(f"memory: {pr.observations_total} observations, {pr.views_total} keyframes")
    return " | ".join(parts)


def live_days(monitor: DemoMonitor, stack: Stack, days: int, timeout_s: float, every_s: float = 3.0) -> None:
    """Spin until the simulator has patrolled ``days`` days and memory has stored them."""
    from memory_nodes.ros.conversions.basic import time_to_ns
    snap = monitor.snap
    deadline = time.monotonic() + timeout_s
    last_print = 0.0
    patrol_end_ns: Optional[int] = None
    while True:
        monitor.spin_for(0.2)
        dead = {n: rc for n, rc in stack.poll().items() if rc is not None}
        if dead:
            raise RuntimeError(f"node(s) exited early: {dead} (see the logs folder)")
        now = time.monotonic()
        if now - last_print >= every_s:
            log(progress_line(snap, days))
            last_print = now
        st = snap.status
        if st is not None and st.patrols_this_run >= days and not st.patrolling and patrol_end_ns is None:
            patrol_end_ns = time_to_ns(st.header.stamp)
        if patrol_end_ns is not None and snap.progress is not None:
            # memory has acknowledged (durably stored) input up to the end of the last patrol
            if time_to_ns(snap.progress.ingested_through) >= patrol_end_ns - 2_000_000_000:
                log(progress_line(snap, days))
                return
        if now > deadline:
            raise TimeoutError(f"{days} day(s) not done within {timeout_s:.0f} s: {progress_line(snap, days)}")


@dataclass
class Question:
    text: str
    budget_m: float
    active: bool
    purpose: str


def _vocab():
    from memory_nodes.vocab import Vocabulary
    return Vocabulary()


def is_furniture(vocab, label: str) -> bool:
    return vocab.category(vocab.canonical(label)) in ("furniture", "appliance", "fixture", "structure")


def choose_questions(snap: Snapshot, budget_m: float, vocab=None) -> List[Question]:
    """Questions a person living there might ask, picked from what the robot has (and has not) seen."""
    from memory_nodes.ros.conversions.viz import remembered_objects_from_msg
    vocab = vocab or _vocab()
    objs = [o for o in (remembered_objects_from_msg(snap.graph) if snap.graph is not None else [])
            if not is_furniture(vocab, o.label)]
    by_class: Dict[str, list] = {}
    for o in objs:
        by_class.setdefault(vocab.canonical(o.label), []).append(o)
    singles = {c: v[0] for c, v in by_class.items() if len(v) == 1}
    qs: List[Question] = []
    newest = max((o.last_seen_ns for o in objs), default=0)
    fresh = sorted((c for c, o in singles.items() if newest - o.last_seen_ns < 3_600_000_000_000),
                   key=lambda c: (-singles[c].p_still_there, c))
    if fresh:
        qs.append(Question(f"Where is the {fresh[0]}?", 0.0, False, "answered from memory alone"))
    # in the house but never seen (the simulator's class table: small objects have instance ids >= 1000)
    world = sorted({vocab.canonical(c) for i, c in zip(snap.class_table.instance_ids, snap.class_table.class_names)
                    if i >= 1000} if snap.class_table is not None else set())
    unseen = [c for c in world if c not in by_class and not is_furniture(vocab, c)]
    stale = sorted((c for c in singles if singles[c].p_still_there < 0.5), key=lambda c: (singles[c].p_still_there, c))
    if stale:
        qs.append(Question(f"Where is the {stale[0]} now?", budget_m, True, "needs exploring: memory is stale"))
    elif unseen:
        qs.append(Question(f"Can you find the {unseen[len(unseen) // 2]}?", budget_m, True,
                           "needs exploring: never seen yet"))
    hour = 3_600_000_000_000
    older = sorted(c for c, o in singles.items() if 12 * hour <= newest - o.last_seen_ns <= 36 * hour)  # yesterday
    if older:
        qs.append(Question(f"Where was the {older[0]} yesterday?", 0.0, False, "about the past"))
    elif fresh:
        qs.append(Question(f"When did you last see the {fresh[-1]}?", 0.0, False, "about the past"))
    qs.append(Question("Is the stove turned on?", 0.0, False, "out of scope"))
    return qs


def ask_all(questions: Sequence[Question], monitor: DemoMonitor, client, timeout_s: float,
            keyframe_dir: Optional[str]) -> List[Tuple[Question, object, List[Tuple[float, float]]]]:
    from memory_nodes.ros.ask_client import format_outcome
    results = []
    for q in questions:
        log(f"asking ({q.purpose}; budget {q.budget_m:.0f} m, {'AskActive action' if q.active else 'Ask service'})")
        monitor.snap.odom_xy = []
        monitor.snap.recording = True
        if q.active:
            o = _spin_while(monitor, lambda q=q: client.ask_active(q.text, q.budget_m, timeout_s))
        else:
            o = _spin_while(monitor, lambda q=q: client.ask(q.text, q.budget_m, timeout_s))
        monitor.snap.recording = False
        monitor.spin_for(0.2)
        print(format_outcome(o, keyframe_dir), flush=True)
        results.append((q, o, list(monitor.snap.odom_xy)))
    return results


def _spin_while(monitor: DemoMonitor, call):
    """Run a blocking client call in a thread while the monitor keeps recording odometry."""
    import threading
    box: Dict[str, object] = {}

    def run():
        try:
            box["value"] = call()
        except Exception as e:  # noqa: BLE001 - reported to the caller below
            box["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    while t.is_alive():
        monitor.spin_for(0.05)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]


def draw_memory(snap: Snapshot, results, out: Path) -> Path:
    from memory_nodes.ros.conversions.perception import place_graph_from_msg, rooms_from_msg
    from memory_nodes.ros.conversions.viz import remembered_objects_from_msg
    from memory_nodes.viz.memory_map import MapPicture, render_memory_map, routes_from_poses
    vocab = _vocab()
    pic = MapPicture(rooms=rooms_from_msg(snap.rooms) if snap.rooms is not None else None,
                     places=place_graph_from_msg(snap.places) if snap.places is not None else None,
                     objects=(remembered_objects_from_msg(snap.graph, lambda c: is_furniture(vocab, c))
                              if snap.graph is not None else []),
                     routes=[routes_from_poses(q.text, xy) for q, o, xy in results if q.active and len(xy) > 1],
                     title=(f"Memory after {snap.status.description}" if snap.status is not None else "Memory"))
    return render_memory_map(pic, out)


def run(args) -> int:
    t0 = time.monotonic()
    data_dir = Path(args.data_dir).resolve()
    if args.fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    resumed = (data_dir / "sim_state.json").exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    params = write_demo_params(data_dir / "demo_params.yaml", args.days, args.camera_rate_hz, args.patrol_coverage)
    log(("continuing the stored run in " if resumed else "new run in ") + str(data_dir))
    stack = Stack.from_file(LAUNCH_FILE, {"data_dir": str(data_dir), "params_file": str(params),
                                          "namespace": args.namespace},
                            echo=args.verbose, log_dir=data_dir / "logs")
    import rclpy

    from memory_nodes.ros import compat
    from memory_nodes.ros.ask_client import AskClient
    compat.init()
    monitor = client = None
    rc = 1
    try:
        stack.start()
        log(f"started {', '.join(stack.procs)} (logs: {data_dir / 'logs'})")
        monitor = DemoMonitor(namespace=args.namespace)
        live_days(monitor, stack, args.days, timeout_s=args.days_timeout_s)
        monitor.spin_for(1.0)
        client = AskClient(args.namespace)
        if not client.wait_ready(60.0, active=True):
            raise RuntimeError("the planner's ask service / ask_active action did not come up")
        questions = choose_questions(monitor.snap, args.budget_m)
        kf_dir = str(data_dir / "memory.db.keyframes")
        results = ask_all(questions, monitor, client, args.question_timeout_s, kf_dir)
        monitor.spin_for(2.5)   # the scene graph is republished after the looks
        png = draw_memory(monitor.snap, results, data_dir / "memory_map.png")
        log(f"picture of the memory: {png}")
        log(f"memory store: {data_dir / 'memory.db'}; keyframes: {kf_dir}; ground truth: "
            f"{data_dir / 'ground_truth.jsonl'}")
        log(f"done in {time.monotonic() - t0:.0f} s; run it again to continue at the next day "
            f"(or --fresh to start over)")
        rc = 0
    except (RuntimeError, TimeoutError) as e:
        log(f"FAILED: {e}")
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        if client is not None:
            client.close()
        if monitor is not None:
            monitor.close()
        rclpy.try_shutdown()
        codes = stack.stop()
        crashed = {n: c for n, c in codes.items() if c not in (0, None) and c > 0}
        if crashed:
            log(f"nodes that exited with an error: {crashed} (see {data_dir / 'logs'})")
    return rc


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=3, help="simulated days to live before the questions")
    ap.add_argument("--data-dir", default=str(REPO_ROOT / "data" / "demo"))
    ap.add_argument("--fresh", action="store_true", help="delete the stored run first")
    ap.add_argument("--budget-m", type=float, default=60.0, help="metres the robot may drive for the active question")
    ap.add_argument("--camera-rate-hz", type=float, default=None, help="override config/sim.yaml (default 5 Hz)")
    ap.add_argument("--patrol-coverage", type=float, default=None, help="override the patrol's floor coverage")
    ap.add_argument("--namespace", default="")
    ap.add_argument("--days-timeout-s", type=float, default=480.0)
    ap.add_argument("--question-timeout-s", type=float, default=120.0)
    ap.add_argument("--verbose", action="store_true", help="show every node's log lines")
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
