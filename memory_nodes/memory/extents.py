"""Where a track is and where it was seen from: its merged extent, its viewpoints, and whether a view saw
through its spot. Pure helpers over records.Track (identity.py, absences.py and consolidation.py use them).

- The merged extent of a stay: a uniform sample (reservoir, ``EXT_SAMPLES`` boxes) of its sightings'
  boxes; each face is the ``trim_frac`` quantile of the sample, so a few boxes that spill into the
  background do not grow it while a large object's parts, each seen often, do.
- Viewpoints: camera poses [x, y, z, optical axis x, y, z] (map frame, m), kept when no stored one is
  within a baseline and a rotation of it (optionally also apart in time): independent looks.
- Seen through: the view's depth lies past the object's far side: nothing is where it was.
"""
from __future__ import annotations

import bisect
import dataclasses
import math
import operator
from typing import List, Optional

import numpy as np

from ..common.types import View
from ..common.visibility import VISIBLE, visibility
from .config import AbsenceConfig
from .records import Track


def norm3(v: np.ndarray) -> float:
    """``float(np.linalg.norm(v))`` of a 1-D float64 array, bit for bit (the same dot, a correctly rounded
    sqrt), without its overhead: these small norms are taken tens of thousands of times a minute."""
    return math.sqrt(v.dot(v))


MAX_VIEWPOINTS = 8           # viewpoints kept per list
EXT_SAMPLES = 32             # boxes kept per stay for its extent


def add_distinct(vps: List[List[float]], vp: Optional[np.ndarray], baseline_m: float, rotation_rad: float,
                 stamp_s: Optional[float] = None, interval_s: float = float("inf")) -> bool:
    """Append camera pose ``vp`` (6,) to ``vps`` (capped; with ``stamp_s`` as a 7th value) unless one there
    is within baseline_m and rotation_rad of it (and, with stamps, less than interval_s earlier or later);
    True if appended."""
    if vp is None or len(vps) >= MAX_VIEWPOINTS:
        return False
    for old in vps:
        o = np.asarray(old, float)
        cos = float(np.clip(np.dot(o[3:6], vp[3:6]), -1.0, 1.0))
        if norm3(o[:3] - vp[:3]) < baseline_m and np.arccos(cos) < rotation_rad and (
                stamp_s is None or len(o) < 7 or abs(stamp_s - float(o[6])) < interval_s):
            return False
    vps.append([float(x) for x in vp] + ([] if stamp_s is None else [float(stamp_s)]))
    return True


def spot_seen_through(limits: AbsenceConfig, view: View, pos: np.ndarray, extent_m: float) -> bool:
    """The view's depth lies beyond an object's far side: ``pos`` pushed back along the ray by half its
    extent + limits.seen_through_margin_m is still in view and in front of the depth (common/visibility.py
    without occlusion tolerance). Nothing is where it was, whatever the detector says."""
    cam = np.asarray(view.map_T_camera, float)[:3, 3]
    ray = np.asarray(pos, float) - cam
    dist = norm3(ray)
    if dist <= 0.0:
        return False
    back = pos + ray / dist * (0.5 * extent_m + limits.seen_through_margin_m)
    strict = dataclasses.replace(limits, occlusion_tolerance_m=0.0)
    return bool(visibility(strict, view, back[None, :], np.zeros(1))[0] == VISIBLE)


def grow_extent(tr: Track, b0: np.ndarray, b1: np.ndarray, trim_frac: float) -> None:
    """Offer a sighting's box to the stay's uniform sample (reservoir) and recompute the extent."""
    rows = tr.ext_samples
    offered = tr.ext_offered + 1
    tr.ext_offered = offered
    old: Optional[List[float]] = None
    j = -1
    if len(rows) >= EXT_SAMPLES:
        j = ((offered * 2654435761) & 0xFFFFFFFF) % offered   # a deterministic "draw"
        if j >= EXT_SAMPLES:
            return                     # the sample, and so the extent, stays as it is
    if b0.dtype == np.float64 and b1.dtype == np.float64:
        box = b0.tolist() + b1.tolist()              # Python floats already
    else:
        box = [float(x) for x in b0.tolist()] + [float(x) for x in b1.tolist()]
    cols = _sorted_cols(tr)          # before the sample changes
    if j < 0:
        rows.append(box)
    else:
        old = rows[j]
        rows[j] = box
    if cols is not None and _plain_row(box) and (old is None or _plain_row(old)):
        # the sorted columns, one value out and one in: the lists set_extent would sort
        new_cols = []
        for k in range(6):
            c = cols[k][:]
            if old is not None:
                c.remove(old[k])
            bisect.insort(c, box[k])
            new_cols.append(c)
        _extent_from_sorted(tr, trim_frac, new_cols, len(rows))
        tr.__dict__["_ext_cols"] = (rows, list(rows), new_cols)
        return
    set_extent(tr, trim_frac)


_PLAIN_ABS = 1e300          # values this small add up (32 of them, in any order) to a finite sum


def _plain_row(r: List[float]) -> bool:
    """A finite, non-zero, moderate 6-value box: its place in a sorted column is unambiguous (no NaN, no
    0.0 beside -0.0, which compare equal but print differently) and no sum of a sample's column overflows."""
    return len(r) == 6 and all(v != 0.0 and -_PLAIN_ABS <= v <= _PLAIN_ABS for v in r)


def _sorted_cols(tr: Track) -> Optional[List[List[float]]]:
    """The sample's six columns, each sorted, as set_extent last sorted them, while the sample is the same
    rows (the same list holding the same row objects: rows are replaced, never changed in place); None if
    not known (then set_extent sorts)."""
    c = tr.__dict__.get("_ext_cols")
    rows = tr.ext_samples
    if c is None or c[0] is not rows or len(c[1]) != len(rows) or not all(map(operator.is_, c[1], rows)):
        return None
    return c[2]


def _extent_from_sorted(tr: Track, trim_frac: float, srt: List[List[float]], n: int) -> None:
    """set_extent's faces from the sample's sorted columns (n rows)."""
    q = trim_frac * (n - 1)
    i, f = int(q), q - int(q)
    j = min(i + 1, n - 1)
    lo = [s[i] + f * (s[j] - s[i]) for s in srt[:3]]
    hi = [s[n - 1 - i] - f * (s[n - 1 - i] - s[n - 1 - j]) for s in srt[3:]]
    tr.ext_min, tr.ext_max = np.array(lo, float), np.array(hi, float)


def set_extent(tr: Track, trim_frac: float) -> None:
    """Each face of the extent: the ``trim_frac`` quantile of the sample's boxes (linear interpolation).
    The sorted columns are kept on the track (``_sorted_cols``) so that grow_extent changes them by one
    value instead of sorting again."""
    rows = tr.ext_samples
    tr.__dict__.pop("_ext_cols", None)
    cols = list(zip(*rows)) if rows and all(len(r) == 6 for r in rows) else []
    if len(cols) == 6 and all(math.isfinite(sum(c)) for c in cols):
        # the same order statistics and the same float operations as the array version below
        srt = [sorted(c) for c in cols]
        _extent_from_sorted(tr, trim_frac, srt, len(rows))
        if all(-_PLAIN_ABS <= s[0] and s[-1] <= _PLAIN_ABS for s in srt):
            tr.__dict__["_ext_cols"] = (rows, list(rows), srt)
        return
    a = np.sort(np.asarray(tr.ext_samples, float).reshape(-1, 6), axis=0)
    n = a.shape[0]
    if not n:
        return
    q = trim_frac * (n - 1)                     # linear interpolation, as np.quantile
    i, f = int(q), q - int(q)
    j = min(i + 1, n - 1)
    lo = a[i, :3] + f * (a[j, :3] - a[i, :3])
    hi = a[n - 1 - i, 3:] - f * (a[n - 1 - i, 3:] - a[n - 1 - j, 3:])
    tr.ext_min, tr.ext_max = lo, hi


def pool_extent(host: Track, other: Track, trim_frac: float) -> None:
    """host's extent covers other's too (one object): the samples pooled, in proportion."""
    pool = host.ext_samples + other.ext_samples
    if len(pool) > EXT_SAMPLES:
        step = len(pool) / EXT_SAMPLES
        pool = [pool[int(i * step)] for i in range(EXT_SAMPLES)]
    host.ext_samples = [list(v) for v in pool]
    host.ext_offered += other.ext_offered
    set_extent(host, trim_frac)


def is_large(tr: Track, min_extent_m: float) -> bool:
    """An object seen in parts: its merged extent's diagonal at least ``min_extent_m``."""
    return tr.extent_diag2() >= min_extent_m ** 2


def outside_extent(tr: Track, pos: np.ndarray, margin_m: float) -> bool:
    """``pos`` outside the merged extent grown by ``margin_m``."""
    return bool(np.any(pos > tr.extent_max + margin_m) or np.any(pos < tr.extent_min - margin_m))
