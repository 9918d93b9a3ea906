"""Consolidation: records that are one object become one (identity.py calls it every frame).

- Duplicates in one frame (``frame_duplicates``): two detections of the same or near classes (table /
  desk) with centroids within ``duplicate_centroid_frac`` of the smaller box's diagonal (one of them
  large, ``part_min_extent_m``: small look-alikes side by side stay two), or whose boxes
  overlap, the smaller ``duplicate_overlap`` inside the larger (near classes: and of comparable size,
  IoU >= ``duplicate_min_iou``: a chair under a desk box is a chair), are one object
  seen twice by the detector (per-class NMS keeps both); so are two boxes of one class that touch
  (``part_gap_m``) when one is large (``part_min_extent_m``): a table seen as two parts. The weaker is a
  class vote of the stronger's track (not a sample of its extent: only matched boxes grow it, so a box
  that spills into a neighbour cannot pull the neighbour in).
- One space, one object (``consolidate``): two confirmed tracks of the same or near classes, one of
  them large (``part_min_extent_m``), the smaller merged extent ``merge_extent_overlap`` inside the
  larger, are fused even if detected in one frame (two objects cannot fill one space: the detector boxed
  one twice; small look-alikes side by side keep the one-frame rule); a large object seen in parts:
  one class, never detected apart in one frame, extents overlapping -> fused. The older identity stays;
  nothing moved: no event.
- Duplicates from a gap in tracking: confirmed records of the same class right next to each other
  (``absorb_radius_m``), never detected in one frame, of one colour -> merged (identity.py's ``merge``).
- Confused detections: a young record of another class, right there, of comparable size (box volumes
  within ``absorb_max_volume_ratio``: a book on a chair is not the chair's confusion) and seen far less
  often (``absorb_hits_ratio``) -> absorbed into its neighbour (``absorbing_host`` at confirmation too).

Boxes are map-frame axis-aligned (m). Works on a MemoryState through the Tracker (identity.py).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Protocol, Sequence, Set, Tuple

import numpy as np

from ..common.geometry import pair_distances3, row_norms3
from .association import box_volume, color_distance, inside_fraction, padded_boxes
from .class_pairs import ClassPairs
from .config import NS_PER_S, MemoryConfig
from .events import EventLog
from .extents import norm3
from .records import MERGED, PRESENT, Track
from .reid import ReIdentifier
from .repository import Repository
from .state import MemoryState
from .track_table import TrackTable


class ConsolidationHost(Protocol):
    """What consolidation needs of the Tracker (identity.py) that owns it."""
    events: EventLog
    repo: Repository
    reid: ReIdentifier

    def class_sim(self, a: str, b: str) -> float: ...

    def near(self, a: str, b: str) -> bool: ...

    def large(self, tr: Track) -> bool: ...

    def pool_evidence(self, keep: Track, drop: Track) -> None: ...

    def pool_extent(self, host: Track, other: Track) -> None: ...

    @property
    def table(self) -> TrackTable: ...

    @property
    def pairs(self) -> ClassPairs: ...


def box_iou(a_min: np.ndarray, a_max: np.ndarray, b_min: np.ndarray, b_max: np.ndarray) -> float:
    """Intersection over union of two axis-aligned boxes (sides padded to 2 cm)."""
    frac = float(inside_fraction(a_min, a_max, b_min, b_max)[0, 0])
    va, vb = box_volume(a_min, a_max), box_volume(b_min, b_max)
    inter = frac * va
    return inter / max(va + vb - inter, 1e-12)


class Consolidator:
    def __init__(self, config: MemoryConfig, state: MemoryState, tracker: ConsolidationHost):
        self.config = config
        self.s = state
        self.tracker = tracker
        self._act_arr: Optional[Tuple[List[int], np.ndarray]] = None

    # ------------------------------------------------------------------------------ within one frame
    def frame_duplicates(self, idx: Sequence[int], classes: Sequence[str], scores: Sequence[float],
                         pos: np.ndarray, bmin: np.ndarray, bmax: np.ndarray) -> Dict[int, int]:
        """{duplicate index: index of the detection it repeats} among ``idx`` (centroids, boxes (n, 3))."""
        cfg = self.config.association
        if len(idx) < 2:
            return {}
        el = np.asarray(idx)
        # as Python floats (the same values): the loop below reads them pair by pair
        frac = inside_fraction(bmin[el], bmax[el], bmin[el], bmax[el]).tolist()   # share of a inside b
        lo, hi = padded_boxes(bmin[el], bmax[el])
        vol = np.prod(hi - lo, axis=1).tolist()                              # box_volume of each
        diag = row_norms3(bmax[el] - bmin[el]).tolist()
        codes = self.tracker.pairs.codes([classes[i] for i in idx])
        alike = self.tracker.pairs.near(codes, codes).tolist()               # same or near classes
        order = sorted(range(len(el)), key=lambda k: -float(scores[int(el[k])]))   # strongest first
        dup: Dict[int, int] = {}
        kept: List[int] = []
        for k in order:
            i = int(el[k])
            row = alike[k]
            for q in kept:
                if not row[q]:
                    continue
                j = int(el[q])
                small = k if vol[k] <= vol[q] else q
                big = q if small == k else k
                same = classes[i] == classes[j]
                centred = (max(diag[k], diag[q]) >= cfg.part_min_extent_m and norm3(pos[i] - pos[j])
                           <= cfg.duplicate_centroid_frac * min(diag[k], diag[q]))
                if centred or (frac[small][big] >= cfg.duplicate_overlap and (
                        same or box_iou(bmin[i], bmax[i], bmin[j], bmax[j]) >= cfg.duplicate_min_iou)) \
                        or (same and self.parts_of_one(bmin[i], bmax[i], bmin[j], bmax[j])):
                    dup[i] = j
                    break
            else:
                kept.append(k)
        return dup

    def parts_of_one(self, a_min: np.ndarray, a_max: np.ndarray, b_min: np.ndarray, b_max: np.ndarray,
                     gap_m: Optional[float] = None) -> bool:
        """Two boxes that touch (within ``gap_m``, default part_gap_m), one of them large (diagonal >=
        part_min_extent_m): parts of one large object (a table seen as two boxes)."""
        cfg = self.config.association
        gap_m = cfg.part_gap_m if gap_m is None else gap_m
        if max(norm3(a_max - a_min), norm3(b_max - b_min)) < cfg.part_min_extent_m:
            return False
        gap = np.maximum(np.maximum(a_min - b_max, b_min - a_max), 0.0)
        return bool(np.all(gap <= gap_m))

    # ------------------------------------------------------------------------------ across tracks
    def absorbing_host(self, tr: Track) -> Optional[Track]:
        """A confirmed object of another class right where ``tr`` is, of comparable size, seen far more
        often and never in the same frame as it: ``tr`` is that object's confused detections."""
        ms = self.s
        cfg = self.config.association
        best, best_d = None, cfg.absorb_radius_m
        recent = tr.first_seen_ns - int(cfg.tentative_ttl_s * NS_PER_S)
        seen_with = {ms.resolve_track_id(c) for c in tr.cooccur}
        for x in ms.tracks.values():
            if x.status != PRESENT or x.id == tr.id or x.id in seen_with or x.class_name == tr.class_name:
                continue
            if x.hits < cfg.absorb_hits_ratio * tr.hits or x.last_seen_ns < recent:
                continue          # the host must be in view in this very pass, and well established
            d = norm3(x.pos - tr.pos)
            if d <= best_d and self.comparable(tr, x):
                best, best_d = x, d
        return best

    def comparable(self, a: Track, b: Track) -> bool:
        """Boxes of comparable size (volumes within absorb_max_volume_ratio of each other): one thing the
        detector named twice. (Size, not overlap: a small object's centre noise is as large as it is.)"""
        va, vb = box_volume(a.bbox_min, a.bbox_max), box_volume(b.bbox_min, b.bbox_max)
        return max(va, vb) <= self.config.association.absorb_max_volume_ratio * min(va, vb)

    def consolidate(self, touched: Set[int]) -> None:
        """Fuse or absorb the touched confirmed records into the record they are (see the module doc)."""
        ms = self.s
        cfg = self.config.association
        tk = self.tracker
        live = [ms.tracks[i] for i in touched if i in ms.tracks and ms.tracks[i].confirmed]
        if not live:
            return
        boxes: Dict[Any, Any] = {}
        near_sets: Optional[List[Set[int]]] = None     # for live[base:], until a fusion changes the state
        base = 0
        for n_i, tr in enumerate(live):
            if tr.id not in ms.tracks or not tr.confirmed:
                continue
            if near_sets is None:
                near_sets, base = self._neighbour_sets(live[n_i:], boxes), n_i
            near_ids = near_sets[n_i - base]
            tr_large = tk.large(tr)
            # confirmed large tracks, from the table _neighbour_sets just refreshed (nothing changes until a
            # fusion, which asks again): tk.large(other) of a confirmed other, without a call per pair
            large_ids = self._large_ids(boxes)
            co, merged = tr.cooccur, ms.merged
            for oid in sorted(near_ids):
                if not tr_large and oid in co and oid not in merged and oid not in large_ids:
                    continue          # detected with it in one frame, neither large: the seen_apart skip below
                other = ms.tracks.get(oid)
                if other is None or other.id == tr.id or not other.confirmed or tr.id not in ms.tracks:
                    continue
                either_large = tr_large or tk.large(other)
                if not either_large and self.seen_apart(tr, other):
                    continue          # detected apart in one frame: two objects (checked below as well)
                if not tk.reid.coexisted(tr, other):
                    continue          # seen at different times (one replaced the other)
                older, younger = (tr, other) if (tr.first_seen_ns, tr.id) <= (other.first_seen_ns, other.id) \
                    else (other, tr)
                small, big = (tr, other) if tr.hits <= other.hits else (other, tr)
                same = tk.class_sim(tr.class_name, other.class_name) >= 0.99
                if (either_large and (same or tk.near(tr.class_name, other.class_name))
                        and self.one_extent(tr, other)):
                    self.absorb(younger, older)        # one space, one large object: its boxes were doubled
                    boxes.clear()
                    near_sets = None
                    break
                if self.seen_apart(tr, other):
                    continue          # detected apart in one frame: two objects
                if same and self.parts_of_one(tr.extent_min, tr.extent_max, other.extent_min, other.extent_max, 0.0):
                    self.absorb(younger, older)        # one large object seen in parts
                elif norm3(tr.pos - other.pos) > cfg.absorb_radius_m:
                    continue
                elif same:
                    if color_distance(tr.color, other.color) > cfg.reid_max_color_distance:
                        continue
                    tk.reid.merge(new=younger, old=older)
                elif (big.hits >= cfg.absorb_hits_ratio * small.hits and small.hits <= 2 * cfg.confirm_hits
                      and self.comparable(small, big)):
                    self.absorb(small, big)        # only a young record: an established one is an object
                else:
                    continue
                boxes.clear()
                near_sets = None
                break

    def _neighbour_sets(self, tracks: List[Track], boxes: Dict[Any, Any]) -> List[Set[int]]:
        """Per track: the live tracks within absorb_radius_m of it (itself included) and those whose merged
        extent overlaps its own (``_extent_neighbours``), for all of them at once (one array operation,
        not one per track: nothing changes between them until a fusion, after which the caller asks
        again for the rest)."""
        ms = self.s
        if ms.active_dirty:
            ms.rebuild_active()
        pos = np.array([tr.pos for tr in tracks], float).reshape(-1, 3)
        d = pair_distances3(ms.act_pos, pos)
        ids = self._act_ids_array()
        out = [set(ids[row].tolist()) for row in d <= self.config.association.absorb_radius_m]
        large = [self.tracker.large(tr) for tr in tracks]
        live = ms.tracks.keys()
        for only_large in (True, False):
            sel = [k for k, lg in enumerate(large) if lg != only_large]
            if not sel:
                continue
            b_arr, lo, hi = self._extent_boxes(only_large, boxes)
            if not len(b_arr):
                continue
            emin = np.array([tracks[k].extent_min for k in sel], float).reshape(-1, 3)
            emax = np.array([tracks[k].extent_max for k in sel], float).reshape(-1, 3)
            hit = (np.all(lo[None, :, :] <= emax[:, None, :], axis=2)
                   & np.all(emin[:, None, :] <= hi[None, :, :], axis=2))
            for k, row in zip(sel, hit):
                if row.any():
                    got = set(b_arr[row].tolist())
                    got.discard(tracks[k].id)
                    out[k] |= got & live
        return out

    def _act_ids_array(self) -> np.ndarray:
        """``MemoryState.act_ids`` as an array (made again when the list is replaced: rebuild_active)."""
        ms = self.s
        c = self._act_arr
        if c is None or c[0] is not ms.act_ids:
            c = self._act_arr = (ms.act_ids, np.array(ms.act_ids, np.int64))
        return c[1]

    def _large_ids(self, boxes: Dict[Any, Any]) -> Set[int]:
        """Ids of the confirmed large live tracks (``_extent_boxes(True)``), as a set, cached in ``boxes``."""
        s = boxes.get("large_ids")
        if s is None:
            s = boxes["large_ids"] = set(self._extent_boxes(True, boxes)[0].tolist())
        return s

    def _extent_boxes(self, only_large: bool, boxes: Dict[Any, Any]) -> tuple:
        """(ids (array), lo, hi) of the confirmed live tracks' merged extents (only the large ones if
        ``only_large``), from the Tracker's TrackTable, cached in ``boxes`` for this consolidation pass."""
        if only_large not in boxes:
            ms = self.s
            tab = self.tracker.table
            tab.refresh(ms.act_ids, list(map(ms.tracks.__getitem__, ms.act_ids)))
            ids = self._act_ids_array()
            for lg in (True, False):         # both from one refresh (nothing changes in between)
                idx = np.flatnonzero(tab.confirmed & tab.large if lg else tab.confirmed)
                boxes[lg] = (ids[idx], tab.lo[idx], tab.hi[idx])
        return boxes[only_large]

    def seen_apart(self, a: Track, b: Track) -> bool:
        """a and b were detected in one frame as two (merges followed; a record is never apart from itself)."""
        return self._met(a, b.id) or self._met(b, a.id)

    def _met(self, x: Track, target: int) -> bool:
        """``target`` is among the ids ``x`` was detected with, merges followed (a record is never apart
        from itself). Only merged ids resolve elsewhere: those of x's co-occurrence set resolve once and
        are kept on the track while its set and the merge map are the same objects of the same sizes (a
        co-occurrence set only grows in place, and is replaced when it loses ids, identity.py's merge; the
        merge map only gains ids). Over weeks a set holds thousands of ids, and this is asked for every
        pair of neighbours every frame."""
        ms = self.s
        merged = ms.merged
        co = x.cooccur
        if target in co and target not in merged:
            return True
        if not merged:
            return False
        c = x.__dict__.get("_co_resolved")
        if c is None or c[0] is not co or c[1] != len(co) or c[2] is not merged or c[3] != len(merged):
            ids = co & merged.keys() if len(co) <= len(merged) else merged.keys() & co
            c = (co, len(co), merged, len(merged), {ms.resolve_track_id(m) for m in ids})
            x.__dict__["_co_resolved"] = c
        return target in c[4]

    def one_extent(self, a: Track, b: Track) -> bool:
        """The smaller merged extent lies mostly inside the larger: one object's parts."""
        va = box_volume(a.extent_min, a.extent_max)
        vb = box_volume(b.extent_min, b.extent_max)
        small, big = (a, b) if va <= vb else (b, a)
        frac = float(inside_fraction(small.extent_min, small.extent_max, big.extent_min, big.extent_max)[0, 0])
        return frac >= self.config.association.merge_extent_overlap

    def absorb(self, tr: Track, host: Track) -> None:
        """``tr`` was ``host`` all along (a confused detection, or a part of it): one record, no event."""
        ms = self.s
        repo = self.tracker.repo
        host = ms.own_track(host)
        tr = ms.own_track(tr)
        if tr.confirmed:               # a phantom object: nothing it "did" happened
            ms.class_index.get(tr.class_name, set()).discard(tr.id)
            for e in [e for e in ms.events if e.object_id == tr.id]:
                self.tracker.events.delete(e.id)
            repo.reassign_absences(tr.id, host.id)
        self.tracker.pool_evidence(host, tr)
        self.tracker.pool_extent(host, tr)
        hs = host.stay
        hs.end_ns = max(hs.end_ns, tr.last_seen_ns)
        hs.n_obs += sum(x.n_obs for x in tr.stays)
        tr.status = MERGED
        tr.merged_into = host.id
        ms.merged[tr.id] = host.id
        del ms.tracks[tr.id]
        for s in tr.stays:
            ms.dirty_stays.pop(s.id, None)
        ms.active_dirty = True
        ms.mark(tr)
        ms.mark(host, stay=True)
        for i, (stamp, oid, o) in enumerate(ms.recent_obs):
            if oid == tr.id:
                ms.recent_obs[i] = (stamp, host.id, o)
        repo.delete_stays_of(tr.id)
        repo.reassign_observations(tr.id, host.id)
