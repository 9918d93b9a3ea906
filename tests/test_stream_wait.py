"""wait_stream_through: a lagging stream is waited for while it moves, a quiet one only idle_s."""
from __future__ import annotations

import threading
import time

from memory_nodes.ros.stream_wait import wait_stream_through


class Stream:
    def __init__(self):
        self.cond = threading.Condition()
        self.ns = 0

    def advance(self, ns: int) -> None:
        with self.cond:
            self.ns = max(self.ns, ns)
            self.cond.notify_all()

    def wait(self, t_ns, idle_s, cap_s) -> bool:
        with self.cond:
            return wait_stream_through(self.cond, lambda: self.ns, t_ns, idle_s, cap_s)


def _feed(s: Stream, stamps, period_s: float) -> threading.Thread:
    def run():
        for ns in stamps:
            time.sleep(period_s)
            s.advance(ns)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def test_already_through_returns_at_once():
    s = Stream()
    s.advance(10)
    assert s.wait(10, 0.0, 0.0)


def test_lagging_but_moving_stream_is_waited_past_idle():
    # frames every 0.05 s reach the target after 1.0 s: far past idle_s 0.3, inside cap 5 s
    s = Stream()
    th = _feed(s, range(1, 21), 0.05)
    t0 = time.monotonic()
    assert s.wait(20, 0.3, 5.0)
    assert time.monotonic() - t0 >= 0.9
    th.join()


def test_quiet_stream_gives_up_after_idle_not_cap():
    s = Stream()
    s.advance(1)
    t0 = time.monotonic()
    assert not s.wait(5, 0.2, 30.0)
    assert time.monotonic() - t0 < 10.0       # gave up on idle_s, long before cap_s


def test_stream_that_stops_moving_gives_up():
    s = Stream()
    th = _feed(s, [1, 2, 3], 0.05)           # moves, then falls silent short of the target
    assert not s.wait(10, 0.3, 30.0)
    assert s.ns == 3
    th.join()


def test_cap_bounds_a_stream_that_never_arrives():
    s = Stream()
    stop = threading.Event()

    def creep():                             # moves forever, never reaching the target
        ns = 0
        while not stop.is_set():
            ns += 1
            s.advance(ns)
            time.sleep(0.02)
    th = threading.Thread(target=creep, daemon=True)
    th.start()
    t0 = time.monotonic()
    assert not s.wait(10**12, 0.2, 0.8)
    took = time.monotonic() - t0
    stop.set()
    th.join()
    assert 0.7 <= took < 10.0
