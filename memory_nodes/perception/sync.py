"""A small approximate-time synchronizer (message_filters is not a pip wheel; the node uses
message_filters' ApproximateTimeSynchronizer where it is importable, this one elsewhere).

One bounded queue per input, kept sorted by stamp. Whenever every queue holds something, the latest head
is the pivot: if every other input has a message within ``slop_ns`` of it, the nearest of each forms a
set, which is emitted; everything older in those queues is dropped. Otherwise the oldest head can never
be matched (every input's future stamps only grow) and is dropped. A message older than what its input
already emitted arrives too late and is dropped. Drops are counted per input.

Time policy (``StampGuard``, one per input, also used per edge by tf_buffer.py): a stamp is judged against
its own stream's history. 0 (no stamp) is rejected (``zero_stamp``). A jump back beyond
``jump_tolerance_ns`` (60 s in the synchronizer: sync.jump_back_tolerance_s; the cache time in the tf buffer)
or forwards beyond ``forward_tolerance_ns`` (24 h: pauses are normal, a stamp years ahead is not;
sync.jump_forward_tolerance_s, transforms.jump_forward_tolerance_s)
is an outlier and rejected (``stamp_jump``) unless it is sustained: once ``confirm`` stamps in a row
(``new_time_base_stamps``) agree with each other beyond the jump, they are a new time base (a bag loop, a
clock reset, a robot resumed): the guard moves there and the synchronizer drops what it held of the old
base (``new_time_base``). So one frame from 2033 is dropped alone, and after a clock jump back frames flow
again. Every rejection is returned by ``take_events()`` (cause, text) for the node to log once per cause.
"""
from __future__ import annotations

import bisect
from typing import Any, Dict, List, Optional, Tuple

FORWARD_TOLERANCE_NS = 24 * 3600 * 10 ** 9   # a robot paused overnight resumes; a stamp years ahead does not


class StampGuard:
    """One stream's stamps against its own history (see the module docstring). ``check(t)`` returns
    "ok", "zero_stamp", "stamp_jump" (reject) or "new_time_base" (accept; the caller resets)."""

    def __init__(self, jump_tolerance_ns: int, confirm: int = 3, reject_zero: bool = True,
                 forward_tolerance_ns: Optional[int] = None):
        if jump_tolerance_ns <= 0 or confirm < 1:
            raise ValueError("jump_tolerance_ns > 0, confirm >= 1")
        self.reject_zero = reject_zero
        self.tol = int(jump_tolerance_ns)                  # backwards (and forwards unless given)
        self.fwd = int(forward_tolerance_ns) if forward_tolerance_ns else self.tol
        self.confirm = int(confirm)
        self.newest: Optional[int] = None
        self._cand: List[int] = []

    def check(self, t: int) -> str:
        t = int(t)
        if t <= 0 and self.reject_zero:
            return "zero_stamp"
        if self.newest is None or -self.tol <= t - self.newest <= self.fwd:
            self.newest = t if self.newest is None else max(self.newest, t)
            self._cand = []
            return "ok"
        if self._cand and abs(t - self._cand[-1]) <= self.tol:
            self._cand.append(t)
        else:
            self._cand = [t]
        if len(self._cand) >= self.confirm:
            self.newest, self._cand = max(self._cand), []
            return "new_time_base"
        return "stamp_jump"

    def reset(self) -> None:
        self.newest, self._cand = None, []


class ApproxTimeSync:
    def __init__(self, num_inputs: int, slop_ns: int, queue_size: int = 10,
                 jump_tolerance_ns: int = 60_000_000_000, confirm: int = 3,
                 forward_tolerance_ns: int = FORWARD_TOLERANCE_NS):
        if num_inputs < 1 or slop_ns < 0 or queue_size < 1:
            raise ValueError("num_inputs >= 1, slop_ns >= 0, queue_size >= 1")
        # stamp 0 is the node's to refuse (a ROS header without a stamp); here it is just early
        self._guards = [StampGuard(jump_tolerance_ns, confirm, reject_zero=False,
                                   forward_tolerance_ns=forward_tolerance_ns) for _ in range(num_inputs)]
        self._events: List[Tuple[str, str]] = []
        self.rejected: Dict[str, int] = {}
        self.num_inputs = num_inputs
        self.slop_ns = int(slop_ns)
        self.queue_size = queue_size
        self._stamps: List[List[int]] = [[] for _ in range(num_inputs)]
        self._msgs: List[List[Any]] = [[] for _ in range(num_inputs)]
        self._last_out: List[Optional[int]] = [None] * num_inputs
        self.dropped: List[int] = [0] * num_inputs
        self.emitted = 0

    def add(self, index: int, stamp_ns: int, msg: Any) -> List[List[Any]]:
        """Queue one message; returns the sets (one message per input, in input order) it completed."""
        stamp_ns = int(stamp_ns)
        verdict = self._guards[index].check(stamp_ns)
        if verdict in ("zero_stamp", "stamp_jump"):
            newest = self._guards[index].newest
            self._event(verdict, f"input {index}: stamp {stamp_ns} ns rejected" + (
                "" if verdict == "zero_stamp" or newest is None else
                f" ({(stamp_ns - newest) / 1e9:+.1f} s from the stream's newest {newest} ns; a new time base "
                "needs a few stamps that agree)"))
            return []
        if verdict == "new_time_base":
            self._event("new_time_base", f"input {index}: stamps jumped to {stamp_ns} ns and stayed: a new time "
                                         "base; what was queued of the old one is dropped")
            for k in range(self.num_inputs):
                self._stamps[k].clear()
                self._msgs[k].clear()
                self._last_out[k] = None
                if k != index:
                    self._guards[k].reset()
        last = self._last_out[index]
        if last is not None and stamp_ns <= last:
            self.dropped[index] += 1
            self._event("too_late", f"input {index}: stamp {stamp_ns} ns is not after the last matched {last} ns")
            return []
        st, ms = self._stamps[index], self._msgs[index]
        i = bisect.bisect_right(st, stamp_ns)
        st.insert(i, stamp_ns)
        ms.insert(i, msg)
        if len(st) > self.queue_size:
            del st[0], ms[0]
            self.dropped[index] += 1
        out: List[List[Any]] = []
        while all(self._stamps):
            match = self._try_match()
            if match is None:
                continue
            out.append(match)
        return out

    def _try_match(self) -> Optional[List[Any]]:
        heads = [s[0] for s in self._stamps]
        pivot_in = max(range(self.num_inputs), key=lambda k: heads[k])
        pivot = heads[pivot_in]
        chosen: List[Tuple[int, int]] = []   # (input, position)
        for k in range(self.num_inputs):
            if k == pivot_in:
                chosen.append((k, 0))
                continue
            st = self._stamps[k]
            j = bisect.bisect_left(st, pivot)
            best = min((p for p in (j - 1, j) if 0 <= p < len(st)), key=lambda p: abs(st[p] - pivot))
            if abs(st[best] - pivot) > self.slop_ns:
                # the oldest head anywhere can no longer find partners: drop it
                oldest = min(range(self.num_inputs), key=lambda q: heads[q])
                del self._stamps[oldest][0], self._msgs[oldest][0]
                self.dropped[oldest] += 1
                return None
            chosen.append((k, best))
        out: List[Any] = []
        for k, p in chosen:
            out.append(self._msgs[k][p])
            self._last_out[k] = self._stamps[k][p]
            self.dropped[k] += p
            del self._stamps[k][:p + 1], self._msgs[k][:p + 1]
        self.emitted += 1
        return out

    def _event(self, cause: str, text: str) -> None:
        self.rejected[cause] = self.rejected.get(cause, 0) + 1
        if len(self._events) < 1000:
            self._events.append((cause, text))

    def take_events(self) -> List[Tuple[str, str]]:
        """(cause, text) of every stamp rejected or time base changed since the last call."""
        ev, self._events = self._events, []
        return ev

    def clear(self) -> None:
        for k in range(self.num_inputs):
            self._stamps[k].clear()
            self._msgs[k].clear()
            self._last_out[k] = None
