"""Frames perception sent that memory has not acknowledged, kept to be resent (pure: no clock, no rclpy).

    sent(stamp_ns, item, nbytes)        after each frame is published: kept until a memory that received it
                                        acknowledges it; returns how many older frames overflowed the bounds
    acked(reader, through_ns, now_s)    a watermark (memory/ingested_through) from memory ``reader``; returns
                                        the frames to resend to it, in the order they were first sent

Memory's watermark says "every frame I received stamped at or before this is stored"; it says nothing of
frames it never received. So a frame counts as acknowledged only by a memory that received it: each kept
frame records the memories (``reader``: the id of a memory/ingested_through publisher, a new one for each
memory process) perception had heard from when it sent the frame. A watermark from memory R drops the
frames at or before it that R had; the first watermark from a memory not heard before (memory came back
after a crash, or started after perception) makes every kept frame it may not have due for a resend to
it, oldest first. A memory silent for more than ``silence_s`` (it publishes at least every second) may have
been away without dying (deactivated and activated again, stalled): when heard again it gets every kept
frame it has not acknowledged, whatever it was sent before. Resends are idempotent: memory refuses a frame
it already stored (``duplicate_frame``). So a memory crash loses nothing perception still holds, whether it
was in flight, sent while memory was down, or stored and not yet acknowledged.

Bounded by count and bytes (``max_frames``, ``max_bytes``). What happens when a frame would not fit is the
node's policy (``resend.when_full``):
  refuse       (default) the new frame is not sent: ``room_for`` says no, the node rejects the frame
               (perception/frame_ack without a perception/frames message: the sender sees it refused) and
               counts it (``refused``). Every frame perception did send stays kept until a memory that
               received it acknowledges it, so memory's time watermark can never pass a frame perception
               sent and memory does not hold: the ring's bound becomes back-pressure, not loss.
  drop_oldest  the new frame is sent and the oldest kept one is dropped unacknowledged (``sent`` returns
               and ``dropped`` counts them). Fresher data survives a long outage, but memory's watermark
               later passes the dropped frames' stamps: a frame the sender saw accepted may be missing.
Either way nothing is dropped silently.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Deque, Hashable, List, Set


@dataclass
class _Kept:
    stamp_ns: int
    item: Any
    nbytes: int
    readers: Set[Hashable] = field(default_factory=set)   # memories that received it (or were sent it)


class ResendRing:
    def __init__(self, max_frames: int, max_bytes: int, silence_s: float = 10.0, max_readers: int = 8):
        if max_frames < 0 or max_bytes <= 0 or not silence_s > 0 or max_readers < 1:
            raise ValueError("max_frames >= 0, max_bytes > 0, silence_s > 0, max_readers >= 1")
        self.silence_s = float(silence_s)
        self.max_frames = int(max_frames)
        self.max_bytes = int(max_bytes)
        self._kept: Deque[_Kept] = deque()
        self._known: "OrderedDict[Hashable, float]" = OrderedDict()  # memory -> when last heard (s), oldest first
        self._max_readers = int(max_readers)
        self.nbytes = 0
        self.dropped = 0           # frames dropped unacknowledged (overflow)
        self.resent = 0            # frames resent
        self.n_acked = 0           # frames acknowledged
        self.refused = 0           # frames not sent because the ring was full (policy refuse: the node counts)

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def readers(self) -> List[Hashable]:
        return list(self._known)

    def room_for(self, nbytes: int) -> bool:
        """Would one more frame of ``nbytes`` fit without dropping a kept one? (Always with the ring off; a
        frame larger than ``max_bytes`` fits an empty ring, as ``sent`` keeps at least one.)"""
        if self.max_frames == 0:
            return True
        return len(self._kept) < self.max_frames and (
            not self._kept or self.nbytes + max(0, int(nbytes)) <= self.max_bytes)

    def sent(self, stamp_ns: int, item: Any, nbytes: int) -> int:
        """Keep one published frame; returns how many frames overflowed (dropped unacknowledged) now."""
        if self.max_frames == 0:
            return 0
        self._kept.append(_Kept(int(stamp_ns), item, max(0, int(nbytes)), set(self._known)))
        self.nbytes += max(0, int(nbytes))
        dropped = 0
        while len(self._kept) > self.max_frames or (self.nbytes > self.max_bytes and len(self._kept) > 1):
            self.nbytes -= self._kept.popleft().nbytes
            dropped += 1
        self.dropped += dropped
        return dropped

    def acked(self, reader: Hashable, through_ns: int, now_s: float) -> List[Any]:
        """Memory ``reader`` stored every frame it received stamped <= ``through_ns``: drop those; if it was
        not heard from before, return (in order) the kept frames it may not have, now counted as sent to it;
        if it was silent more than ``silence_s`` before ``now_s`` (monotonic s), every kept frame."""
        through_ns = int(through_ns)
        new = reader not in self._known
        back = not new and now_s - self._known[reader] > self.silence_s
        self._known[reader] = float(now_s)
        self._known.move_to_end(reader)
        while len(self._known) > self._max_readers:
            self._known.popitem(last=False)
        kept: Deque[_Kept] = deque()
        for k in self._kept:
            if reader in k.readers and k.stamp_ns <= through_ns:
                self.nbytes -= k.nbytes
                self.n_acked += 1
            else:
                kept.append(k)
        self._kept = kept
        if not (new or back):
            return []
        due = [k for k in self._kept if back or reader not in k.readers]
        for k in due:
            k.readers.add(reader)
        self.resent += len(due)
        return [k.item for k in due]
