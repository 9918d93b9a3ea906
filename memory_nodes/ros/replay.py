"""``memory-stack replay BAG_DIR``: the stack's own nodes over a rosbag2 bag -> a memory store.

    memory-stack replay BAG [--lockstep | --rate R] [--data-dir DIR] [--topics T ...] [--params-file F]
                            [--namespace NS] [--start S] [--duration S] [--color T] [--depth T] [--camera-info T]

Starts perception, memory (+ its lifecycle manager) and the planner from launch/memory_stack.launch.yaml with
with_sim:=false detector:=onnx use_sim_time:=true data_dir:=DIR (default ``data``), then plays the bag onto the
graph as ``ros2 bag play --clock`` would: raw CDR on the bag's topics, the camera streams on perception's
inputs (camera/color/image_raw, camera/depth/image_raw, camera/color/camera_info under the namespace; chosen
by type and name: an Image topic with "depth" in its name is depth, another Image colour, the CameraInfo
beside the colour; --color/--depth/--camera-info override), /tf_static first (TRANSIENT_LOCAL), /tf, and
/clock = bag time.

--lockstep (deterministic): one frame set at a time (its tf, /clock at its stamp, colour, depth, info), then
wait for perception's ack of that stamp and, when perception accepted it, for memory/ingested_through to
reach it (memory commits every frame here). Two runs over one bag leave the same store.
--rate R (default 1.0): messages at bag time / R with no waiting; frames perception cannot keep up with are
dropped, as on a robot.

The nodes' output goes to DIR/replay_logs/stack.log (prefixed [node]), never the terminal; progress on
stderr, the summary on stdout. Exit 0 done, 2 bad input (not a bag, no image topics, no tf for the camera
frame), 1 a node failed or a wait timed out, 130 interrupted (Ctrl-C / SIGTERM: the stack is stopped and
memory commits its store either way).
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import struct
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Deque, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from memory_nodes.bags.rosbag2 import BagError, BagMessage, open_bag

from .bag_player import FrameSet, PlayerError, find_store, merged_params_file, store_counts

PROG = "memory-stack replay"
IMAGE, INFO_T, TF_T = "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo", "tf2_msgs/msg/TFMessage"
SLOP_NS = 20_000_000          # colour / depth / info of one frame: stamps this close (perception's sync.slop_s)


class UsageError(Exception):
    """Bad input: one line for the user, exit 2."""


# ------------------------------------------------------------------------------------------ the bag
def header_of(data: bytes) -> Tuple[int, str]:
    """(stamp ns, frame_id) of a CDR message that starts with std_msgs/Header (Image, CameraInfo, ...)."""
    e = "<" if data[1] == 1 else ">"
    sec, nsec, n = struct.unpack_from(e + "iII", data, 4)
    return sec * 1_000_000_000 + nsec, data[16:16 + max(0, n - 1)].decode("utf-8", "replace")


@dataclass
class Selection:
    color: str
    depth: str
    info: str
    tf: List[str]                 # /tf (dynamic)
    tf_static: List[str]
    others: List[str]             # played as recorded
    latched: Dict[str, bool] = field(default_factory=dict)
    types: Dict[str, str] = field(default_factory=dict)

    @property
    def played(self) -> List[str]:
        return [self.color, self.depth, self.info, *self.tf, *self.others]


def select_topics(topics: Dict[str, Any], only: Optional[Sequence[str]] = None, color: Optional[str] = None,
                  depth: Optional[str] = None, info: Optional[str] = None) -> Selection:
    """The camera triple, tf and the rest of the bag's topics (UsageError when there is no camera)."""
    names = [t for t in topics if only is None or t in only or t.lstrip("/") in [o.lstrip("/") for o in only]]
    if only is not None:
        unknown = [o for o in only if o not in topics and "/" + o.lstrip("/") not in topics]
        if unknown:
            raise UsageError(f"--topics: not in the bag: {', '.join(unknown)} (it has {', '.join(sorted(topics))})")
    images = [t for t in names if topics[t].msgtype == IMAGE]
    infos = [t for t in names if topics[t].msgtype == INFO_T]
    for flag, value, typ in (("--color", color, IMAGE), ("--depth", depth, IMAGE), ("--camera-info", info, INFO_T)):
        if value is not None and (value not in topics or topics[value].msgtype != typ):
            raise UsageError(f"{flag} {value}: no {typ} topic of that name in the bag")
    depth = depth or next((t for t in images if "depth" in t.lower()), None)
    colors = [t for t in images if t != depth and "depth" not in t.lower()]
    color = color or next((t for t in colors if re.search(r"colou?r|rgb", t.lower())), colors[0] if colors else None)
    if not color or not depth:
        raise UsageError(f"no {'colour' if not color else 'depth'} image topic among "
                         f"{', '.join(images) or 'the bag topics (no sensor_msgs/msg/Image at all)'} "
                         "(a depth topic has 'depth' in its name; or name them with --color / --depth)")
    if info is None:
        parent = color.rsplit("/", 1)[0]
        info = next((t for t in infos if t.rsplit("/", 1)[0] == parent),
                    next((t for t in infos if "depth" not in t.lower()), infos[0] if infos else None))
    if not info:
        raise UsageError(f"no sensor_msgs/msg/CameraInfo topic in the bag for {color} (name one with --camera-info)")
    tf = [t for t in names if topics[t].msgtype == TF_T and t != "/tf_static" and not topics[t].latched]
    tf_static = [t for t in names if topics[t].msgtype == TF_T and t not in tf]
    camera = {color, depth, info}
    others = [t for t in names if t not in camera and t not in tf and t not in tf_static and t != "/clock"]
    return Selection(color, depth, info, tf, tf_static, others,
                     {t: topics[t].latched for t in topics}, {t: topics[t].msgtype for t in topics})


def tf_frames(bag, data: bytes) -> List[Tuple[str, str]]:
    msg = bag.typestore.deserialize_cdr(data, TF_T)
    return [(t.header.frame_id, t.child_frame_id) for t in msg.transforms]


def check_camera_tf(bag, sel: Selection, camera_frame: str = "", map_frame: str = "map",
                    probe_s: float = 5.0) -> str:
    """The colour images' frame must be reachable from ``map_frame`` in the bag's tf (read in its first
    ``probe_s`` of bag time). Returns the camera frame; UsageError if not."""
    edges: Dict[str, str] = {}       # child -> parent
    frame = camera_frame
    t0 = None
    for m in bag.messages(topics=[sel.color, *sel.tf, *sel.tf_static]):
        t0 = m.log_time_ns if t0 is None else t0
        if m.topic == sel.color:
            frame = frame or header_of(m.data)[1]
        else:
            for parent, child in tf_frames(bag, m.data):
                edges[child] = parent
        if frame and _reaches(edges, frame, map_frame):
            return frame
        if m.log_time_ns - t0 > probe_s * 1e9:
            break
    if not frame:
        raise UsageError(f"the images on {sel.color} have no frame_id (set frames.camera_frame with --params-file)")
    tops = ", ".join(sel.tf + sel.tf_static) or "no tf topic at all"
    raise UsageError(f"no tf from {map_frame} to the camera frame {frame!r} in the bag's first {probe_s:.0f} s "
                     f"({tops}; known frames: {', '.join(sorted(set(edges) | set(edges.values()))) or 'none'})")


def _reaches(edges: Dict[str, str], frame: str, root: str) -> bool:
    seen = set()
    while frame != root:
        if frame in seen or frame not in edges:
            return False
        seen.add(frame)
        frame = edges[frame]
    return True


Item = Union[FrameSet, BagMessage]


def frame_sets(bag, sel: Selection, start_ns: int, end_ns: int, unmatched: List[int]) -> Iterator[Item]:
    """The bag in log order as FrameSets (tf logged since the previous set, colour, depth and info with stamps
    within SLOP_NS) and the other topics' BagMessages. Colour images without a partner count in
    ``unmatched[0]``."""
    tf: List[bytes] = []
    queues: Dict[str, Deque[Tuple[int, int, bytes]]] = {sel.color: deque(), sel.depth: deque(), sel.info: deque()}
    for m in bag.messages(topics=sel.played):
        if m.log_time_ns > end_ns:
            break
        if m.topic in sel.tf:
            tf.append(m.data)
            if m.log_time_ns < start_ns:
                del tf[:-50]            # before --start: only the latest transforms matter
            continue
        if m.log_time_ns < start_ns:
            continue
        if m.topic not in queues:
            yield m
            continue
        queues[m.topic].append((header_of(m.data)[0], m.log_time_ns, m.data))
        while queues[sel.color]:
            c = queues[sel.color][0]
            parts = [_partner(queues[t], c[0]) for t in (sel.depth, sel.info)]
            if all(p is not None and p is not False for p in parts):
                queues[sel.color].popleft()
                d, i = (queues[t].popleft()[2] for t in (sel.depth, sel.info))
                yield FrameSet(c[0], c[2], d, i, tf=tf, log_time_ns=c[1])
                tf = []
            elif any(p is False for p in parts):          # its partner can no longer come
                queues[sel.color].popleft()
                unmatched[0] += 1
            else:
                break
    unmatched[0] += len(queues[sel.color])


def _partner(q: Deque[Tuple[int, int, bytes]], stamp: int):
    """True when the head of ``q`` (older ones dropped) is within SLOP_NS of ``stamp``, None if it may still
    come, False if the queue has moved past it."""
    while q and q[0][0] < stamp - SLOP_NS:
        q.popleft()
    if q and abs(q[0][0] - stamp) <= SLOP_NS:
        return True
    return False if q else None


# ------------------------------------------------------------------------------------------ progress
class Progress:
    """frames done/total, bag time, frames/s, ETA on stderr (tqdm when installed, else one \\r line)."""

    def __init__(self, total: int, enabled: bool = True):
        self.total = max(1, total)
        self.n = 0
        self.t0 = time.monotonic()
        self._bar = None
        self._last = 0.0
        self.enabled = enabled
        if enabled:
            try:
                from tqdm import tqdm
                self._bar = tqdm(total=self.total, unit="frame", file=sys.stderr, dynamic_ncols=True,
                                 desc="replay", leave=True)
            except ImportError:
                self._bar = None

    def update(self, bag_s: float, accepted: int) -> None:
        self.n += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(f"bag {bag_s:.1f} s, accepted {accepted}", refresh=False)
            self._bar.update(1)
            return
        now = time.monotonic()
        if now - self._last < 0.2 and self.n < self.total:
            return
        self._last = now
        rate = self.n / max(1e-6, now - self.t0)
        eta = (self.total - self.n) / rate if rate > 0 else 0.0
        sys.stderr.write(f"\rreplay {self.n}/{self.total} frames, bag {bag_s:.1f} s, {rate:.1f} frames/s, "
                         f"ETA {eta:.0f} s ")
        sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            sys.stderr.write("\n")


# ------------------------------------------------------------------------------------------ command
def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0].replace("``", ""))
    ap.add_argument("bag", metavar="BAG_DIR", help="rosbag2 folder (metadata.yaml + .mcap or .db3)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--lockstep", action="store_true", help="one frame at a time, deterministic")
    mode.add_argument("--rate", type=float, default=None, help="playback rate (default 1.0), no waiting")
    ap.add_argument("--data-dir", default="data", help="folder of the memory store (default: data)")
    ap.add_argument("--topics", nargs="+", default=None, help="play only these bag topics")
    ap.add_argument("--params-file", default=None, help="ROS params file for the nodes (site overrides)")
    ap.add_argument("--namespace", default="", help="the nodes' namespace")
    ap.add_argument("--start", type=float, default=0.0, help="skip this many seconds of the bag")
    ap.add_argument("--duration", type=float, default=None, help="play this many seconds of the bag")
    ap.add_argument("--color", default=None, help="the bag's colour image topic")
    ap.add_argument("--depth", default=None, help="the bag's depth image topic")
    ap.add_argument("--camera-info", default=None, help="the bag's colour camera_info topic")
    ap.add_argument("--domain-id", type=int, default=None,
                    help="ROS_DOMAIN_ID for the nodes and the player (default: $ROS_DOMAIN_ID or 0)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the nodes to come up")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = ap.parse_args(argv)
    if a.rate is not None and a.rate <= 0:
        ap.error("--rate must be > 0")
    return a


@dataclass
class Outcome:
    played: int = 0
    accepted: int = 0
    acked: int = 0
    unmatched: int = 0
    wall_s: float = 0.0
    bag_s: float = 0.0
    interrupted: bool = False


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: Optional[Sequence[str]] = None) -> int:
    a = parse_args(argv)
    try:
        return run(a)
    except UsageError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except BagError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2


def run(a: argparse.Namespace) -> int:
    data_dir = Path(a.data_dir).resolve()
    bag = open_bag(a.bag)
    sel = select_topics(bag.topics, a.topics, a.color, a.depth, a.camera_info)
    params_file = Path(a.params_file).resolve() if a.params_file else None
    if params_file is not None and not params_file.is_file():
        raise UsageError(f"--params-file {a.params_file}: no such file")
    from memory_nodes.common.config import load_node_params
    pp = load_node_params(params_file, "perception") if params_file else {}
    frames = pp.get("frames", {}) if isinstance(pp.get("frames"), dict) else {}
    camera_frame = str(pp.get("frames.camera_frame", frames.get("camera_frame", "")) or "")
    map_frame = str(pp.get("frames.map_frame", frames.get("map_frame", "map")) or "map")
    cam = check_camera_tf(bag, sel, camera_frame, map_frame)
    start_ns = bag.start_ns + int(a.start * 1e9)
    end_ns = bag.end_ns if a.duration is None else start_ns + int(a.duration * 1e9)
    n_color = bag.topics[sel.color].count
    span = max(1, bag.end_ns - bag.start_ns)
    total = n_color if a.start <= 0 and a.duration is None else \
        max(1, round(n_color * (min(end_ns, bag.end_ns) - start_ns) / span))

    logs = data_dir / "replay_logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / "stack.log"
    lockstep = bool(a.lockstep)
    rate = 1.0 if a.rate is None else float(a.rate)
    node_params: Dict[str, Dict[str, Any]] = {
        "perception": {"sync.reliable": True},
        # lockstep: one commit per frame, so memory/ingested_through marks each frame as stored
        "memory": {"store.commit_every_frames": 1} if lockstep else {},
    }
    merged = merged_params_file(logs / "params.yaml", node_params, params_file)
    domain = int(a.domain_id if a.domain_id is not None else os.environ.get("ROS_DOMAIN_ID", "0") or 0)
    from .bag_player import GraphPlayer, launch_stack, stack_env
    env = stack_env(domain)
    out = log_path.open("w")
    stack = launch_stack({"with_sim": "false", "detector": "onnx", "use_sim_time": "true",
                          "data_dir": str(data_dir), "params_file": str(merged), "namespace": a.namespace},
                         env, out)
    old = signal.signal(signal.SIGTERM, _terminate)
    res = Outcome()
    player = None
    rc = 0
    print(f"{PROG}: {bag.path} ({bag.storage}, {n_color} frames on {sel.color} | {sel.depth} | {sel.info}, "
          f"camera frame {cam}); {'lockstep' if lockstep else f'rate {rate:g}'}; nodes' log: {log_path}",
          file=sys.stderr)
    try:
        stack.start()
        player = GraphPlayer(domain, a.namespace, node_name="replay_player", clock=True, log_path=log_path)
        player.wait_ready(stack, a.timeout, clock_until_ns=start_ns - 1)
        statics = [m.data for m in bag.messages(topics=sel.tf_static)] if sel.tf_static else []
        player.publish_static(statics)
        _play(bag, sel, player, stack, start_ns, end_ns, lockstep, rate, total, res, not a.no_progress)
        player.finish(stack, timeout_s=30.0) if lockstep else _drain(player, stack, res)
    except KeyboardInterrupt:
        res.interrupted = True
        rc = 130
    except PlayerError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        rc = 1
    finally:
        signal.signal(signal.SIGTERM, _terminate)     # a second SIGTERM while stopping: still stop cleanly
        try:
            if player is not None:
                res.acked = len(player.acks)
                res.accepted = len(player.accepted)
            stopped = stack.stop()
        except KeyboardInterrupt:
            stopped = stack.stop(timeout_s=3.0)
        finally:
            signal.signal(signal.SIGTERM, old)
            if player is not None:
                player.close()
            out.close()
            bag.close()
    bad = {n: c for n, c in stopped.items() if c not in (0, None, -2, -15, 130, 143)}
    if bad:
        print(f"{PROG}: node(s) ended badly: {bad}; their output: {log_path}", file=sys.stderr)
    print(summary(res, data_dir, log_path, a.namespace, lockstep))
    return rc


def _play(bag, sel: Selection, player, stack, start_ns: int, end_ns: int, lockstep: bool, rate: float,
          total: int, res: Outcome, progress: bool) -> None:
    unmatched = [0]
    bar = Progress(total, progress)
    t_wall0 = time.monotonic()
    last_clock = 0.0
    try:
        for item in frame_sets(bag, sel, start_ns, end_ns, unmatched):
            t = item.log_time_ns
            if not lockstep:           # bag time / rate, /clock ticking while waiting
                while True:
                    now = start_ns + (time.monotonic() - t_wall0) * rate * 1e9
                    if now >= t:
                        break
                    if time.monotonic() - last_clock > 0.02:
                        player.publish_clock(int(now))
                        last_clock = time.monotonic()
                    player.spin(min(0.005, (t - now) / rate / 1e9))
                player.check_stack(stack)
            if isinstance(item, FrameSet):
                if lockstep:
                    player.play_frame(item, stack, wait_ingest=True)
                else:
                    player.publish_frame(item, clock_ns=t)
                    player.spin(0.0)
                res.played += 1
                bar.update((t - start_ns) / 1e9, len(player.accepted))
            else:
                player.publish_raw(item.topic, item.msgtype, item.data, sel.latched.get(item.topic, False))
            res.bag_s = (t - start_ns) / 1e9
    finally:
        bar.close()
        res.unmatched = unmatched[0]
        res.wall_s = time.monotonic() - t_wall0


def _drain(player, stack, res: Outcome, quiet_s: float = 1.5, timeout_s: float = 20.0) -> None:
    """Rate playback is over: let perception finish what it holds (no new ack for ``quiet_s``), keep /clock
    moving so memory's flush timer commits, until memory has ingested the last accepted frame."""
    deadline = time.monotonic() + timeout_s
    last_n, last_change = len(player.acks), time.monotonic()
    clock = max(player.acks | {0})
    while time.monotonic() < deadline:
        player.check_stack(stack)
        if len(player.acks) != last_n:
            last_n, last_change = len(player.acks), time.monotonic()
        clock += 20_000_000
        player.publish_clock(clock)
        player.spin(0.02)
        if (len(player.acks) >= res.played or time.monotonic() - last_change > quiet_s) \
                and player.ingested >= player.last_accepted:
            # the last frames' own messages may still be on their way to this player (another reader than
            # memory's): every acked frame is either a frames message or a rejection, so wait while frames
            # are missing until nothing new has come for quiet_s
            frames_n, frames_change = len(player.accepted), time.monotonic()
            while (len(player.accepted) < len(player.acks) and time.monotonic() - frames_change < quiet_s
                   and time.monotonic() < deadline):
                player.spin(0.02)
                if len(player.accepted) != frames_n:
                    frames_n, frames_change = len(player.accepted), time.monotonic()
            if player.ingested >= player.last_accepted:    # a late frame moved last_accepted: wait for memory
                return


def summary(res: Outcome, data_dir: Path, log_path: Path, namespace: str, lockstep: bool) -> str:
    store = find_store(data_dir)
    lines = [f"{PROG}: {'interrupted after ' if res.interrupted else ''}{res.played} frames played in "
             f"{res.wall_s:.1f} s ({res.played / max(res.wall_s, 1e-6):.1f} frames/s, bag {res.bag_s:.1f} s)"]
    rejected = max(0, res.acked - res.accepted)
    causes = _rejection_causes(log_path)
    lines.append(f"  perception: {res.accepted} accepted, {rejected} rejected"
                 + (f" (causes logged: {', '.join(causes)})" if causes else "")
                 + ("" if lockstep else f", {max(0, res.played - res.acked)} dropped (perception busy)")
                 + (f"; {res.unmatched} colour images without depth/camera_info" if res.unmatched else ""))
    if store is None:
        lines.append(f"  no memory store under {data_dir} (see {log_path})")
        return "\n".join(lines)
    try:
        c = store_counts(store)
        lines.append(f"  store {store}: {c['observations']} observations, {c['views']} views, {c['places']} places, "
                     f"{c['tracks']} tracks, {c['keyframes']} keyframes")
    except Exception as e:  # noqa: BLE001 - the summary still says where the store is
        lines.append(f"  store {store} (not readable now: {e})")
    ns = f" namespace:={namespace}" if namespace else ""
    nsq = f" --namespace {namespace}" if namespace else ""
    lines += [f"  nodes' log: {log_path}",
              "  open it with the normal stack and ask:",
              f"    .venv/bin/memory-stack launch/memory_stack.launch.yaml with_sim:=false data_dir:={data_dir}{ns}",
              f"    .venv/bin/memory-stack ask \"where is the mug?\"{nsq}"]
    return "\n".join(lines)


def _rejection_causes(log_path: Path) -> List[str]:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return []
    return sorted(set(re.findall(r"\[perception\].*rejected frame \(([\w\-]+)\)", text)))


if __name__ == "__main__":
    sys.exit(main())
