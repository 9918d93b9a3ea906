"""``memory-stack record``: topics of a live run -> a rosbag2 bag (MCAP by default), as ``ros2 bag record``.

    memory-stack record [--out BAG_DIR] [--topics T ...] [--add T ...] [--duration S] [--namespace NS]
                        [--storage mcap|sqlite3] [--wait S]

Default topics: the camera triple (camera/color/image_raw, camera/depth/image_raw, camera/color/camera_info
under the namespace), /tf, /tf_static and odom (under the namespace); ``--topics`` replaces them, ``--add``
adds to them. Subscriptions are raw (nothing is decoded); each topic's type comes from the graph
(``get_topic_names_and_types``): the recorder waits up to ``--wait`` s for the topics to appear and keeps
looking for late ones while it records. QoS follows the publishers: RELIABLE where every publisher offers it
(else best effort), TRANSIENT_LOCAL where every publisher offers it (/tf_static always): such a topic is
written as latched, so ``ros2 bag play`` and ``memory-stack replay`` latch it again. The MCAP schemas carry
the message definitions: the typestore's for standard types, the .msg file from the package's share folder
(ament_index_python) for others; a type with neither is skipped with a warning.

Log times are the system clock at reception (ros2 bag record's default). Stops on Ctrl-C / SIGTERM or
after ``--duration`` s, closing the bag (metadata.yaml, version 8: ``ros2 bag info`` reads it). Prints the
messages per topic. Default out: rosbag2_YYYY_MM_DD-HH_MM_SS. Exit 0, 2 on bad arguments (out exists, ...),
1 when no topic was found.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from memory_nodes.bags.rosbag2 import BagError, BagWriter

PROG = "memory-stack record"
DEFAULT_TOPICS = ("camera/color/image_raw", "camera/depth/image_raw", "camera/color/camera_info", "/tf",
                  "/tf_static", "odom")
ALWAYS_LATCHED = ("/tf_static",)


def resolve(topic: str, namespace: str) -> str:
    """A relative name under ``namespace`` (as a node in that namespace resolves it); absolute ones as given."""
    if topic.startswith("/"):
        return topic
    ns = "/" + namespace.strip("/") if namespace.strip("/") else ""
    return f"{ns}/{topic}"


def msg_definition(msgtype: str) -> Optional[str]:
    """The .msg text of ``pkg/msg/Name`` from the package's share folder (None when not installed)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        pkg, kind, name = msgtype.split("/")
        path = Path(get_package_share_directory(pkg)) / kind / f"{name}.{kind}"
        return path.read_text() if path.is_file() else None
    except Exception:  # noqa: BLE001 - not installed / not an ament package: the caller skips the topic
        return None


def default_out() -> str:
    return time.strftime("rosbag2_%Y_%m_%d-%H_%M_%S")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0].replace("``", ""))
    ap.add_argument("--out", "-o", default=None, help="bag folder to create (default rosbag2_YYYY_MM_DD-HH_MM_SS)")
    ap.add_argument("--topics", nargs="+", default=None, help="record these topics instead of the defaults")
    ap.add_argument("--add", nargs="+", default=[], help="record these topics as well")
    ap.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    ap.add_argument("--namespace", default="", help="namespace of the relative topic names")
    ap.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    ap.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the topics to appear")
    return ap.parse_args(argv)


class Recorder:
    """Raw subscriptions into a BagWriter; ``poll()`` subscribes topics as they appear on the graph."""

    def __init__(self, node, writer: BagWriter, topics: Sequence[str], report):
        self.node = node
        self.writer = writer
        self.wanted = list(dict.fromkeys(topics))
        self.subs: Dict[str, Any] = {}
        self.skipped: Dict[str, str] = {}
        self.report = report               # (text) -> None: a topic that cannot be recorded

    def poll(self) -> None:
        graph = dict(self.node.get_topic_names_and_types())
        for topic in self.wanted:
            if topic in self.subs or topic in self.skipped or topic not in graph:
                continue
            types = graph[topic]
            if len(types) != 1:
                self.skipped[topic] = f"more than one type on the graph ({', '.join(types)})"
                self.report(f"skipping {topic}: {self.skipped[topic]}")
                continue
            self._subscribe(topic, types[0])

    def _subscribe(self, topic: str, msgtype: str) -> None:
        from .bag_player import PlayerError, message_class
        try:
            cls = message_class(msgtype)
        except PlayerError as e:
            self.skipped[topic] = str(e)
            self.report(f"skipping {topic}: {e}")
            return
        qos, latched = self._qos(topic)
        try:
            self.writer.add_topic(topic, msgtype, latched=latched,
                                  msgdef=None if msgtype in self.writer.typestore.types else msg_definition(msgtype))
        except Exception as e:  # noqa: BLE001 - an unknown type or a definition rosbags cannot parse
            self.skipped[topic] = f"no message definition for {msgtype} ({e})"
            self.report(f"skipping {topic}: {self.skipped[topic]}")
            return
        self.subs[topic] = self.node.create_subscription(
            cls, topic, lambda data, topic=topic: self.writer.write(topic, time.time_ns(), data), qos, raw=True)

    def _qos(self, topic: str):
        """RELIABLE / TRANSIENT_LOCAL where every publisher offers it (rosbag2's adaptation); depth 100."""
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        infos = self.node.get_publishers_info_by_topic(topic)
        profiles = [i.qos_profile for i in infos]
        reliable = bool(profiles) and all(p.reliability == ReliabilityPolicy.RELIABLE for p in profiles)
        latched = topic in ALWAYS_LATCHED or (bool(profiles) and all(
            p.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in profiles))
        qos = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)
        return qos, latched


def main(argv: Optional[Sequence[str]] = None) -> int:
    a = parse_args(argv)
    out = Path(a.out or default_out())
    topics = [resolve(t, a.namespace) for t in (a.topics or list(DEFAULT_TOPICS)) + list(a.add)]
    if out.exists():
        print(f"{PROG}: {out} exists (a bag is written into a new folder)", file=sys.stderr)
        return 2
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from . import compat
    from .bag_player import use_large_shm_profile
    use_large_shm_profile()
    stop = {"why": ""}

    def on_signal(signum, frame) -> None:
        stop["why"] = signal.Signals(signum).name

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    ctx = rclpy.context.Context()
    compat.init(context=ctx, signals="none")       # Ctrl-C / SIGTERM are ours (on_signal): the bag is closed
    node = rclpy.create_node("memory_stack_record", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    try:
        writer = BagWriter(out, storage=a.storage)
    except BagError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
        return 2
    rec = Recorder(node, writer, topics, lambda s: print(f"{PROG}: {s}", file=sys.stderr))
    print(f"{PROG}: recording {', '.join(topics)} into {out} ({a.storage}); Ctrl-C stops", file=sys.stderr)
    t0 = time.monotonic()
    last_poll = -1.0
    warned = False
    try:
        while not stop["why"]:
            now = time.monotonic()
            if a.duration is not None and now - t0 >= a.duration:
                break
            if now - last_poll > 0.5:
                rec.poll()
                last_poll = now
                missing = [t for t in topics if t not in rec.subs and t not in rec.skipped]
                if missing and not warned and now - t0 > a.wait:
                    print(f"{PROG}: not on the graph after {a.wait:.0f} s: {', '.join(missing)} (still looking)",
                          file=sys.stderr)
                    warned = True
            ex.spin_once(timeout_sec=0.05)
        for _ in range(20):          # what is already delivered goes in the bag too
            ex.spin_once(timeout_sec=0.0)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for sub in list(rec.subs.values()):
            node.destroy_subscription(sub)
        writer.close()
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
    counts = writer.counts
    print(f"{PROG}: {out} ({a.storage}), {time.monotonic() - t0:.1f} s, {sum(counts.values())} messages"
          + (f" (stopped by {stop['why']})" if stop["why"] else ""))
    for t in topics:
        if t in counts:
            print(f"  {t}: {counts[t]}")
        else:
            print(f"  {t}: not recorded ({rec.skipped.get(t, 'never on the graph')})")
    return 0 if rec.subs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
