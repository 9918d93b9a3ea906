"""Waiting for an ordered stream (perception/frames after a look) to pass a stamp.

No rclpy here: the planner node's callbacks advance the stamp under a ``threading.Condition`` and its
worker threads wait on it, so the rule is tested without ROS (tests/test_stream_wait.py).
"""
from __future__ import annotations

import threading
import time
from typing import Callable


def wait_stream_through(cond: threading.Condition, latest_ns: Callable[[], int], t_ns: int,
                        idle_s: float, cap_s: float, clock: Callable[[], float] = time.monotonic) -> bool:
    """Wait (holding ``cond``) until ``latest_ns() >= t_ns``; True when it got there.

    A stream that has gone quiet is given ``idle_s`` to move; one that keeps moving but lags (loaded
    perception, a slow Jetson, a busy executor) is waited for while it moves, up to ``cap_s`` in all. So a
    dead camera costs a look ``idle_s``, while a camera that is merely late does not lose the frames that saw
    the object (loaded CI: frames 1.3 s behind an ack-free settle of 1.0 s and the look missed the mug)."""
    start = clock()
    deadline = start + max(cap_s, idle_s)
    last = latest_ns()
    moved_at = start
    while last < t_ns:
        now = clock()
        left = min(deadline, moved_at + idle_s) - now
        if left <= 0:
            return False
        cond.wait(timeout=left)
        cur = latest_ns()
        if cur > last:
            last, moved_at = cur, clock()
    return True
