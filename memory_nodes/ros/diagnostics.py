"""Diagnostics: every node's ``/diagnostics`` (diagnostic_msgs/DiagnosticArray), written once.

    self.diagnostics = Diagnostics(self)                      # after the node's own parameters
    self.diagnostics.add("frames", self._diagnose_frames)     # () -> Status, or None: nothing to say now

    def _diagnose_frames(self) -> Status:
        s = Status({"processed": self.frames_done})
        if self._rejects.count(now) > 0:
            s.add(WARN, "frames rejected")
        return s

The convention robot operators read in rqt_robot_monitor, Foxglove's diagnostics panels and
diagnostic_aggregator, as diagnostic_updater keeps it: one DiagnosticArray per period (parameter
``diagnostic_updater.period``, s, 1.0 as upstream) on the absolute topic ``/diagnostics``, one
DiagnosticStatus per task named ``"<node fully qualified name without the leading slash>: <task>"``
(``perception: frames``, ``robot1/memory: store``), with ``hardware_id`` from the parameter
``diagnostic_updater.hardware_id`` (default ""). The period runs on a steady (wall) timer, so the node
reports under ``use_sim_time`` before any /clock (and while a lockstep simulator holds sim time still); the
header stamp comes from the node clock (sim time then). diagnostic_updater itself is not used: the
pip install (PyPI rclpy wheels) has no diagnostic_updater, and the ROS install needs no extra dependency.

A task returns a ``Status``: a level (OK, WARN, ERROR, STALE: DiagnosticStatus' levels), a message and
key/values. ``Status.add(level, text)`` raises the level to the worst seen and collects the text of each
problem (the message is the problems' texts, worst first, joined by "; ", as CompositeDiagnosticTask
merges them; with no problem it is the OK text). A task that raises, or returns something else, reports
ERROR with the cause in its message; the node never sees the exception. A task that returns None is left
out of that period's array (a lifecycle node's store figures while it is unconfigured).

The pure parts (``Status``, ``RateWindow``, ``LatencyStats``, ``DiagnosticTasks``) take time as float
seconds, so tests inject it; only ``Diagnostics`` touches rclpy.
"""
from __future__ import annotations

import collections
import math
import threading
from typing import Any, Callable, Deque, Dict, Iterable, List, Mapping, Optional, Tuple

OK, WARN, ERROR, STALE = 0, 1, 2, 3          # diagnostic_msgs/DiagnosticStatus levels
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR", STALE: "STALE"}
TOPIC = "/diagnostics"                        # absolute: every node on the robot reports on one topic


def _severity(level: int) -> int:
    """Order for the worst level: STALE ranks above WARN and below ERROR (diagnostic_aggregator's order)."""
    return {OK: 0, WARN: 1, STALE: 2, ERROR: 3}[level]


def worst_level(levels: Iterable[int]) -> int:
    """The worst of ``levels`` (OK for none): ERROR > STALE > WARN > OK."""
    out = OK
    for lv in levels:
        if _severity(lv) > _severity(out):
            out = lv
    return out


def format_value(value: Any) -> str:
    """One key/value's text: floats to 3 decimals (no trailing zeros), bools as true/false, None as "-"."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    return str(value)


class Status:
    """One task's report: level, message, ordered key/values (see the module docstring)."""

    def __init__(self, values: Optional[Mapping[str, Any]] = None, ok_message: str = "OK"):
        self.values: Dict[str, Any] = dict(values or {})
        self.ok_message = ok_message
        self.problems: List[Tuple[int, str]] = []

    def add(self, level: int, text: str) -> "Status":
        """Note a problem of ``level``; OK adds nothing."""
        if level not in LEVEL_NAMES:
            raise ValueError(f"diagnostic level {level!r}: expected one of {sorted(LEVEL_NAMES)}")
        if level != OK:
            self.problems.append((level, text))
        return self

    def set(self, key: str, value: Any) -> "Status":
        self.values[key] = value
        return self

    def counts(self, prefix: str, counts: Mapping[str, int]) -> "Status":
        """One key per cause: ``"<prefix>: <cause>"`` (sorted by cause)."""
        for cause in sorted(counts):
            self.values[f"{prefix}: {cause}"] = counts[cause]
        return self

    @property
    def level(self) -> int:
        return worst_level(lv for lv, _ in self.problems)

    @property
    def message(self) -> str:
        if not self.problems:
            return self.ok_message
        ranked = sorted(self.problems, key=lambda p: -_severity(p[0]))    # stable: same level keeps order
        return "; ".join(text for _, text in ranked)

    def key_values(self) -> List[Tuple[str, str]]:
        return [(str(k), format_value(v)) for k, v in self.values.items()]


class RateWindow:
    """Events over a sliding window of steady time: ``rate_hz``, ``count`` in the window, ``total``, ``age_s``.

    ``tick(now_s)`` per event. The rate is the events within the last ``window_s`` over the window (or over
    the time since ``start_s`` while the window is not yet full), so a topic that goes silent decays to 0 Hz
    within one window. Bounded: at most ``max_events`` stamps are kept (the rate saturates there).
    """

    def __init__(self, window_s: float = 5.0, start_s: float = 0.0, max_events: int = 10000):
        if window_s <= 0:
            raise ValueError("window_s must be > 0")
        self.window_s = float(window_s)
        self.start_s = float(start_s)
        self.total = 0
        self.last_s: Optional[float] = None
        self._stamps: Deque[float] = collections.deque(maxlen=max_events)
        self._lock = threading.Lock()       # ticks come from callbacks, reads from the diagnostics timer

    def tick(self, now_s: float, n: int = 1) -> None:
        with self._lock:
            self.total += n
            self.last_s = now_s
            for _ in range(n):
                self._stamps.append(now_s)
            self._trim(now_s)

    def _trim(self, now_s: float) -> None:
        lo = now_s - self.window_s
        while self._stamps and self._stamps[0] < lo:
            self._stamps.popleft()

    def count(self, now_s: float) -> int:
        """Events within the last ``window_s``."""
        with self._lock:
            self._trim(now_s)
            return len(self._stamps)

    def rate_hz(self, now_s: float) -> float:
        span = min(self.window_s, now_s - self.start_s)
        if span <= 0:
            return 0.0
        return self.count(now_s) / span

    def age_s(self, now_s: float) -> Optional[float]:
        """Seconds since the last event (None: never)."""
        return None if self.last_s is None else max(0.0, now_s - self.last_s)


class LatencyStats:
    """Mean and max of the last ``size`` durations (s) -- a detector's latency, an answer's."""

    def __init__(self, size: int = 100):
        self._d: Deque[float] = collections.deque(maxlen=size)
        self.last_s: Optional[float] = None
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._d.append(float(seconds))
            self.last_s = float(seconds)

    def mean_s(self) -> Optional[float]:
        with self._lock:
            return sum(self._d) / len(self._d) if self._d else None

    def max_s(self) -> Optional[float]:
        with self._lock:
            return max(self._d) if self._d else None


def ms(seconds: Optional[float]) -> Optional[float]:
    """Seconds -> milliseconds (None stays None)."""
    return None if seconds is None else 1000.0 * seconds


Task = Callable[[], Optional[Status]]


class DiagnosticTasks:
    """Named tasks in the order they were added; ``run()`` -> [(status name, level, message, key/values)].

    Pure (no rclpy): ``prefix`` is the node's fully qualified name without the leading slash."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self._tasks: List[Tuple[str, Task]] = []
        self._lock = threading.Lock()

    def add(self, name: str, task: Task) -> None:
        with self._lock:
            if any(n == name for n, _ in self._tasks):
                raise ValueError(f"diagnostic task {name!r} added twice")
            self._tasks.append((name, task))

    def remove(self, name: str) -> bool:
        with self._lock:
            n = len(self._tasks)
            self._tasks = [(k, t) for k, t in self._tasks if k != name]
            return len(self._tasks) < n

    def names(self) -> List[str]:
        with self._lock:
            return [n for n, _ in self._tasks]

    def run(self) -> List[Tuple[str, int, str, List[Tuple[str, str]]]]:
        with self._lock:
            tasks = list(self._tasks)
        out = []
        for name, task in tasks:
            full = f"{self.prefix}: {name}"
            try:
                st = task()
                if st is None:
                    continue
                if not isinstance(st, Status):
                    raise TypeError(f"the task returned {type(st).__name__}, not a Status")
                out.append((full, st.level, st.message, st.key_values()))
            except Exception as e:  # a task's fault is its status, never the node's crash
                out.append((full, ERROR, f"diagnostic task failed: {type(e).__name__}: {e}", []))
        return out


def status_name_prefix(fully_qualified_name: str) -> str:
    """``/ns/perception`` -> ``ns/perception``: diagnostic_updater's status names drop the leading slash."""
    return fully_qualified_name[1:] if fully_qualified_name.startswith("/") else fully_qualified_name


class Diagnostics:
    """The node's updater: ``/diagnostics`` every ``diagnostic_updater.period`` s (steady timer).

    Declares ``diagnostic_updater.period`` (s) and ``diagnostic_updater.hardware_id`` on ``node``; a plain
    publisher (not a lifecycle one), so a lifecycle node reports in every state."""

    PERIOD = "diagnostic_updater.period"
    HARDWARE_ID = "diagnostic_updater.hardware_id"

    def __init__(self, node, callback_group=None):
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.clock import Clock, ClockType

        from .params import NodeParameters
        from .qos import EVENTS
        self._node = node
        params = NodeParameters(node)
        params.declare_value(self.PERIOD, 1.0, "seconds between /diagnostics reports (steady time), as "
                             "diagnostic_updater", range=(0.001, None))
        params.declare_value(self.HARDWARE_ID, "", "hardware_id of this node's diagnostic statuses ('' = none)")
        try:
            self.period_s = float(node.get_parameter(self.PERIOD).value)
        except (TypeError, ValueError):
            self.period_s = 0.0
        if not (math.isfinite(self.period_s) and self.period_s > 0):
            node.get_logger().warning(f"{self.PERIOD} must be a number > 0: using 1.0 s")
            self.period_s = 1.0
        self.hardware_id = str(node.get_parameter(self.HARDWARE_ID).value or "")
        self.tasks = DiagnosticTasks(status_name_prefix(node.get_fully_qualified_name()))
        self._msg_type = DiagnosticArray
        self._pub = node.create_publisher(DiagnosticArray, TOPIC, EVENTS)
        self._timer = node.create_timer(self.period_s, self.publish, callback_group=callback_group,
                                        clock=Clock(clock_type=ClockType.STEADY_TIME))

    def add(self, name: str, task: Task) -> None:
        self.tasks.add(name, task)

    def remove(self, name: str) -> bool:
        return self.tasks.remove(name)

    def build(self):
        """This period's DiagnosticArray (stamped with the node clock)."""
        from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
        msg = self._msg_type()
        msg.header.stamp = self._node.get_clock().now().to_msg()
        for name, level, message, values in self.tasks.run():
            msg.status.append(DiagnosticStatus(level=bytes([level]), name=name, message=message,
                                               hardware_id=self.hardware_id,
                                               values=[KeyValue(key=k, value=v) for k, v in values]))
        return msg

    def publish(self) -> None:
        """The timer's callback: build and publish; nothing escapes into the executor."""
        if not self._node.context.ok():
            return
        try:
            self._pub.publish(self.build())
        except Exception as e:  # shutting down, or a broken message: say so, never crash the node
            if self._node.context.ok():
                self._node.get_logger().error(f"publishing /diagnostics failed: {type(e).__name__}: {e}",
                                              throttle_duration_sec=60.0)
