"""Playing frames onto the stack's graph: the one player ``memory-stack replay`` and ``bench.realdata --ros``
share.

    stack = launch_stack(data_dir, {"with_sim": "false", ...}, node_params, env, log)   # the launch file's nodes
    player = GraphPlayer(domain_id, namespace)       # an rclpy node of its own (own context) in that domain
    player.wait_ready(stack, timeout_s)              # perception's camera + tf subscriptions, memory's progress
    player.publish_static(tf_static_msgs)            # /tf_static, TRANSIENT_LOCAL, before anything else
    player.play_frame(FrameSet(...), lockstep=True)  # tf, /clock, colour, depth, info; then wait (see below)
    player.finish(last_stamp_ns)                     # memory/ingested_through past the last accepted frame
    stack.stop()                                     # memory commits and closes its store

Messages are rclpy messages or raw CDR bytes (a bag's payload): ``publish`` takes either. Lockstep: after a
frame set the player spins until perception acknowledges its stamp on perception/frame_ack (one per frame,
processed or rejected); ``wait_ingest`` also waits, for an accepted frame (a perception/frames message with
that stamp came), until memory/ingested_through reaches it, so memory has stored frame k before frame k+1
exists (with store.commit_every_frames 1 that is one commit per frame). Without lockstep nothing waits:
frames perception cannot keep up with are dropped in its camera queue, as on a robot.

Counts (``stats``): acks, accepted frames, observations and views perception sent, the latest ingested_through.
Errors: ``PlayerError`` (a wait that timed out, a node that exited: which, its exit code and where its log is).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, TextIO

import yaml

from memory_nodes.common.errors import MemoryStackError

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILE = REPO_ROOT / "launch" / "memory_stack.launch.yaml"
STACK_NODES = ("perception", "memory", "planner", "lifecycle_manager")


class PlayerError(MemoryStackError):
    """A wait that timed out or a node that exited while frames were played."""


@dataclass
class FrameSet:
    """One camera frame as perception takes it: the tf messages logged before it, the images, the info."""
    stamp_ns: int                 # the colour image's header stamp (what perception acknowledges)
    color: Any                    # sensor_msgs/Image (message or CDR bytes)
    depth: Any
    info: Any                     # sensor_msgs/CameraInfo
    tf: List[Any] = field(default_factory=list)          # tf2_msgs/TFMessage on /tf, published first
    log_time_ns: int = 0          # bag time of the colour image (rate playback, /clock)


def merged_params_file(path: Path, node_params: Mapping[str, Mapping[str, Any]],
                       user_file: Optional[Path] = None) -> Path:
    """Write a ROS params file: the user's file (any keying: ``node:``, ``/**/node:``, ``/**:``) for the stack's
    nodes, with ``node_params`` ({node: {dotted or nested parameters}}) on top. Keys ``/**/<node>`` match the
    node in any namespace."""
    from memory_nodes.common.config import flatten, load_node_params
    out: Dict[str, Any] = {}
    for node in sorted(set(STACK_NODES) | set(node_params)):
        values: Dict[str, Any] = {}
        if user_file is not None:
            values.update(flatten(load_node_params(user_file, node)))
        values.update(flatten(dict(node_params.get(node, {}))))
        if values:
            out[f"/**/{node}"] = {"ros__parameters": values}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(out, sort_keys=True))
    return path


def launch_stack(overrides: Mapping[str, str], env: Mapping[str, str], out: TextIO,
                 launch_file: Path = LAUNCH_FILE):
    """The launch file's nodes (not started yet) with ``overrides`` as launch arguments, output to ``out``."""
    from .launcher import Stack
    args = {"config_dir": str(REPO_ROOT / "config"), **dict(overrides)}
    return Stack.from_file(launch_file, args, env=dict(env), out=out)


def stack_env(domain_id: int, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The nodes' environment: the domain, discovery on this machine, one BLAS thread per node."""
    env = dict(os.environ if base is None else base)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env.setdefault("ROS_LOCALHOST_ONLY", "1")
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = "1"
    return env


def use_large_shm_profile() -> None:
    """This process publishes 1.5 MB frame sets: it needs the large shared-memory segment the nodes get from
    the launch file (the default segment cannot hold one and reliable delivery stalls). Before rclpy.init."""
    profile = REPO_ROOT / "config" / "dds" / "fastdds_large_shm.xml"
    if profile.is_file():
        os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(profile))


class GraphPlayer:
    """An rclpy node (own context) that plays frames onto the stack's topics and follows its progress."""

    def __init__(self, domain_id: int, namespace: str = "", node_name: str = "bag_player",
                 clock: bool = False, log_path: Optional[Path] = None):
        import rclpy
        from builtin_interfaces.msg import Time
        from memory_interfaces.msg import FrameObservations, IngestProgress
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import CameraInfo, Image
        from tf2_msgs.msg import TFMessage

        from . import compat
        from .conversions.basic import time_to_ns
        from .perception_node import COLOR, DEPTH, INFO
        from .qos import EVENTS, STREAM, TF, TF_STATIC, camera_qos

        use_large_shm_profile()
        self._rclpy = rclpy
        self._time_to_ns = time_to_ns
        self.log_path = log_path
        self.ctx = rclpy.context.Context()
        compat.init(context=self.ctx, domain_id=int(domain_id), signals="none")   # a guest in its process
        self.node = rclpy.create_node(node_name, namespace=namespace or "", context=self.ctx)
        self.ex = SingleThreadedExecutor(context=self.ctx)
        self.ex.add_node(self.node)
        cam = camera_qos(True)
        self.pub_color = self.node.create_publisher(Image, COLOR, cam)
        self.pub_depth = self.node.create_publisher(Image, DEPTH, cam)
        self.pub_info = self.node.create_publisher(CameraInfo, INFO, cam)
        self.pub_tf = self.node.create_publisher(TFMessage, "/tf", TF)
        self.pub_tf_static = self.node.create_publisher(TFMessage, "/tf_static", TF_STATIC)
        self.pub_clock = None
        if clock:
            from rosgraph_msgs.msg import Clock
            self._Clock = Clock
            self.pub_clock = self.node.create_publisher(Clock, "/clock", EVENTS)
        self._extra: Dict[str, Any] = {}
        self.acks: set = set()
        self.accepted: Dict[int, int] = {}       # stamp -> observations, per perception/frames message
        self.views = 0
        self.ingested = -1
        self.last_accepted = -1
        self.node.create_subscription(Time, "perception/frame_ack",
                                      lambda m: self.acks.add(time_to_ns(m)), EVENTS)
        self.node.create_subscription(FrameObservations, "perception/frames", self._on_frame, STREAM)
        self.node.create_subscription(IngestProgress, "memory/ingested_through", self._on_progress, EVENTS)
        from diagnostic_msgs.msg import DiagnosticArray
        self.perception_readers = -1      # perception's matched readers of perception/frames (its diagnostics)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, EVENTS)

    # -------------------------------------------------------------------------------- graph
    def _on_frame(self, m) -> None:
        t = self._time_to_ns(m.header.stamp)
        self.accepted[t] = len(m.observations)
        self.views += len(m.view)
        self.last_accepted = max(self.last_accepted, t)

    def _on_diagnostics(self, m) -> None:
        ns = self.node.get_namespace().strip("/")
        name = f"{ns}/perception: frames" if ns else "perception: frames"
        for st in m.status:
            if st.name == name:
                for kv in st.values:
                    if kv.key == "frames subscribers":
                        try:
                            self.perception_readers = int(kv.value)
                        except ValueError:
                            pass

    def _on_progress(self, m) -> None:
        self.ingested = max(self.ingested, self._time_to_ns(m.ingested_through))

    def spin(self, timeout_s: float = 0.01) -> None:
        self.ex.spin_once(timeout_sec=timeout_s)

    def wait(self, pred: Callable[[], bool], timeout_s: float, what: str, stack=None,
             tick: Optional[Callable[[], None]] = None) -> None:
        """Spin until ``pred()`` (calling ``tick`` between spins); PlayerError after ``timeout_s`` or when a
        node of ``stack`` exited."""
        deadline = time.monotonic() + timeout_s
        while not pred():
            if stack is not None:
                self.check_stack(stack)
            if time.monotonic() > deadline:
                raise PlayerError(f"timed out after {timeout_s:.0f} s waiting for {what}{self._log_hint()}")
            if tick is not None:
                tick()
            self.spin()

    def _log_hint(self) -> str:
        return f" (the nodes' log: {self.log_path})" if self.log_path else ""

    def check_stack(self, stack) -> None:
        for name, rc in stack.poll().items():
            if rc is not None:
                raise PlayerError(f"node {name} exited (code {rc}); its output: {self.log_path or 'the stack log'} "
                                  f"(lines starting [{name}])")

    def wait_ready(self, stack, timeout_s: float, clock_until_ns: Optional[int] = None) -> None:
        """Perception's camera and tf subscriptions and the memory node's progress publisher are up. With
        ``clock_until_ns`` (sim time), /clock runs meanwhile at wall rate up to that time (from a minute
        before it), so the nodes' sim-time timers (the lifecycle manager's autostart) fire."""
        pubs = (self.pub_color, self.pub_depth, self.pub_info, self.pub_tf)
        tick = None
        if clock_until_ns is not None and self.pub_clock is not None:
            t0, origin = time.monotonic(), int(clock_until_ns) - 60_000_000_000

            def tick() -> None:
                self.publish_clock(min(int(clock_until_ns), origin + int((time.monotonic() - t0) * 1e9)))
        # memory active (it subscribes perception/frames on activate, beside this player) and its progress
        # publisher up: a frame played before that would be processed by perception and lost to memory
        self.wait(lambda: min(p.get_subscription_count() for p in pubs) >= 1
                  and self.node.count_publishers("memory/ingested_through") >= 1
                  and self.node.count_subscribers("perception/frames") >= 2, timeout_s,
                  "perception's camera and tf subscriptions and the memory node (active)", stack, tick)
        # The graph shows memory subscribed before perception's writer has matched memory's reader (RELIABLE,
        # VOLATILE: what perception publishes before that match never reaches memory; on a loaded machine a
        # --rate replay lost its first frames so). Perception reports its matched readers on /diagnostics:
        # wait until it has matched every reader of perception/frames the graph knows (this player, memory,
        # the planner), then let the acks' and frames' own matches settle a moment.
        deadline = time.monotonic() + min(timeout_s, 20.0)   # without perception's diagnostics: the settle only
        while (self.perception_readers < self.node.count_subscribers("perception/frames")
               and time.monotonic() < deadline):
            if stack is not None:
                self.check_stack(stack)
            if tick is not None:
                tick()
            self.spin(0.01)
        settle_until = time.monotonic() + (0.5 if self.perception_readers >= 2 else 1.5)
        while time.monotonic() < settle_until:
            if tick is not None:
                tick()
            self.spin(0.01)

    # -------------------------------------------------------------------------------- publishing
    def publish_clock(self, t_ns: int) -> None:
        if self.pub_clock is not None:
            from builtin_interfaces.msg import Time
            t = int(t_ns)
            self.pub_clock.publish(self._Clock(clock=Time(sec=t // 1_000_000_000, nanosec=t % 1_000_000_000)))

    def publish_static(self, msgs: Sequence[Any]) -> None:
        for m in msgs:
            self.pub_tf_static.publish(m)

    def publish_raw(self, topic: str, msgtype: str, data: Any, latched: bool = False) -> None:
        """Another bag topic, played as recorded (type from the bag; latched -> TRANSIENT_LOCAL)."""
        pub = self._extra.get(topic)
        if pub is None:
            from .qos import EVENTS, LATCHED
            pub = self.node.create_publisher(message_class(msgtype), topic, LATCHED if latched else EVENTS)
            self._extra[topic] = pub
        pub.publish(data)

    def publish_frame(self, f: FrameSet, clock_ns: Optional[int] = None) -> None:
        """Its tf first, then /clock (at ``clock_ns``, default its stamp), then colour, depth, info."""
        for m in f.tf:
            self.pub_tf.publish(m)
        self.publish_clock(f.stamp_ns if clock_ns is None else clock_ns)
        self.pub_color.publish(f.color)
        self.pub_depth.publish(f.depth)
        self.pub_info.publish(f.info)

    def play_frame(self, f: FrameSet, stack=None, wait_ingest: bool = False, timeout_s: float = 30.0,
                   reject_grace_s: float = 0.25) -> bool:
        """Publish ``f`` and wait for perception's ack (and, with ``wait_ingest``, for memory to have stored it
        when perception accepted it). Returns True if perception accepted it."""
        self.publish_frame(f)
        s = f.stamp_ns
        self.wait(lambda: s in self.acks, timeout_s, f"perception's ack of the frame at {s} ns", stack)
        if not wait_ingest:
            return s in self.accepted
        # the frame's perception/frames message (sent before its ack) may still be on its way
        grace = time.monotonic() + reject_grace_s
        while s not in self.accepted and time.monotonic() < grace:
            self.spin(0.005)
        if s not in self.accepted:
            return False
        self.wait(lambda: self.ingested >= s, timeout_s, f"memory/ingested_through to reach {s} ns", stack)
        return True

    def finish(self, stack=None, timeout_s: float = 60.0) -> None:
        """Spin in the last frames' messages, then wait until memory has ingested the last accepted frame."""
        for _ in range(100):
            self.spin(0.002)
        self.wait(lambda: self.ingested >= self.last_accepted, timeout_s,
                  "memory/ingested_through to pass the last processed frame", stack)

    def close(self) -> None:
        try:
            self.ex.shutdown()
            self.node.destroy_node()
        finally:
            self._rclpy.try_shutdown(context=self.ctx)


def message_class(msgtype: str):
    """``pkg/msg/Name`` -> the generated rclpy class (PlayerError when the package is not installed)."""
    import importlib
    try:
        pkg, kind, name = msgtype.split("/")
        return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
    except (ValueError, ImportError, AttributeError) as e:
        raise PlayerError(f"message type {msgtype} is not installed here ({e})") from e


def find_store(data_dir: Path) -> Optional[Path]:
    p = Path(data_dir) / "memory.db"
    return p if p.is_file() else next(Path(data_dir).rglob("memory.db"), None)


def store_counts(store: Path) -> Dict[str, int]:
    """Rows per table of interest (read-only)."""
    import sqlite3
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])   # noqa: S608 - fixed names
                for t in ("observations", "views", "places", "rooms", "tracks", "keyframes")}
    finally:
        con.close()

