"""The perception node: synchronized RGB-D (+ the simulator's instance image for the oracle detector) in;
observations, views, places and rooms out.

Subscribes (relative, sensor-data QoS): camera/color/image_raw, camera/depth/image_raw,
camera/color/camera_info, camera/instances/image_raw (oracle detector only), camera/class_table (latched,
oracle only), /tf, /tf_static. Publishes perception/frames (FrameObservations, one per frame: its
observations and, for a keyframe, its View), perception/places (PlaceGraph, latched), perception/rooms
(RoomSegmentation, latched) and perception/frame_ack (builtin_interfaces/Time: the stamp of every frame
it finished or rejected, for the simulator's lockstep). It also subscribes memory/ingested_through: every
frame it publishes is kept (``resend.max_frames`` / ``resend.max_mb``, resend.py) until a memory that received
it acknowledges it; a memory heard from for the first time (a restart after a crash) is sent again, in order,
what it did not acknowledge, and memory refuses what it already stored (``duplicate_frame``), so a memory crash
loses nothing perception still holds. While the ring is full a new frame is refused (``memory_behind``:
rejected, so its frame_ack comes without a frames message; resend.when_full = refuse, the default) or the
oldest kept frame is dropped (drop_oldest); either is logged once and counted.

Frames are approximately time-synchronized by message_filters' ApproximateTimeSynchronizer where it is
installed, else by the core's ApproxTimeSync. A rejected frame (bad encoding, step, size, no valid depth,
missing transform, ...) is logged once per cause (later ones at debug level) and acknowledged; the node
stays up.

The detector is explicit (``detector.kind``; the launch file's ``detector`` argument sets it: oracle with
the simulator, onnx without) and built at start-up: one that cannot be built (an onnx model file that is
not there, ...) stops the node with a FATAL line saying why and what to do. No input problem is silent: a
steady-clock check (``InputWatch``, every second) warns once per cause when nothing arrives, when the oracle
detector's simulator topics are missing, or when camera images arrive for ``node.input_timeout_s`` and no
frame is processed, naming what is missing (colour, depth, camera_info, instances / class table,
synchronization, tf) and how to fix it.

Diagnostics (``/diagnostics``, see diagnostics.py): ``perception: inputs`` (each input topic's rate over a
5 s steady window and count; WARN when a camera topic is silent), ``perception: frames`` (processed,
rejected by cause, waiting for tf, unacknowledged frames held / resent / dropped unacknowledged / refused
(memory behind); WARN when frames were rejected or dropped unacknowledged in the last 5 s, ERROR when camera images
arrive and no frame is processed, with InputWatch's reason) and ``perception: detector`` (kind, mean and
max time per frame).
"""
from __future__ import annotations

import functools
import hashlib
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from builtin_interfaces.msg import Time
from memory_interfaces.msg import FrameObservations, IngestProgress, InstanceClassTable, PlaceGraph, RoomSegmentation
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from memory_nodes.common.errors import ConfigError, InputError, MemoryStackError, TransformError
from memory_nodes.perception.config import PerceptionConfig
from memory_nodes.perception.pipeline import Perception, switch_hint
from memory_nodes.perception.resend import ResendRing
from memory_nodes.perception.sync import ApproxTimeSync

from . import compat
from .conversions.basic import time_to_ns
from .conversions.perception import (
    class_table_from_msg,
    frame_from_messages,
    frame_to_msg,
    place_graph_to_msg,
    rooms_to_msg,
)
from .diagnostics import ERROR, WARN, Diagnostics, LatencyStats, RateWindow, Status, ms
from .log_once import LogOnce
from .params import NodeParameters, Section
from .qos import EVENTS, LATCHED, STREAM, camera_qos
from .runner import run_node
from .transforms import make_transform_source

_UNIT = (0.0, 1.0)
COLOR, DEPTH, INFO, INSTANCES, CLASS_TABLE = ("camera/color/image_raw", "camera/depth/image_raw",
                                              "camera/color/camera_info", "camera/instances/image_raw",
                                              "camera/class_table")
PROGRESS = "memory/ingested_through"
_PENDING_READER_S = 5.0     # wall s: a memory heard this long with no frames subscription seen is counted anyway
_DIAG_WINDOW_S = 5.0                   # steady s: the window of input rates and "recent" rejections
_SHORT = {COLOR: "color", DEPTH: "depth", INFO: "camera_info", INSTANCES: "instances", CLASS_TABLE: "class_table"}


@dataclass
class PerceptionNodeConfig:
    """Section ``node`` of the perception node's parameters."""
    input_timeout_s: float = 3.0         # wall s: camera images arriving this long with no frame processed
    #                                      (or no input at all since start) -> warn what is missing; 0 = never

    def validate(self) -> None:
        if self.input_timeout_s < 0.0:
            raise ConfigError("node.input_timeout_s must be >= 0")


# The parameters: PerceptionConfig's sections (detector.kind, oracle.seed, ...) and node.*. Ranges: only
# those validate() enforces exactly (tests/test_ros_params.py checks each).
PARAMETERS = (
    Section(PerceptionConfig, ranges={
        **{f"oracle.{n}": _UNIT for n in ("miss_prob_base", "miss_prob_per_m", "miss_prob_occlusion",
                                           "miss_prob_small", "confusion_prob", "score_mean", "score_std",
                                           "false_positive_score_mean")},
        "oracle.false_positive_rate": (0.0, None), "oracle.erode_px": (0, None), "oracle.min_area_px": (0, None),
        "onnx.score_threshold": _UNIT, "onnx.intra_op_threads": (0, None),
        "lifting.pixel_stride": (1, None), "lifting.hidden_depth_factor": (0.0, 2.0),
        "lifting.min_valid_depth_fraction": _UNIT, "views.jpeg_quality": (1, 100),
        "rooms.pixel_stride": (1, None), "rooms.update_every_n_frames": (1, None),
        "rooms.segment_every_n_frames": (1, None), "rooms.occupied_min_hits": (1, None),
        "rooms.label_min_confidence": _UNIT, "transforms.max_extrapolation_s": (0.0, None),
        "transforms.lookup_timeout_s": (0.0, None), "transforms.wait_for_tf_s": (0.0, None),
        "sync.slop_s": (0.0, None), "sync.queue_size": (1, None), "sync.new_time_base_stamps": (1, None),
        "transforms.new_time_base_stamps": (1, None), "persistence.save_every_n_frames": (1, None),
        "resend.max_frames": (0, 1000)}),
    Section(PerceptionNodeConfig, "node.", ranges={"node.input_timeout_s": (0.0, None)}),
)


def _guarded(method):
    """Guard of a timer or subscription callback: an exception is logged once per cause
    (``callback_<name>``) and counted with the rejections; nothing escapes into the executor."""
    @functools.wraps(method)
    def guarded(self: "PerceptionNode", *args) -> None:
        try:
            method(self, *args)
        except Exception as e:        # nothing escapes into the executor
            self._reject(f"callback_{method.__name__.lstrip('_')}", f"{type(e).__name__}: {e}", None)
    return guarded


class InputWatch:
    """Why no frame is processed, said once per cause (pure: monotonic seconds in, (cause, text) out).

    ``seen(topic, now_s)`` per message, ``matched()`` per synchronized set, ``processed(now_s)`` per frame
    done, ``rejected(cause)`` per rejected frame, ``held``: sets waiting for their tf. ``check(now_s)``
    returns what is due; the node logs each cause once. Causes: ``oracle_waiting`` (the oracle detector's
    simulator topics are missing: no class table, or camera images without instance images), ``no_input``
    (nothing at all; with the oracle only a simulator's class table and no images is not a problem: a
    parked simulator renders nothing),
    ``no_<input>`` (camera images arrive, no frame is processed, that input never came: ``no_depth``,
    ``no_camera_info``, ...), ``not_synchronized``, ``rejected_<cause>`` (``rejected_missing_tf``, ...),
    ``waiting_for_tf``. Nothing is due before ``timeout_s`` of silence or of stalled images.
    """

    def __init__(self, topics: List[str], oracle: bool, timeout_s: float, now_s: float, slop_s: float,
                 frames: str):
        self.synced = list(topics)             # the synchronized inputs, in the synchronizer's order
        self.topics = self.synced + ([CLASS_TABLE] if oracle else [])
        self.oracle = oracle
        self.timeout_s = timeout_s
        self.slop_s = slop_s
        self.frames = frames                   # "map <- camera_optical, base base_link": for tf advice
        self.start_s = now_s
        self.counts: Dict[str, int] = {t: 0 for t in self.topics}
        self.stream_start_s: Optional[float] = None   # images arriving since (after a quiet spell)
        self.last_image_s: Optional[float] = None
        self.last_processed_s: Optional[float] = None
        self.n_matched = 0
        self._matched_then = 0                 # n_matched at the last processed frame
        self.rejects: Dict[str, int] = {}      # since the last processed frame
        self.held = 0

    def seen(self, topic: str, now_s: float) -> None:
        self.counts[topic] = self.counts.get(topic, 0) + 1
        if topic in (COLOR, DEPTH):
            if self.last_image_s is None or now_s - self.last_image_s > self.timeout_s:
                self.stream_start_s = now_s
            self.last_image_s = now_s

    def matched(self) -> None:
        self.n_matched += 1

    def processed(self, now_s: float) -> None:
        self.last_processed_s = now_s
        self._matched_then = self.n_matched
        self.rejects = {}

    def rejected(self, cause: str) -> None:
        self.rejects[cause] = self.rejects.get(cause, 0) + 1

    def check(self, now_s: float) -> List[Tuple[str, str]]:
        t = self.timeout_s
        if t <= 0.0:
            return []
        sim_missing = [x for x in (INSTANCES, CLASS_TABLE) if self.oracle and self.counts[x] == 0]
        if self.stream_start_s is None or self.last_image_s is None:      # no camera image yet
            if now_s - self.start_s < t:
                return []
            if self.oracle:      # a class table came: the simulator is up, its camera off while it is parked
                return [("oracle_waiting", self._oracle_text(sim_missing))] if self.counts[CLASS_TABLE] == 0 else []
            return [("no_input", f"no camera input after {t:.0f} s: waiting for {', '.join(self.topics)} "
                                 "(check the camera driver's topic names, remappings and namespace)")]
        if self.stalled_s(now_s) is None:
            return []                          # frames flow, or the camera went quiet: nothing stalls
        since = max(self.last_processed_s or self.start_s, self.stream_start_s)
        if sim_missing:
            return [("oracle_waiting", self._oracle_text(sim_missing))]
        stalled = f"camera images arrive but no frame was processed for {now_s - since:.0f} s"
        missing = [x for x in self.topics if self.counts[x] == 0]
        if missing:
            return [(f"no_{_SHORT[x]}", f"{stalled}: nothing received on {x} (check its topic name, remapping "
                                        "and QoS)") for x in missing]
        if self.n_matched == self._matched_then:
            return [("not_synchronized", f"{stalled}: {', '.join(self.synced)} all arrive but never with stamps "
                     f"within sync.slop_s = {self.slop_s} s of each other (one synchronized camera? raise "
                     "sync.slop_s)")]
        if self.rejects:
            cause = max(self.rejects, key=lambda c: self.rejects[c])
            advice = (f" (does a localizer publish map <- odom and the robot its camera's frame on /tf? frames: "
                      f"{self.frames})") if cause == "missing_tf" else ""
            return [(f"rejected_{cause}", f"{stalled}: every frame is rejected ({cause}, "
                     f"{self.rejects[cause]} times){advice}")]
        if self.held:
            return [("waiting_for_tf", f"{stalled}: {self.held} frame(s) wait for their transform (frames: "
                     f"{self.frames})")]
        return []

    def stalled_s(self, now_s: float) -> Optional[float]:
        """Seconds camera images have arrived with no frame processed, once that is ``timeout_s`` or more
        (and the last image is at most ``timeout_s`` old); None while frames flow or the camera is quiet."""
        t = self.timeout_s
        if t <= 0.0 or self.stream_start_s is None or self.last_image_s is None:
            return None
        since = max(self.last_processed_s or self.start_s, self.stream_start_s)
        if now_s - since < t or now_s - self.last_image_s > t:
            return None
        return now_s - since

    def _oracle_text(self, missing: List[str]) -> str:
        got = ", ".join(f"{self.counts[t]} on {t}" for t in (COLOR, DEPTH, INFO))
        return (f"the oracle detector (detector.kind: oracle) is waiting for the simulator's "
                f"{' and '.join(missing)} (received so far: {got}); it detects from the simulator's instance "
                f"masks only. On a real camera use the real detector: {switch_hint('onnx')}; or start the "
                "simulator (with_sim:=true)")


class PerceptionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("perception", automatically_declare_parameters_from_overrides=True, **kwargs)
        self._params = NodeParameters(self)
        self._params.declare_sections(PARAMETERS)
        self.config = self._params.read(PerceptionConfig)
        cfg = self.config
        self.perception = Perception(cfg)
        self.map_frame = cfg.frames.map_frame
        self.base_frame = cfg.frames.base_frame
        self.camera_frame = cfg.frames.camera_frame
        self.use_oracle = cfg.detector.kind == "oracle"
        self.node_config = self._params.read(PerceptionNodeConfig, "node.")
        self.tf = make_transform_source(self, cfg.transforms)
        self._log_rejected = LogOnce(self.get_logger(), "rejected frame")
        self._log_inputs = LogOnce(self.get_logger(), "perception input")
        self.frames_done = 0
        # the detector is built now: a bad choice (an onnx model that is not there) stops the node here
        # with what to do (run_node logs the ConfigError as FATAL), not on the first frame
        _ = self.perception.detector
        self._load_state()

        # memory must receive every frame's output even when it lags behind a burst: a deep reliable history
        self.pub_frames = self.create_publisher(FrameObservations, "perception/frames", STREAM)
        self.pub_places = self.create_publisher(PlaceGraph, "perception/places", LATCHED)
        self.pub_rooms = self.create_publisher(RoomSegmentation, "perception/rooms", LATCHED)
        self.pub_ack = self.create_publisher(Time, "perception/frame_ack", EVENTS)
        # what memory has not acknowledged is kept and resent when memory comes back (resend.py)
        self._resend = ResendRing(cfg.resend.max_frames, int(cfg.resend.max_mb * 1e6), cfg.resend.silence_s)
        self._log_resend = LogOnce(self.get_logger(), "resend")
        self._memory_gids: List[bytes] = []      # memory/ingested_through publishers seen, in order (Humble)
        self._pending_readers: Dict[bytes, float] = {}   # memories heard, frames subscription not yet seen
        if compat.message_info_gid():
            self.create_subscription(IngestProgress, PROGRESS, lambda m, info: self._on_progress(m, info), EVENTS)
        else:
            self.create_subscription(IngestProgress, PROGRESS, lambda m: self._on_progress(m, None), EVENTS)

        topics = [(COLOR, Image), (DEPTH, Image), (INFO, CameraInfo)]
        if self.use_oracle:
            topics.append((INSTANCES, Image))
            self.create_subscription(InstanceClassTable, CLASS_TABLE, self._on_class_table, LATCHED)
        self._tf_pending: List[Any] = []     # (synchronized set, first try, monotonic s) waiting for tf
        start_s = time.monotonic()
        self._rates = {name: RateWindow(_DIAG_WINDOW_S, start_s) for name, _ in topics}
        if self.use_oracle:
            self._rates[CLASS_TABLE] = RateWindow(_DIAG_WINDOW_S, start_s)
        self._processed = RateWindow(_DIAG_WINDOW_S, start_s)
        self._rejects = RateWindow(_DIAG_WINDOW_S, start_s)
        self._unacked_drops = RateWindow(_DIAG_WINDOW_S, start_s)
        self._latency = LatencyStats()
        self._watch = InputWatch([name for name, _ in topics], self.use_oracle, self.node_config.input_timeout_s,
                                 time.monotonic(), cfg.sync.slop_s,
                                 f"{self.map_frame} <- {self.camera_frame or '<image frame_id>'}, "
                                 f"base {self.base_frame}")
        # steady (wall) timers: under use_sim_time in lockstep, sim time stands still until this frame is acked
        from rclpy.clock import Clock, ClockType
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(0.02, self._retry_tf, clock=steady)
        self.create_timer(1.0, self._check_inputs, clock=steady)
        self._sync_kind = self._make_sync(topics)
        self.diagnostics = Diagnostics(self)
        self.diagnostics.add("inputs", self._diagnose_inputs)
        self.diagnostics.add("frames", self._diagnose_frames)
        self.diagnostics.add("detector", self._diagnose_detector)
        self.get_logger().info(
            f"perception up: detector={self._detector_text()}, sync={self._sync_kind}, tf={self.tf.kind}, "
            f"frames {self.map_frame} <- {self.camera_frame or '<image frame_id>'}, base {self.base_frame}")
        provider_warning = getattr(self.perception.detector, "provider_warning", "")
        if provider_warning:      # a GPU provider was asked for and another runs: say so once, at start
            self.get_logger().warning(provider_warning)

    def _detector_text(self) -> str:
        """"oracle", or "onnx (model path, execution provider)"."""
        det = self.perception.detector
        if self.config.detector.kind != "onnx":
            return self.config.detector.kind
        path = getattr(getattr(det, "config", None), "model_path", self.config.onnx.model_path)
        providers = getattr(det, "providers", None) or ["?"]
        return f"onnx ({path}, {providers[0]})"

    # ------------------------------------------------------------------ synchronization

    def _make_sync(self, topics) -> str:
        slop_s = self.config.sync.slop_s
        q = self.config.sync.queue_size
        qos = camera_qos(self.config.sync.reliable)
        try:
            import message_filters
        except ImportError:
            message_filters = None
        if message_filters is not None:
            subs = [message_filters.Subscriber(self, t, name, qos_profile=qos)
                    for name, t in topics]
            for sub, (name, _) in zip(subs, topics):
                sub.registerCallback(lambda _m, name=name: self._seen(name))
            self._mf_sync = message_filters.ApproximateTimeSynchronizer(subs, q, slop_s)
            self._mf_sync.registerCallback(lambda *msgs: self._on_set(list(msgs)))
            self._mf_subs = subs
            return "message_filters.ApproximateTimeSynchronizer"
        sc = self.config.sync
        self._sync = ApproxTimeSync(len(topics), int(slop_s * 1e9), q, int(sc.jump_back_tolerance_s * 1e9),
                                    sc.new_time_base_stamps, int(sc.jump_forward_tolerance_s * 1e9))
        self._subs = []
        for i, (name, t) in enumerate(topics):
            self._subs.append(self.create_subscription(
                t, name, lambda m, i=i: self._on_input(i, m), qos))
        return "memory_nodes ApproxTimeSync"

    def _seen(self, topic: str) -> None:
        now = time.monotonic()
        self._watch.seen(topic, now)
        self._rates[topic].tick(now)

    def _on_input(self, index: int, msg) -> None:
        """One camera message into the synchronizer. Stamp 0 (no stamp) is refused here; stamp jumps are
        the synchronizer's StampGuard's (an outlier refused, a sustained jump a new time base, which also
        clears the tf buffer's held frames); each refusal is logged once per cause and counted."""
        try:
            self._seen(self._watch.topics[index])
            stamp = time_to_ns(msg.header.stamp)
            if stamp <= 0:
                self._reject("zero_stamp", f"{self._watch.topics[index]}: message stamped 0 (no stamp) refused",
                             msg.header.stamp if index == 0 else None)
                return
            sets = self._sync.add(index, stamp, msg)
            for cause, text in self._sync.take_events():
                if cause == "new_time_base":
                    self._tf_pending.clear()
                    self._log_inputs.warning(cause, text)
                else:
                    self._reject(cause, text, msg.header.stamp if index == 0 else None)
            for matched in sets:
                self._on_set(matched)
        except Exception as e:        # nothing escapes into the executor
            self._reject("callback_error", f"{type(e).__name__}: {e}", None)

    @_guarded
    def _on_class_table(self, msg: InstanceClassTable) -> None:
        self._seen(CLASS_TABLE)
        try:
            table = class_table_from_msg(msg)
        except Exception as e:        # latched garbage must not kill (nor crash-loop) the node
            self._reject(getattr(e, "cause", "bad_class_table"), str(e), None)
            return
        self.perception.set_class_table(table)
        self.get_logger().info(f"class table: {len(table)} instances")

    # ------------------------------------------------------------------ one frame

    @_guarded
    def _check_inputs(self) -> None:
        """Every second: say once per cause what keeps frames from being processed (InputWatch)."""
        self._watch.held = len(self._tf_pending)
        for cause, text in self._watch.check(time.monotonic()):
            self._log_inputs.warning(cause, text)

    def _on_set(self, msgs: List[Any]) -> None:
        self._watch.matched()
        if self._tf_pending:       # earlier frames wait for their tf: keep the order
            self._tf_pending.append((msgs, time.monotonic()))
            if len(self._tf_pending) > 100:     # bounded: the oldest is decided now (rejected if still no tf)
                oldest, _since = self._tf_pending.pop(0)
                self._process_set(oldest, may_wait=False)
            return
        if not self._process_set(msgs, may_wait=True):
            self._tf_pending.append((msgs, time.monotonic()))

    @_guarded
    def _retry_tf(self) -> None:
        """Frames whose images overtook their /tf: retry in order until processed or waited out. A frame
        whose retry raises is dropped from the queue (and rejected), so it cannot fail every tick."""
        wait_s = self.config.transforms.wait_for_tf_s
        while self._tf_pending:
            msgs, since = self._tf_pending[0]
            try:
                if not self._process_set(msgs, may_wait=time.monotonic() - since < wait_s):
                    return
            except Exception:
                self._tf_pending.pop(0)
                raise
            self._tf_pending.pop(0)

    def _process_set(self, msgs: List[Any], may_wait: bool = False) -> bool:
        """Process one synchronized set; False = its tf has not arrived yet (held for a retry)."""
        stamp = msgs[0].header.stamp
        try:
            frame = frame_from_messages(msgs[0], msgs[1], msgs[2], msgs[3] if len(msgs) > 3 else None)
            cam = self.camera_frame or frame.frame_id
            if not cam:
                raise InputError("missing_frame_id", "images have no frame_id and frames.camera_frame is empty")
            try:
                map_T_camera = self.tf.lookup(self.map_frame, cam, frame.stamp_ns)
                map_T_base = self.tf.lookup(self.map_frame, self.base_frame, frame.stamp_ns)
            except TransformError as e:
                if may_wait and self.config.transforms.wait_for_tf_s > 0:
                    return False
                raise InputError("missing_tf", str(e)) from e
            t0 = time.perf_counter()
            out = self.perception.process(frame, map_T_camera, map_T_base)
            self._latency.add(time.perf_counter() - t0)
        except MemoryStackError as e:
            cause = e.cause if isinstance(e, InputError) else type(e).__name__
            self._reject(cause, str(e), stamp)
            return True
        except (ValueError, TypeError, IndexError, OverflowError, FloatingPointError) as e:
            self._reject("malformed_input", f"{type(e).__name__}: {e}", stamp)
            return True
        if not self.publish_frame(frame_to_msg(out, self.map_frame)):
            # refused (resend.when_full = refuse): rejected, so the sender's frame_ack says so; the place graph
            # and rooms perception built from it are its own state and still go out
            self._reject("memory_behind", (
                f"memory has not acknowledged the last {len(self._resend)} frames perception sent "
                f"({self._resend.nbytes / 1e6:.0f} MB; resend.max_frames = {self.config.resend.max_frames}, "
                f"resend.max_mb = {self.config.resend.max_mb:g}): new frames are refused until it does "
                f"({self._resend.refused} so far); is memory up and acknowledging on {PROGRESS}?"), stamp)
            if out.places is not None:
                self.pub_places.publish(place_graph_to_msg(out.places, self.map_frame))
            if out.rooms is not None:
                self.pub_rooms.publish(rooms_to_msg(out.rooms, self.map_frame))
            return True
        if out.places is not None:
            self.pub_places.publish(place_graph_to_msg(out.places, self.map_frame))
        if out.rooms is not None:
            self.pub_rooms.publish(rooms_to_msg(out.rooms, self.map_frame))
        self.frames_done += 1
        self._watch.processed(time.monotonic())
        self._processed.tick(time.monotonic())
        self.pub_ack.publish(stamp)
        if self.frames_done % self.config.persistence.save_every_n_frames == 0:
            self.save_state()
        return True

    # ------------------------------------------------------------------ acknowledgements and resends
    def publish_frame(self, frame_msg: FrameObservations) -> bool:
        """Publish one frame on perception/frames and keep it until memory acknowledges it. The ring full:
        with resend.when_full = refuse the frame is not sent (False; counted, the caller rejects it), with
        drop_oldest it is sent and the oldest kept are dropped unacknowledged (logged once and counted)."""
        nbytes = _frame_bytes(frame_msg)
        if self.config.resend.when_full == "refuse" and not self._resend.room_for(nbytes):
            self._resend.refused += 1
            return False
        self.pub_frames.publish(frame_msg)
        dropped = self._resend.sent(time_to_ns(frame_msg.header.stamp), frame_msg, nbytes)
        if dropped:
            for _ in range(dropped):
                self._unacked_drops.tick(time.monotonic())
            self._log_resend.warning("dropped_unacknowledged", (
                f"{self._resend.dropped} frame(s) dropped unacknowledged so far: memory has not acknowledged "
                f"the last {len(self._resend)} frames ({self._resend.nbytes / 1e6:.0f} MB; resend.max_frames = "
                f"{self.config.resend.max_frames}, resend.max_mb = {self.config.resend.max_mb:g}); is memory up "
                f"and acknowledging on {PROGRESS}? (resend.when_full = refuse would refuse new frames instead)"))
        return True

    @_guarded
    def _on_progress(self, msg: IngestProgress, info: Optional[Dict[str, Any]]) -> None:
        """memory/ingested_through from one memory process: drop what it stored; a memory not heard from
        before (a restart) gets every kept frame it may not have, oldest first; one silent for more than
        resend.silence_s (deactivated and activated again) every kept frame."""
        reader = self._memory_id(info)
        if reader not in self._resend.readers and not self._receives_frames(reader):
            return            # not counted as a reader yet: what it is sent now could be lost (next heartbeat)
        due = self._resend.acked(reader, time_to_ns(msg.ingested_through), time.monotonic())
        if due:
            who = hashlib.blake2s(reader, digest_size=4).hexdigest()
            self.get_logger().info(f"memory {who} heard from (a restart, it started after perception, or it was "
                                   f"silent for more than resend.silence_s): resending {len(due)} frame(s) it did "
                                   "not acknowledge")
            for m in due:
                self.pub_frames.publish(m)

    def _receives_frames(self, reader: bytes) -> bool:
        """Is memory ``reader``'s perception/frames subscription discovered (so this node's reliable publisher
        delivers to it)? A restarted memory's first watermark can arrive before that: frames resent (or sent)
        then are lost to it, and the watermark it publishes after storing later frames would pass them. So a
        memory first heard is counted as a reader only once its node has a perception/frames subscription in
        the graph; until then its watermarks are skipped (it publishes one every second). Where the graph
        does not name the publisher (no gid match) or after ``_PENDING_READER_S``, it is counted anyway."""
        now = time.monotonic()
        since = self._pending_readers.setdefault(reader, now)
        if now - since > _PENDING_READER_S:
            self._pending_readers.pop(reader, None)
            self._log_resend.warning("reader_unmatched", (
                f"memory/ingested_through publisher heard for {_PENDING_READER_S:.0f} s without a perception/frames "
                "subscription of its node in the graph: counted as a reader anyway (are its topics remapped?)"))
            return True
        try:
            node = None
            for e in self.get_publishers_info_by_topic(PROGRESS):
                g = bytes(bytearray(e.endpoint_gid))
                n = min(len(g), len(reader))
                if n and g[:n] == reader[:n]:
                    node = (e.node_name, e.node_namespace)
                    break
            if node is None:
                self._pending_readers.pop(reader, None)
                return True
            subs = self.get_subscriptions_info_by_topic(self.pub_frames.topic_name)
            ok = any((e.node_name, e.node_namespace) == node for e in subs)
        except Exception:          # graph queries failing must not stop acknowledgements
            ok = True
        if ok:
            self._pending_readers.pop(reader, None)
            if len(self._pending_readers) > 32:
                self._pending_readers.clear()
        return ok

    def _memory_id(self, info: Optional[Dict[str, Any]]) -> bytes:
        """The publisher's gid (one per memory process); on a Humble rclpy (no MessageInfo), the newest
        memory/ingested_through publisher in the ROS graph."""
        gid = (info or {}).get("publisher_gid")
        if gid:
            data = gid.get("data", gid) if isinstance(gid, dict) else gid
            return bytes(bytearray(data))
        for e in self.get_publishers_info_by_topic(PROGRESS):
            g = bytes(bytearray(e.endpoint_gid))
            if g not in self._memory_gids:
                self._memory_gids.append(g)
        return self._memory_gids[-1] if self._memory_gids else b"memory"

    # ------------------------------------------------------------------ state across restarts

    def _load_state(self) -> None:
        path = self.config.persistence.state_file
        if not path or not os.path.isfile(path):
            return
        try:
            with open(path, "rb") as f:
                self.perception.load_state(f.read())
        except (OSError, InputError) as e:
            self.get_logger().error(f"not using perception state {path}: {e} (starting a new map)")
            return
        self.get_logger().info(f"perception state from {path}: {len(self.perception.places.places)} places")

    def save_state(self) -> None:
        path = self.config.persistence.state_file
        if not path:
            return
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            tmp = f"{path}.tmp"
            with open(tmp, "wb") as f:
                f.write(self.perception.state_bytes())
            os.replace(tmp, path)
        except OSError as e:
            self.get_logger().error(f"cannot save perception state to {path}: {e}",
                                    throttle_duration_sec=60.0)

    def destroy_node(self):
        self.save_state()
        return super().destroy_node()

    def _reject(self, cause: str, detail: str, stamp: Optional[Time]) -> None:
        self._log_rejected.warning(cause, detail)
        self._watch.rejected(cause)
        self._rejects.tick(time.monotonic())
        if stamp is not None:
            self.pub_ack.publish(stamp)

    # ------------------------------------------------------------------ diagnostics
    def _silence_s(self) -> float:
        return self.node_config.input_timeout_s or 3.0

    def _diagnose_inputs(self) -> Status:
        """Each input's rate and count; WARN per silent camera topic (none while a parked simulator, whose
        class table came, renders nothing: InputWatch's rule)."""
        now = time.monotonic()
        s = Status()
        silent = []
        for topic, rate in self._rates.items():
            s.set(f"{topic} rate (Hz)", rate.rate_hz(now)).set(f"{topic} received", rate.total)
            age = rate.age_s(now)
            if topic != CLASS_TABLE and (age if age is not None else now - rate.start_s) > self._silence_s():
                silent.append((topic, age))
        cameras = [t for t in self._rates if t != CLASS_TABLE]
        parked = (self.use_oracle and self._rates[CLASS_TABLE].total > 0
                  and all(self._rates[t].total == 0 or (self._rates[t].age_s(now) or 0.0) > self._silence_s()
                          for t in cameras))
        if parked:
            s.ok_message = "no camera images: the simulator is parked (it renders while it moves)"
            return s
        if silent:
            s.add(WARN, "camera topics silent: " + ", ".join(
                f"{topic} ({'nothing received' if age is None else f'no message for {age:.0f} s'})"
                for topic, age in silent))
        return s

    def _diagnose_frames(self) -> Status:
        """Processed / rejected by cause / waiting for tf; WARN on recent rejections, ERROR on a stall."""
        now = time.monotonic()
        rejected = self._log_rejected.counts()
        s = Status({"processed": self.frames_done, "processed rate (Hz)": self._processed.rate_hz(now),
                    "rejected": sum(rejected.values()), "waiting for tf": len(self._tf_pending),
                    "last processed age (s)": self._processed.age_s(now), "synchronizer": self._sync_kind,
                    # matched readers of perception/frames (memory, the planner, ...): a reader that has not
                    # matched yet loses what is published before (RELIABLE, VOLATILE); the bag player waits on it
                    "frames subscribers": self.pub_frames.get_subscription_count(),
                    # sent, not yet acknowledged by memory (kept for a resend), resent, dropped unacknowledged
                    "unacknowledged held": len(self._resend), "unacknowledged held (MB)": self._resend.nbytes / 1e6,
                    "frames resent": self._resend.resent, "frames dropped unacknowledged": self._resend.dropped,
                    "frames refused (memory behind)": self._resend.refused})
        s.counts("rejected", rejected)
        drops = self._unacked_drops.count(now)
        if drops:
            s.add(WARN, f"{drops} frame(s) dropped unacknowledged in the last {_DIAG_WINDOW_S:.0f} s: the resend "
                        f"ring is full (is memory up and acknowledging on {PROGRESS}?)")
        recent = self._rejects.count(now)
        if recent:
            s.add(WARN, f"{recent} frame(s) rejected in the last {_DIAG_WINDOW_S:.0f} s (causes: "
                        f"{', '.join(sorted(rejected))})")
        stalled = self._watch.stalled_s(now)
        if stalled is not None:
            self._watch.held = len(self._tf_pending)
            why = [text for _cause, text in self._watch.check(now)]
            s.add(ERROR, why[0] if why else f"camera images arrive but no frame was processed for {stalled:.0f} s")
        return s

    def _diagnose_detector(self) -> Status:
        det = self.perception.detector
        s = Status({"kind": self._detector_text(), "provider": getattr(det, "provider", "-"),
                    "mean time per frame (ms)": ms(self._latency.mean_s()),
                    "max time per frame (ms)": ms(self._latency.max_s()), "frames": self.frames_done})
        if getattr(det, "provider_warning", ""):
            s.add(WARN, det.provider_warning)
        return s


def _frame_bytes(msg: FrameObservations) -> int:
    """About what one FrameObservations holds in RAM (bytes): its images, appearance vectors and fields."""
    n = 512 + sum(256 + 4 * len(o.appearance) for o in msg.observations)
    for v in msg.view:
        n += 2048 + len(v.depth.data) + len(v.color.data) + sum(16 + len(c) for c in v.detected_classes)
    return n


def main(args=None) -> None:
    run_node(PerceptionNode, args, name="perception", what="the perception node")


if __name__ == "__main__":
    main()
