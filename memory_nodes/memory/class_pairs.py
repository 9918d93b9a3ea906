"""Class relations as arrays: the Tracker's ``class_sim(a, b)`` and ``near(a, b)`` (identity.py) for whole
blocks of detection x track class pairs at once.

Both are functions of the two class names only (the memory state caches class_sim for its lifetime), so
each name gets a small integer code and each pair a cell in a growing matrix, filled the first time a
block asks for it. Association and the in-frame duplicate search read blocks of hundreds of pairs a
frame; a dictionary lookup per pair in Python was most of their time.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import numpy as np


class ClassPairs:
    def __init__(self, class_sim: Callable[[str, str], float], near: Callable[[str, str], bool]):
        self._class_sim = class_sim
        self._near = near
        self._code: Dict[str, int] = {}
        self._names: list = []
        self._sim = np.zeros((0, 0))            # NaN: not asked yet
        self._nr = np.zeros((0, 0), np.int8)    # -1: not asked yet, else 0 / 1

    def codes(self, names: Sequence[str]) -> np.ndarray:
        """Each name's code (new names get the next codes)."""
        code = self._code
        out = []
        for s in names:
            c = code.get(s)
            if c is None:
                c = code[s] = len(self._names)
                self._names.append(s)
            out.append(c)
        if len(self._names) > self._sim.shape[0]:
            self._grow(len(self._names))
        return np.asarray(out, np.intp)

    def _grow(self, k: int) -> None:
        n = max(k, 2 * self._sim.shape[0], 16)
        sim, nr = np.full((n, n), np.nan), np.full((n, n), -1, np.int8)
        m = self._sim.shape[0]
        sim[:m, :m], nr[:m, :m] = self._sim, self._nr
        self._sim, self._nr = sim, nr

    def sim(self, a: np.ndarray, b: np.ndarray, where: Optional[np.ndarray] = None) -> np.ndarray:
        """class_sim(a[i], b[j]) as an (len(a), len(b)) array; with ``where`` (a bool mask of that shape),
        only those cells are asked for (the others are 0)."""
        block = self._sim[np.ix_(a, b)]
        todo = np.isnan(block) if where is None else np.isnan(block) & where
        if todo.any():
            names = self._names
            for i, j in np.argwhere(todo).tolist():
                ca, cb = int(a[i]), int(b[j])
                if np.isnan(self._sim[ca, cb]):
                    v = 1.0 if ca == cb else float(self._class_sim(names[ca], names[cb]))
                    self._sim[ca, cb] = self._sim[cb, ca] = v
            block = self._sim[np.ix_(a, b)]
        if where is None:
            return block
        return np.where(where, block, 0.0)

    def near(self, a: np.ndarray, b: np.ndarray, where: Optional[np.ndarray] = None) -> np.ndarray:
        """near(a[i], b[j]) as a bool array (``where``: only those cells are asked for, the others False)."""
        block = self._nr[np.ix_(a, b)]
        todo = block < 0 if where is None else (block < 0) & where
        if todo.any():
            names = self._names
            for i, j in np.argwhere(todo).tolist():
                ca, cb = int(a[i]), int(b[j])
                if self._nr[ca, cb] < 0:
                    self._nr[ca, cb] = int(bool(ca == cb or self._near(names[ca], names[cb])))
            block = self._nr[np.ix_(a, b)]
        out = block > 0
        return out if where is None else out & where
