"""One small LA-EQA scenario through the full ROS 2 stack, checked against the pure core.

    python -m bench.laeqa.ros_check [--seed N] [--questions K] [--json PATH] [--keep DIR]

1. The whole stack (launch/memory_stack.launch.yaml: simulator in lockstep, perception, memory, planner,
   lifecycle manager) runs one patrol day of home ``seed`` (rendered frames, perception's noisy oracle).
2. When the patrol is over and memory has ingested its last frame, the simulator is stopped (sim time
   freezes) and K benchmark questions (dev pool, memory-only: budget 0) go through the planner's Ask service.
3. The memory node's store is then opened in-process (``MemoryCore.open`` on a copy) and the pure-core
   planner answers the same questions at the same time.
4. The two must give the same answers: status, kind, and the answer itself (room / place / count / yes-no
   / time / items); probabilities are compared with a tolerance.

Memory-only questions make the comparison exact (exploring through NavigateToPose is exercised by the
planner's and the simulator's own ROS tests). Prints a table; exit code 1 when answers differ.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from .config import REPO_ROOT, load_laeqa_config

LAUNCH = REPO_ROOT / "launch" / "memory_stack.launch.yaml"


def _wait(pred, timeout_s: float, spin, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return
        spin()
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _questions(seed: int, n: int, vocab, camera_rate_hz: float, coverage: float) -> List[str]:
    """Benchmark questions (dev pool) about the same one-day home and patrol, asked a minute after the
    patrol; deterministic for the seed."""
    from sim.config import load_sim_config

    from .home import build_home
    from .phrasing import load_pool
    from .questions import generate
    cfg = load_laeqa_config()
    cfg.generator.test_pool_fraction = 0.0
    cfg.generator.typo_rate = 0.0
    sim_cfg = load_sim_config()
    sim_cfg.camera.rate_hz = camera_rate_hz
    sim_cfg.patrol.coverage_fraction = coverage
    home = build_home(seed, 1, sim_cfg, cfg.observation, vocab.canonical)
    cfg.generator.ask_hours = [home.truth.calendar.time_of_day_s(home.last_patrol_end_ns + 60 * 10**9) / 3600.0]
    weights = {"present": 0.45, "past": 0.3, "multi_past": 0.0, "past_present": 0.1, "past_present_future": 0.0,
               "out_of_scope": 0.15}
    cfg.generator.category_weights = weights
    pools = {"dev": load_pool("dev"), "test": load_pool("test")}
    h = 3_600_000_000_000
    qs = generate(home.truth, n, 0, home.first_patrol_ns, pools, cfg.generator,
                  {"last_seen": h // 2, "since": h, "forecast": 3 * h}, seed,
                  last_patrol_end_ns=home.last_patrol_end_ns)
    return [q.text for q in qs]


def _answer_key(status: str, kind: str, room_id: int, place_id: int, count: int, yes_no: str, time_ns: int,
                best_guess: str) -> Dict[str, Any]:
    return {"status": status, "query_kind": kind, "room_id": room_id, "place_id": place_id, "count": count,
            "yes_no": yes_no, "time_ns": time_ns, "best_guess": best_guess}


def run(seed: int, n_questions: int, keep: Optional[Path], domain_id: int, timeout_s: float,
        camera_rate_hz: float = 1.0, coverage: float = 0.35) -> Dict[str, Any]:
    env = dict(os.environ)                   # the stack's processes join this domain; ours is set in rclpy.init
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env.setdefault("ROS_LOCALHOST_ONLY", "1")
    from memory_nodes.vocab.vocabulary import default_vocabulary
    vocab = default_vocabulary()
    texts = _questions(seed, n_questions, vocab, camera_rate_hz, coverage)

    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="laeqa_ros_"))
    work.mkdir(parents=True, exist_ok=True)
    data_dir = work / "data"
    data_dir.mkdir(exist_ok=True)
    overrides = {   # a small scenario: a short patrol at a reduced camera rate
        "sim": {"ros__parameters": {"world": {"seed": int(seed)}, "camera": {"rate_hz": float(camera_rate_hz)},
                                    "patrol": {"coverage_fraction": float(coverage)},
                                    "node": {"lockstep": True, "real_time_factor": 0.0, "max_days": 1,
                                             "start_day": 0, "frame_ack_timeout_s": 10.0}}},
        "perception": {"ros__parameters": {"sync": {"reliable": True}}},
    }
    params_file = work / "overrides.yaml"
    params_file.write_text(yaml.safe_dump(overrides))

    import rclpy
    from memory_interfaces.msg import IngestProgress, SimStatus
    from memory_interfaces.srv import Ask
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock

    from memory_nodes.ros.conversions.basic import time_to_ns
    from memory_nodes.ros.launcher import Stack

    stack = Stack.from_file(LAUNCH, {"data_dir": str(data_dir), "params_file": str(params_file),
                                     "config_dir": str(REPO_ROOT / "config")},
                            env=env, out=open(work / "stack.log", "w"))
    out: Dict[str, Any] = {"seed": seed, "questions": len(texts), "work_dir": str(work)}
    ctx = rclpy.context.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    node = rclpy.create_node("laeqa_ros_check", context=ctx)
    from rclpy.executors import SingleThreadedExecutor
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)

    def spin():
        ex.spin_once(timeout_sec=0.05)

    st: Dict[str, Any] = {"status": None, "ingested": -1, "clock": 0}
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_subscription(SimStatus, "sim/status", lambda m: st.__setitem__("status", m), latched)
    node.create_subscription(IngestProgress, "memory/ingested_through",
                             lambda m: st.__setitem__("ingested", time_to_ns(m.ingested_through)), 10)
    node.create_subscription(Clock, "/clock", lambda m: st.__setitem__("clock", time_to_ns(m.clock)), 10)
    ask = node.create_client(Ask, "ask")
    t0 = time.monotonic()
    try:
        stack.start()
        _wait(lambda: st["status"] is not None and st["status"].patrols_this_run >= 1
              and not st["status"].patrolling, timeout_s, spin, "the patrol to finish")
        out["patrol_wall_s"] = round(time.monotonic() - t0, 1)
        out["frames_published"] = int(st["status"].frames_published)
        # stop the simulator: sim time freezes, every node's clock stays at the last /clock
        sim = stack.procs.get("sim")
        if sim is not None and sim.poll() is None:
            os.killpg(sim.pid, signal.SIGINT)
            sim.wait(timeout=20)
        for _ in range(20):
            spin()
        _wait(lambda: st["ingested"] > 0, 60.0, spin, "memory/ingested_through")
        stable = {"v": -1, "since": time.monotonic()}

        def settled() -> bool:             # nothing new ingested for 3 s: perception's backlog is in memory
            if st["ingested"] != stable["v"]:
                stable["v"], stable["since"] = st["ingested"], time.monotonic()
            return time.monotonic() - stable["since"] > 3.0
        _wait(settled, 120.0, spin, "memory to finish ingesting")
        out["ingested_through_ns"] = st["ingested"]
        out["now_ns"] = now = st["clock"]
        _wait(lambda: ask.service_is_ready(), 60.0, spin, "the ask service")
        ros_answers = []
        for text in texts:
            req = Ask.Request(question=text, budget_m=0.0, timeout_s=20.0)
            fut = ask.call_async(req)
            _wait(lambda fut=fut: fut.done(), 60.0, spin, f"an answer to {text!r}")   # waits here; bound for B023
            r = fut.result()
            ros_answers.append({"question": text, "probability": float(r.probability), **_answer_key(
                {0: "ANSWERED", 1: "NOT_SURE", 2: "CANNOT_PARSE"}[int(r.status)], r.query_kind, int(r.room_id),
                int(r.place_id), int(r.count), {0: "", 1: "yes", 2: "no"}[int(r.yes_no)], time_to_ns(r.time),
                r.best_guess)})
    finally:
        stack.stop()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
    out["stack_wall_s"] = round(time.monotonic() - t0, 1)
    # the same questions through the pure core over a copy of the memory node's store
    from memory_nodes.memory import MemoryCore
    from memory_nodes.planner.planner import Planner

    from .run import load_stack_configs
    planner_cfg, memory_cfg, _ = load_stack_configs()
    store = next(data_dir.rglob("memory.db"), None)
    if store is None:
        raise FileNotFoundError(f"no memory.db under {data_dir}")
    copy = work / "copy" / "memory.db"
    copy.parent.mkdir(exist_ok=True)
    for f in store.parent.glob(store.name + "*"):
        if f.is_file():
            shutil.copy2(f, copy.parent / f.name)
    mem = MemoryCore.open(str(copy), memory_cfg, vocab)
    # the same confidence calibration the planner node applies (launch argument calibration_file)
    from memory_nodes.planner.calibration import load_calibrator
    calibrator = load_calibrator(str(REPO_ROOT / "config" / "planner_calibration.json"))
    planner = Planner(planner_cfg, mem, None, vocab, calibrator=calibrator)
    rows = []
    same = 0
    for ra in ros_answers:
        a = planner.answer(ra["question"], now, budget_m=0.0)
        core = _answer_key(a.status, a.query_kind, a.room_id, a.place_id, a.count,
                           "" if a.yes_no is None else ("yes" if a.yes_no else "no"), int(a.time_ns or 0), a.best_guess)
        diff = [k for k in core if core[k] != ra[k]]
        if abs(float(a.probability) - ra["probability"]) > 0.02:
            diff.append("probability")
        same += not diff
        rows.append({"question": ra["question"], "ros": ra, "core": {**core, "probability": float(a.probability)},
                     "differs": diff})
    mem.close()
    out["same_answers"] = same
    out["rows"] = rows
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.laeqa.ros_check", description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--questions", type=int, default=12)
    ap.add_argument("--json", type=str)
    ap.add_argument("--keep", type=Path, help="keep the run's files (logs, store) here")
    ap.add_argument("--domain-id", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "87") or 87))
    ap.add_argument("--timeout", type=float, default=900.0, help="wall seconds for the patrol")
    ap.add_argument("--camera-rate", type=float, default=1.0, help="Hz (fewer frames than the 5 Hz default)")
    ap.add_argument("--coverage", type=float, default=0.35, help="share of the home the patrol visits")
    args = ap.parse_args(argv)
    out = run(args.seed, args.questions, args.keep, args.domain_id, args.timeout, args.camera_rate, args.coverage)
    print(f"ROS 2 stack vs pure core, home {out['seed']}: {out['same_answers']}/{out['questions']} same answers "
          f"(patrol {out.get('patrol_wall_s')} s wall, {out.get('frames_published')} frames)")
    print("| question | ROS | core | differs |")
    print("|---|---|---|---|")
    def fmt(a: Dict[str, Any]) -> str:
        return f"{a['status']} {a['query_kind']} {a['best_guess'][:40]!r} p={a['probability']:.2f}"

    for r in out["rows"]:
        print(f"| {r['question']} | {fmt(r['ros'])} | {fmt(r['core'])} | {', '.join(r['differs']) or '-'} |")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 0 if out["same_answers"] == out["questions"] else 1


if __name__ == "__main__":
    sys.exit(main())
