"""The live tracks' geometry as arrays, for the per-frame association (identity.py) and the search for
overlapping extents (consolidation.py), kept up to date row by row instead of rebuilt every frame.

Per live track, in the order of ``MemoryState.act_ids``:
    gate (m,)         association gate radius: max(gate_m, gate_extent_factor * extent_m) (m)
    lo, hi (m, 3)     merged extent (map frame, m)
    color (m, 3)      running mean colour [0, 1]
    large (m,)        merged extent's diagonal >= part_min_extent_m
    confirmed (m,)    present or missing

A row is recomputed only when its track changed what the row is made of: records.Track's arrays are
replaced, never changed in place, and assigning one (or the status) gives the track a new ``rev``, so
``refresh`` compares the rows' revs with the tracks' (one array comparison: the revs are read at C
speed, not row by row in Python) and recomputes the stale ones.
"""
from __future__ import annotations

from collections import abc
from operator import attrgetter
from typing import List, Sequence

import numpy as np

from .config import AssociationConfig
from .records import Track


class TrackTable:
    def __init__(self, cfg: AssociationConfig):
        self.cfg = cfg
        self._ids_src: object = None            # the act_ids list the rows follow
        self._row_ids: List[int] = []
        self._src = np.zeros(0, np.int64)       # per row: the Track.rev it was computed from (-1: none)
        self.gate = np.zeros(0)
        self.lo = np.zeros((0, 3))
        self.hi = np.zeros((0, 3))
        self.color = np.zeros((0, 3))
        self.large = np.zeros(0, bool)
        self.confirmed = np.zeros(0, bool)

    def refresh(self, act_ids: List[int], tracks: Sequence[Track]) -> None:
        """Rows for ``tracks`` (the live tracks of ``act_ids``, in that order)."""
        if act_ids is not self._ids_src or len(self._src) != len(tracks):
            self._reorder(act_ids, tracks)
        m = len(tracks)
        if not m:
            return
        revs = np.fromiter(map(_rev, tracks), np.int64, m)
        stale = np.flatnonzero(revs != self._src)
        if len(stale):
            self._compute(stale, [tracks[k] for k in stale.tolist()])

    def _compute(self, ks: np.ndarray, trs: List[Track]) -> None:
        """Rows ``ks`` from their tracks ``trs``, all at once."""
        cfg = self.cfg
        self._src[ks] = [tr.rev for tr in trs]
        self.gate[ks] = [max(cfg.gate_m, cfg.gate_extent_factor * tr.extent_m) for tr in trs]
        self.lo[ks] = [tr.extent_min for tr in trs]
        self.hi[ks] = [tr.extent_max for tr in trs]
        self.color[ks] = [tr.color for tr in trs]
        lim = cfg.part_min_extent_m ** 2
        self.large[ks] = [tr.extent_diag2() >= lim for tr in trs]
        self.confirmed[ks] = [tr.confirmed for tr in trs]

    def _reorder(self, act_ids: List[int], tracks: Sequence[Track]) -> None:
        """New row order (tracks came or went): rows of tracks already here move along (``refresh``
        then checks them as any other)."""
        m = len(tracks)
        n_old = len(self._row_ids)
        if n_old <= m and len(self._src) == n_old and act_ids[:n_old] == self._row_ids:
            # only tracks added at the end (a new track; the usual case): the rows stay, new ones are appended
            extra = m - n_old
            self._ids_src, self._row_ids = act_ids, self._row_ids + [tr.id for tr in tracks[n_old:]]
            self._src = np.concatenate([self._src, np.full(extra, -1, np.int64)])
            self.gate = np.concatenate([self.gate, np.zeros(extra)])
            self.lo = np.concatenate([self.lo, np.zeros((extra, 3))])
            self.hi = np.concatenate([self.hi, np.zeros((extra, 3))])
            self.color = np.concatenate([self.color, np.zeros((extra, 3))])
            self.large = np.concatenate([self.large, np.zeros(extra, bool)])
            self.confirmed = np.concatenate([self.confirmed, np.zeros(extra, bool)])
            return
        old = self._src.tolist()
        was = {tid: j for j, tid in enumerate(self._row_ids) if old[j] >= 0}
        take = np.array([was.get(tr.id, -1) for tr in tracks], int)
        have = take >= 0
        src = np.full(m, -1, np.int64)
        src[have] = self._src[take[have]]
        gate, lo, hi = np.zeros(m), np.zeros((m, 3)), np.zeros((m, 3))
        color, large, confirmed = np.zeros((m, 3)), np.zeros(m, bool), np.zeros(m, bool)
        if have.any():
            t = take[have]
            gate[have], lo[have], hi[have] = self.gate[t], self.lo[t], self.hi[t]
            color[have], large[have], confirmed[have] = self.color[t], self.large[t], self.confirmed[t]
        self._ids_src, self._src, self._row_ids = act_ids, src, [tr.id for tr in tracks]
        self.gate, self.lo, self.hi, self.color, self.large, self.confirmed = gate, lo, hi, color, large, confirmed


_rev = attrgetter("rev")


class TrackAttr(abc.Sequence):
    """``[getattr(t, name) for t in tracks]`` without building it (association reads a few)."""

    def __init__(self, tracks: Sequence[Track], name: str):
        self._tracks = tracks
        self._name = name

    def __len__(self) -> int:
        return len(self._tracks)

    def __getitem__(self, j):
        return getattr(self._tracks[j], self._name)
