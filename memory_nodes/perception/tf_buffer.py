"""A time-interpolating transform buffer (the project's own, for installs without tf2).

Frames form a tree (each child has one parent), as in tf2. Static edges hold at every time; dynamic edges
keep a bounded, time-sorted cache (stamps may arrive out of order) and are interpolated: translation
linearly, rotation by quaternion slerp. A look-up within ``max_extrapolation_ns`` past the newest (or
before the oldest) sample holds that sample; farther is a TransformError, as is an unknown frame or two
frames in different trees. ``stamp_ns == 0`` means "the latest time every edge on the chain can give".

Each dynamic edge's stamps go through a ``StampGuard`` (sync.py): a sample more than the cache time back or
``forward_tolerance_ns`` (24 h; transforms.jump_forward_tolerance_s) ahead of the edge's newest (a 2033
stamp) is a TransformError and never trims the cache; a sustained
jump is a new time base: the edge's cache restarts there.

Transforms are 4x4 ``parent_T_child`` (maps points in child into parent); ``lookup(target, source, t)``
returns ``target_T_source``.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from memory_nodes.common.errors import TransformError
from memory_nodes.common.geometry import R_to_quat, quat_to_R

from .sync import FORWARD_TOLERANCE_NS, StampGuard


def slerp(q0: np.ndarray, q1: np.ndarray, a: float) -> np.ndarray:
    """Spherical interpolation of unit quaternions (x, y, z, w), shortest path; a in [0, 1]."""
    dot = float(np.dot(q0, q1))
    if dot < 0.0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = q0 + a * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = math.acos(min(1.0, dot))
    s = math.sin(theta)
    return (math.sin((1.0 - a) * theta) / s) * q0 + (math.sin(a * theta) / s) * q1


@dataclass
class _Edge:
    parent: str
    static: bool
    stamps: List[int] = field(default_factory=list)        # sorted
    guard: Optional[StampGuard] = None
    trans: List[np.ndarray] = field(default_factory=list)  # (3,)
    quats: List[np.ndarray] = field(default_factory=list)  # (4,) x, y, z, w

    def sample(self, stamp_ns: int, max_extrap_ns: int, child: str) -> np.ndarray:
        if self.static:
            return _to_T(self.trans[0], self.quats[0])
        st = self.stamps
        if stamp_ns == 0:
            return _to_T(self.trans[-1], self.quats[-1])
        if stamp_ns >= st[-1]:
            if stamp_ns - st[-1] > max_extrap_ns:
                raise TransformError(f"{self.parent}->{child}: lookup at {stamp_ns} ns would extrapolate "
                                     f"{(stamp_ns - st[-1]) / 1e9:.3f} s past the newest transform")
            return _to_T(self.trans[-1], self.quats[-1])
        if stamp_ns <= st[0]:
            if st[0] - stamp_ns > max_extrap_ns:
                raise TransformError(f"{self.parent}->{child}: lookup at {stamp_ns} ns is "
                                     f"{(st[0] - stamp_ns) / 1e9:.3f} s before the oldest cached transform")
            return _to_T(self.trans[0], self.quats[0])
        i = bisect.bisect_right(st, stamp_ns)
        t0, t1 = st[i - 1], st[i]
        a = (stamp_ns - t0) / (t1 - t0)
        tr = (1.0 - a) * self.trans[i - 1] + a * self.trans[i]
        return _to_T(tr, slerp(self.quats[i - 1], self.quats[i], a))


def _to_T(t: np.ndarray, q: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = quat_to_R(float(q[0]), float(q[1]), float(q[2]), float(q[3]))
    T[:3, 3] = t
    return T


class TransformBuffer:
    """Static + dynamic transforms with chain look-ups. Time is passed in; nothing reads a clock."""

    def __init__(self, cache_time_ns: int = 10_000_000_000, max_extrapolation_ns: int = 50_000_000,
                 max_samples_per_edge: int = 1000, forward_tolerance_ns: int = FORWARD_TOLERANCE_NS,
                 new_time_base_stamps: int = 3):
        if (cache_time_ns <= 0 or max_extrapolation_ns < 0 or max_samples_per_edge < 2 or forward_tolerance_ns <= 0
                or new_time_base_stamps < 1):
            raise ValueError("cache_time_ns > 0, max_extrapolation_ns >= 0, max_samples_per_edge >= 2, "
                             "forward_tolerance_ns > 0, new_time_base_stamps >= 1")
        self.cache_time_ns = int(cache_time_ns)
        self.forward_tolerance_ns = int(forward_tolerance_ns)
        self.new_time_base_stamps = int(new_time_base_stamps)
        self.max_extrapolation_ns = int(max_extrapolation_ns)
        self.max_samples_per_edge = int(max_samples_per_edge)
        self._edges: Dict[str, _Edge] = {}   # child -> edge to its parent

    # ------------------------------------------------------------------ writing

    def set_transform(self, parent: str, child: str, parent_T_child: np.ndarray, stamp_ns: int,
                      static: bool = False) -> None:
        """Add one sample. A child that changes parent, or a loop, is a TransformError."""
        if not parent or not child or parent == child:
            raise TransformError(f"bad frame names {parent!r} -> {child!r}")
        T = np.asarray(parent_T_child, dtype=float)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)):
            raise TransformError(f"{parent}->{child}: transform must be a finite 4x4")
        edge = self._edges.get(child)
        if edge is None or edge.parent != parent:
            if edge is not None and not static and not edge.static:
                raise TransformError(f"{child} already has parent {edge.parent}, not {parent}")
            if self._is_ancestor(child, parent):
                raise TransformError(f"{parent}->{child} would make a loop")
            edge = _Edge(parent=parent, static=static)
            self._edges[child] = edge
        t = T[:3, 3].copy()
        q = np.array(R_to_quat(T[:3, :3]))
        if static:
            edge.static = True
            edge.stamps, edge.trans, edge.quats = [int(stamp_ns)], [t], [q]
            return
        if edge.static:
            raise TransformError(f"{parent}->{child} is static; a dynamic sample was given")
        if edge.guard is None:
            edge.guard = StampGuard(self.cache_time_ns, self.new_time_base_stamps, reject_zero=False,
                                    forward_tolerance_ns=self.forward_tolerance_ns)
        verdict = edge.guard.check(int(stamp_ns))
        if verdict in ("zero_stamp", "stamp_jump"):
            raise TransformError(f"{parent}->{child}: sample stamped {int(stamp_ns)} ns rejected ({verdict}: "
                                 f"newest is {edge.guard.newest} ns)")
        if verdict == "new_time_base":
            edge.stamps, edge.trans, edge.quats = [], [], []
        st = edge.stamps
        i = bisect.bisect_left(st, int(stamp_ns))
        if i < len(st) and st[i] == stamp_ns:
            edge.trans[i], edge.quats[i] = t, q
        else:
            st.insert(i, int(stamp_ns))
            edge.trans.insert(i, t)
            edge.quats.insert(i, q)
        # forget samples older than the cache window (relative to the newest) and beyond the bound
        cut = bisect.bisect_left(st, st[-1] - self.cache_time_ns)
        cut = max(cut, len(st) - self.max_samples_per_edge)
        if cut > 0:
            del st[:cut], edge.trans[:cut], edge.quats[:cut]

    def clear(self) -> None:
        self._edges.clear()

    # ------------------------------------------------------------------ reading

    def frames(self) -> List[str]:
        names = set(self._edges)
        names.update(e.parent for e in self._edges.values())
        return sorted(names)

    def lookup(self, target: str, source: str, stamp_ns: int) -> np.ndarray:
        """target_T_source at ``stamp_ns`` (0: latest). Raises TransformError."""
        if target == source:
            return np.eye(4)
        up_s = self._chain(source)
        up_t = self._chain(target)
        if up_s[-1] != up_t[-1]:
            raise TransformError(self._unknown_msg(target, source, up_t, up_s))
        ancestors_t = {f: i for i, f in enumerate(up_t)}
        k = next(i for i, f in enumerate(up_s) if f in ancestors_t)
        common = up_s[k]
        if stamp_ns == 0:
            stamp_ns = self._latest_common(up_s[:k] + up_t[:ancestors_t[common]])
        root_T_src = np.eye(4)
        for child in up_s[:k]:              # source up to the common ancestor
            root_T_src = self._edges[child].sample(stamp_ns, self.max_extrapolation_ns, child) @ root_T_src
        root_T_tgt = np.eye(4)
        for child in up_t[:ancestors_t[common]]:
            root_T_tgt = self._edges[child].sample(stamp_ns, self.max_extrapolation_ns, child) @ root_T_tgt
        return np.linalg.solve(root_T_tgt, root_T_src) if ancestors_t[common] else root_T_src

    def can_transform(self, target: str, source: str, stamp_ns: int) -> bool:
        try:
            self.lookup(target, source, stamp_ns)
            return True
        except TransformError:
            return False

    def time_range_ns(self, parent_child: Tuple[str, str]) -> Optional[Tuple[int, int]]:
        """(oldest, newest) cached stamps of one dynamic edge; None if unknown or static."""
        edge = self._edges.get(parent_child[1])
        if edge is None or edge.parent != parent_child[0] or edge.static:
            return None
        return edge.stamps[0], edge.stamps[-1]

    # ------------------------------------------------------------------ internals

    def _chain(self, frame: str) -> List[str]:
        """[frame, parent, grandparent, ..., root]."""
        out = [frame]
        seen = {frame}
        while out[-1] in self._edges:
            p = self._edges[out[-1]].parent
            if p in seen:
                raise TransformError(f"loop in the transform tree at {p}")
            out.append(p)
            seen.add(p)
        return out

    def _is_ancestor(self, a: str, b: str) -> bool:
        return a in self._chain(b)

    def _latest_common(self, children: List[str]) -> int:
        newest = [self._edges[c].stamps[-1] for c in children if not self._edges[c].static]
        return min(newest) if newest else 0

    def _unknown_msg(self, target: str, source: str, up_t: List[str], up_s: List[str]) -> str:
        known = set(self.frames())
        missing = [f for f in (target, source) if f not in known]
        if missing:
            return f"frame(s) {missing} unknown; known frames: {sorted(known)}"
        return f"{target} and {source} are not connected ({' -> '.join(up_t)} | {' -> '.join(up_s)})"
