"""A 2D occupancy grid from depth, rooms cut from it, and room labels inferred from the objects seen.

Grid: every ``pixel_stride``-th depth pixel is lifted to the map frame; points near the floor mark their
cell as seen-free, points between ``obstacle_min_z_m`` and ``obstacle_max_z_m`` count as obstacle hits.

Rooms: the free space (seen floor, small gaps closed, obstacles removed) goes through a distance transform;
cells farther than half a door width from any obstacle or unknown cell form room cores (a door is too
narrow to hold one, so it separates them); tiny cores are dropped; a watershed over the distance (flooding
level by level, 5 cm apart, by geodesic dilation) grows the cores back over all free space; neighbours that
share a border wider than a door (a corridor cut in two by a narrowing) are merged; regions smaller than a
room are dropped. Each new cut is matched to the previous one by overlap so a room keeps its id as the
map grows, day after day. (OpenCV's watershed floods by colour gradient and scipy's watershed_ift leaked
through walls here, hence the own flooding.)

Labels: each room collects the distinct objects seen in it (class + 0.5 m cell, so a fridge seen a hundred
times counts once) that were seen on at least two frames (a one-off detection, most often a false
positive, does not vote); ``label_evidence`` maps classes to room types; a long, narrow room's shape adds
votes for "hallway"; the label is the posterior mode under a small symmetric prior, with its probability as
the confidence, "unknown" below ``label_min_confidence``.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from memory_nodes.common.types import CameraIntrinsics, Room, RoomSegmentation

from .config import RoomsConfig

_OBJECT_CELL_M = 0.5


class OccupancyGrid:
    """Seen-free and obstacle hit counts on a fixed square grid (row = y, column = x)."""

    def __init__(self, config: RoomsConfig):
        config.validate()
        self.config = config
        self.resolution_m = config.grid_resolution_m
        self.origin_xy_m = (config.grid_origin_x_m, config.grid_origin_y_m)
        self.cells = int(round(config.grid_size_m / config.grid_resolution_m))
        self.free_hits = np.zeros((self.cells, self.cells), np.int32)
        self.occ_hits = np.zeros((self.cells, self.cells), np.int32)
        self._rays: Dict[Tuple[CameraIntrinsics, int], Tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _ray_table(self, K: CameraIntrinsics, stride: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        key = (K, stride)
        r = self._rays.get(key)
        if r is None:
            rows = np.arange(stride // 2, K.height, stride)
            cols = np.arange(stride // 2, K.width, stride)
            rr, cc = np.meshgrid(rows, cols, indexing="ij")
            r = (rr, cc, np.stack([((cc - K.cx) / K.fx).ravel(), ((rr - K.cy) / K.fy).ravel(),
                                   np.ones(rr.size)], axis=1))
            if len(self._rays) > 8:
                self._rays.clear()
            self._rays[key] = r
        return r

    def integrate(self, depth_m: np.ndarray, K: CameraIntrinsics, map_T_camera: np.ndarray) -> None:
        cfg = self.config
        s = cfg.pixel_stride
        _, _, rays = self._ray_table(K, s)
        # the ray table's pixels (rows and columns from s // 2, every s-th), sliced in the same row-major order
        z = depth_m[s // 2::s, s // 2::s].astype(np.float64).ravel()
        ok = np.flatnonzero((z > 0.05) & (z < cfg.max_range_m))
        if not ok.size:
            return
        pc = rays[ok] * z[ok, None]
        pm = pc @ map_T_camera[:3, :3].T + map_T_camera[:3, 3]
        col = np.floor((pm[:, 0] - self.origin_xy_m[0]) / self.resolution_m).astype(np.int64)
        row = np.floor((pm[:, 1] - self.origin_xy_m[1]) / self.resolution_m).astype(np.int64)
        inside = (col >= 0) & (col < self.cells) & (row >= 0) & (row < self.cells)
        h = pm[:, 2]
        floor = inside & (h < cfg.floor_max_z_m)
        obst = inside & (h >= cfg.obstacle_min_z_m) & (h <= cfg.obstacle_max_z_m)
        for sel, arr in ((floor, self.free_hits), (obst, self.occ_hits)):
            if np.any(sel):
                # hits counted on the window of the grid they fall in (bincount, no sort), added there
                r, c = row[sel], col[sel]
                r0, c0 = int(r.min()), int(c.min())
                nr, nc = int(r.max()) - r0 + 1, int(c.max()) - c0 + 1
                n = np.bincount((r - r0) * nc + (c - c0), minlength=nr * nc)
                arr[r0:r0 + nr, c0:c0 + nc] += n.reshape(nr, nc).astype(np.int32)

    def cell_of(self, x_m: float, y_m: float) -> Tuple[int, int]:
        return (int(np.floor((y_m - self.origin_xy_m[1]) / self.resolution_m)),
                int(np.floor((x_m - self.origin_xy_m[0]) / self.resolution_m)))

    def known_bounds(self, margin: int = 4) -> Optional[Tuple[int, int, int, int]]:
        """(r0, r1, c0, c1) of the seen part of the grid, with a margin; None if nothing was seen."""
        seen = (self.free_hits > 0) | (self.occ_hits > 0)
        rows = np.flatnonzero(seen.any(axis=1))
        if not rows.size:
            return None
        cols = np.flatnonzero(seen.any(axis=0))
        return (max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, self.cells),
                max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, self.cells))


def flood_markers(markers: np.ndarray, dist: np.ndarray, space: np.ndarray, step_m: float = 0.05) -> np.ndarray:
    """Watershed by flooding: labels grow from the markers over ``space`` level by level, far-from-wall
    cells first (levels of ``dist`` every ``step_m``), each level by geodesic dilation until it settles.
    Returns int32 labels (0 outside ``space`` or unreached)."""
    import cv2

    lbl = np.where(space, markers, 0).astype(np.uint16)
    kernel = np.ones((3, 3), np.uint8)
    top = float(dist.max()) if dist.size else 0.0
    for level in np.arange(top, -step_m, -step_m):
        allowed = space & (dist >= level)
        while True:
            grown = cv2.dilate(lbl, kernel)
            new = allowed & (lbl == 0) & (grown > 0)
            if not new.any():
                break
            lbl[new] = grown[new]
    return lbl.astype(np.int32)


def merge_wide_borders(labels: np.ndarray, min_border_cells: float) -> np.ndarray:
    """Merge neighbouring regions whose shared border is longer than ``min_border_cells``: rooms meet at
    doors, so a wide border is a corridor or an open room that a narrowing cut in two. A border's length
    is the smaller count of distinct cells on either side that touch the other region (4-neighbours), so
    a staircase border is not counted twice. Labels must be < 65536."""
    lab = labels.copy()
    idx = np.arange(lab.size, dtype=np.int64).reshape(lab.shape)
    while True:
        side_lo, side_hi = [], []      # packed (pair << 31 | cell index) per side of each border pair
        for a, b, ia, ib in ((lab[:, :-1], lab[:, 1:], idx[:, :-1], idx[:, 1:]),
                             (lab[:-1, :], lab[1:, :], idx[:-1, :], idx[1:, :])):
            m = (a > 0) & (b > 0) & (a != b)
            if np.any(m):
                av, bv, ai, bi = a[m].astype(np.int64), b[m].astype(np.int64), ia[m], ib[m]
                swap = av > bv
                pair = np.where(swap, bv, av) << 16 | np.where(swap, av, bv)
                side_lo.append(pair << 31 | np.where(swap, bi, ai))
                side_hi.append(pair << 31 | np.where(swap, ai, bi))
        if not side_lo:
            return lab
        pairs, c_lo = np.unique(np.unique(np.concatenate(side_lo)) >> 31, return_counts=True)
        _, c_hi = np.unique(np.unique(np.concatenate(side_hi)) >> 31, return_counts=True)
        width = np.minimum(c_lo, c_hi)            # both count the same sorted set of pairs
        best = int(np.argmax(width))
        if width[best] < min_border_cells:
            return lab
        lo, hi = int(pairs[best] >> 16), int(pairs[best] & 0xFFFF)
        lab[lab == hi] = lo


class RoomLabeler:
    """Distinct objects per place in the map (plus each room's shape) -> room label with a confidence.

    Evidence: an object is a class in a 0.5 m cell; it votes only once it was seen on
    ``label_min_sightings`` frames, so one-off detections (a detector's false positives land at random
    spots, mostly where the robot drives most: the hallway) never label a room. Each confirmed object
    gives one vote, split over the room types that list its class. A room's shape is evidence too: a long,
    narrow room (``hallway_max_width_m``, ``hallway_min_elongation``) adds ``hallway_prior_count`` votes for
    ``hallway_label``, so a corridor stays a corridor when a stray object or two of another room turn up in
    it, while a room whose furniture says otherwise still wins. The label is the mode of the posterior
    mean under a symmetric prior of ``label_prior_count`` per type, its probability the confidence;
    "unknown" below ``label_min_confidence``."""

    def __init__(self, config: RoomsConfig):
        self.config = config
        self._label_of: Dict[str, List[str]] = {}
        for label, classes in config.label_evidence.items():
            for c in classes:
                self._label_of.setdefault(c, []).append(label)
        self.labels = sorted(set(config.label_evidence) | ({config.hallway_label} if config.hallway_label else set()))
        self._objects: Dict[Tuple[str, int, int], List[float]] = {}   # key -> [x, y, frames seen]

    def _key(self, class_name: str, x_m: float, y_m: float) -> Tuple[str, int, int]:
        return class_name, int(np.floor(x_m / _OBJECT_CELL_M)), int(np.floor(y_m / _OBJECT_CELL_M))

    def add(self, class_name: str, x_m: float, y_m: float) -> None:
        """One sighting (one frame) of a class at a map position."""
        self.add_frame([(class_name, x_m, y_m)])

    def add_frame(self, sightings) -> None:
        """The (class, x, y) sightings of one frame: each object (class, cell) counts once per frame."""
        seen = set()
        for class_name, x_m, y_m in sightings:
            if class_name not in self._label_of:
                continue
            key = self._key(class_name, x_m, y_m)
            if key in seen:
                continue
            seen.add(key)
            rec = self._objects.get(key)
            if rec is None:
                self._objects[key] = [float(x_m), float(y_m), 1.0]
            else:
                rec[2] += 1.0

    def to_state(self) -> list:
        return [[c, ix, iy, x, y, int(n)] for (c, ix, iy), (x, y, n) in self._objects.items()]

    def load_state(self, state: list) -> None:
        """Entries [class, ix, iy, x, y, frames]; older states without the count are one sighting each."""
        self._objects = {(str(e[0]), int(e[1]), int(e[2])): [float(e[3]), float(e[4]),
                                                               float(e[5]) if len(e) > 5 else 1.0]
                         for e in state}

    def votes(self, room_at) -> Dict[int, Dict[str, float]]:
        """room id -> room type -> votes of the confirmed objects in it (room_at(x, y) -> room id)."""
        votes: Dict[int, Dict[str, float]] = {}
        need = self.config.label_min_sightings
        for (cls, _, _), (x, y, n) in self._objects.items():
            if n < need:
                continue
            rid = room_at(x, y)
            if rid < 0:
                continue
            labels = self._label_of[cls]
            v = votes.setdefault(rid, {})
            for lab in labels:
                v[lab] = v.get(lab, 0.0) + 1.0 / len(labels)
        return votes

    def shape_votes(self, width_m: float, area_m2: float) -> Dict[str, float]:
        """Pseudo-votes a room's shape gives: ``hallway_prior_count`` for a long, narrow room."""
        cfg = self.config
        if cfg.hallway_label and 0.0 < width_m <= cfg.hallway_max_width_m \
                and area_m2 / (width_m * width_m) >= cfg.hallway_min_elongation:
            return {cfg.hallway_label: cfg.hallway_prior_count}
        return {}

    def label_rooms(self, room_at, shapes: Optional[Dict[int, Tuple[float, float]]] = None
                    ) -> Dict[int, Tuple[str, float]]:
        """room_at(x, y) -> room id; ``shapes``: room id -> (width m, area m2) of the rooms cut. Returns
        room id -> (label, confidence) for every room with votes or in ``shapes``; the label is "unknown"
        below ``label_min_confidence`` (confidence 0.0 where nothing speaks for any type)."""
        objects = self.votes(room_at)
        votes = {rid: dict(v) for rid, v in objects.items()}
        for rid, (width, area) in (shapes or {}).items():
            v = votes.setdefault(rid, {})
            for lab, n in self.shape_votes(width, area).items():
                v[lab] = v.get(lab, 0.0) + n
        a = self.config.label_prior_count
        k = len(self.labels)
        out: Dict[int, Tuple[str, float]] = {}
        for rid, v in votes.items():
            total = sum(v.values())
            if total <= 0.0:
                out[rid] = ("unknown", 0.0)
                continue
            seen = objects.get(rid, {})       # a tie goes to what the objects say, then by name
            best = max(sorted(v), key=lambda lab: (v[lab], seen.get(lab, 0.0)))
            conf = float((v[best] + a) / (total + a * k))
            out[rid] = (best if conf >= self.config.label_min_confidence else "unknown", conf)
        return out


class RoomSegmenter:
    """Cuts rooms from the grid, keeps ids stable across cuts, labels them."""

    def __init__(self, config: RoomsConfig):
        config.validate()
        self.config = config
        self._prev_map: Optional[np.ndarray] = None      # full-grid room ids of the last cut
        self._next_id = 0
        self.last: Optional[RoomSegmentation] = None
        self._room_at: Optional[Callable[[float, float], int]] = None

    def to_state(self) -> Tuple[int, Optional[np.ndarray]]:
        """(next room id, full-grid room ids of the last cut or None)."""
        return self._next_id, self._prev_map

    def load_state(self, next_id: int, room_map: Optional[np.ndarray]) -> None:
        self._next_id = int(next_id)
        self._prev_map = None if room_map is None else room_map.astype(np.int32)

    def free_space(self, grid: OccupancyGrid, bounds: Tuple[int, int, int, int]) -> np.ndarray:
        import cv2

        cfg = self.config
        r0, r1, c0, c1 = bounds
        occ = grid.occ_hits[r0:r1, c0:c1] >= cfg.occupied_min_hits
        free = (grid.free_hits[r0:r1, c0:c1] > 0) & ~occ
        close_px = max(1, int(round(0.15 / cfg.grid_resolution_m)))
        k = np.ones((2 * close_px + 1, 2 * close_px + 1), np.uint8)
        free = cv2.morphologyEx(free.view(np.uint8), cv2.MORPH_CLOSE, k).view(bool)
        inflate = int(round(cfg.obstacle_inflate_m / cfg.grid_resolution_m))
        if inflate > 0:
            ki = np.ones((2 * inflate + 1, 2 * inflate + 1), np.uint8)
            occ = cv2.dilate(occ.view(np.uint8), ki).view(bool)
        return free & ~occ

    def segment(self, grid: OccupancyGrid, labeler: RoomLabeler, stamp_ns: int) -> RoomSegmentation:
        import cv2

        cfg = self.config
        res = cfg.grid_resolution_m
        bounds = grid.known_bounds(margin=int(np.ceil(cfg.door_width_m / res)) + 2)
        full = np.full((grid.cells, grid.cells), -1, np.int32)
        if bounds is None:
            return self._finish(full, grid, labeler, stamp_ns, (0, 1, 0, 1))
        r0, r1, c0, c1 = bounds
        space = self.free_space(grid, bounds)
        dist = cv2.distanceTransform(space.view(np.uint8), cv2.DIST_L2, 5) * res   # metres to non-free
        core = (dist > cfg.door_width_m / 2.0).view(np.uint8)
        n, markers = cv2.connectedComponents(core, connectivity=8)
        if n > 1:
            areas = np.bincount(markers.ravel(), minlength=n) * res * res
            min_core = max(cfg.min_room_area_m2 * 0.1, 0.2)
            small = areas < min_core
            small[0] = False
            if np.any(small):
                markers[small[markers]] = 0
        ws = flood_markers(markers, dist, space)
        ws = merge_wide_borders(ws, cfg.merge_border_m / res)
        # drop regions smaller than a room
        labels, counts = np.unique(ws[ws > 0], return_counts=True)
        for lab, cnt in zip(labels, counts):
            if cnt * res * res < cfg.min_room_area_m2:
                ws[ws == lab] = 0
        full[r0:r1, c0:c1] = self._stable_ids(ws, (r0, r1, c0, c1), grid.cells)
        return self._finish(full, grid, labeler, stamp_ns, bounds)

    def _stable_ids(self, ws: np.ndarray, bounds: Tuple[int, int, int, int], cells: int) -> np.ndarray:
        """Relabel local segment labels with room ids that persist across cuts (greedy by overlap)."""
        r0, r1, c0, c1 = bounds
        out = np.full(ws.shape, -1, np.int32)
        segs = [int(s) for s in np.unique(ws) if s > 0]
        prev_map = self._prev_map
        prev = prev_map[r0:r1, c0:c1] if prev_map is not None else None
        pairs: List[Tuple[float, int, int]] = []
        if prev_map is not None and prev is not None:
            prev_area = {int(r): int(c) for r, c in zip(*np.unique(prev_map[prev_map >= 0],
                                                                   return_counts=True))}
            for s in segs:
                m = ws == s
                ids, cnt = np.unique(prev[m & (prev >= 0)], return_counts=True)
                seg_area = int(np.count_nonzero(m))
                for rid, c in zip(ids, cnt):
                    # share of the old room inside this segment, or of this segment inside the old room
                    score = max(c / max(prev_area[int(rid)], 1), c / max(seg_area, 1))
                    if score >= self.config.match_min_iou:
                        pairs.append((float(c), s, int(rid)))
        used_seg, used_id = set(), set()
        for _, s, rid in sorted(pairs, reverse=True):
            if s in used_seg or rid in used_id:
                continue
            out[ws == s] = rid
            used_seg.add(s)
            used_id.add(rid)
        for s in segs:
            if s not in used_seg:
                out[ws == s] = self._next_id
                self._next_id += 1
        return out

    def _finish(self, full: np.ndarray, grid: OccupancyGrid, labeler: RoomLabeler, stamp_ns: int,
                bounds: Tuple[int, int, int, int]) -> RoomSegmentation:
        from scipy import ndimage

        cfg = self.config
        res = cfg.grid_resolution_m
        self._prev_map = full
        r0, r1, c0, c1 = bounds
        crop = full[r0:r1, c0:c1]
        origin = (grid.origin_xy_m[0] + c0 * res, grid.origin_xy_m[1] + r0 * res)
        # objects stand next to walls: look their room up in a map where every cell has its nearest room
        if np.any(crop >= 0):
            _, (ri, ci) = ndimage.distance_transform_edt(crop < 0, return_indices=True)
            nearest = crop[ri, ci]
            dist_ok = ndimage.distance_transform_edt(crop < 0) * res <= 0.6
        else:
            nearest, dist_ok = crop, np.zeros(crop.shape, bool)

        def room_at(x: float, y: float) -> int:
            r = int(np.floor((y - origin[1]) / res))
            c = int(np.floor((x - origin[0]) / res))
            if 0 <= r < crop.shape[0] and 0 <= c < crop.shape[1] and dist_ok[r, c]:
                return int(nearest[r, c])
            return -1

        half_width = ndimage.distance_transform_edt(crop >= 0) * res if np.any(crop >= 0) else crop
        cells = {}
        for rid in sorted(int(r) for r in np.unique(crop) if r >= 0):
            inside = crop == rid
            cells[rid] = (np.nonzero(inside), 2.0 * float(half_width[inside].max()))
        labels = labeler.label_rooms(room_at, {rid: (width, rr.size * res * res)
                                               for rid, ((rr, _), width) in cells.items()})
        rooms: List[Room] = []
        for rid, ((rr, cc), _) in cells.items():
            centroid = np.array([origin[0] + (cc.mean() + 0.5) * res, origin[1] + (rr.mean() + 0.5) * res, 0.0])
            lab, conf = labels.get(rid, ("unknown", 0.0))
            rooms.append(Room(room_id=rid, label=lab, label_confidence=conf, centroid_m=centroid,
                              area_m2=float(rr.size * res * res)))
        seg = RoomSegmentation(stamp_ns=stamp_ns, rooms=rooms, room_map=crop.astype(np.int16),
                               resolution_m=res, origin_xy_m=origin)
        self.last = seg
        self._room_at = room_at
        return seg

    def room_at(self, x_m: float, y_m: float) -> int:
        """Room of a map position in the last cut (nearest room within 0.6 m), -1 if none."""
        return self._room_at(x_m, y_m) if self._room_at is not None else -1
