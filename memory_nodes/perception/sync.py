"""A small approximate-time synchronizer (message_filters is not a pip wheel; the node uses
message_filters' ApproximateTimeSynchronizer where it is importable, this one elsewhere).

One bounded queue per input, kept sorted by stamp. Whenever every queue holds something, the latest head
is the pivot: if every other input has a message within ``slop_ns`` of it, the nearest of each forms a
set, which is emitted; everything older in those queues is dropped. Otherwise the oldest head can never
be matched (every input's future stamps only grow) and is dropped. A message older than what its input
already emitted arrives too late and is dropped. Drops are counted per input.
"""
from __future__ import annotations

import bisect
from typing import Any, List, Optional, Tuple


class ApproxTimeSync:
    def __init__(self, num_inputs: int, slop_ns: int, queue_size: int = 10):
        if num_inputs < 1 or slop_ns < 0 or queue_size < 1:
            raise ValueError("num_inputs >= 1, slop_ns >= 0, queue_size >= 1")
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
        last = self._last_out[index]
        if last is not None and stamp_ns <= last:
            self.dropped[index] += 1
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

    def clear(self) -> None:
        for k in range(self.num_inputs):
            self._stamps[k].clear()
            self._msgs[k].clear()
            self._last_out[k] = None
