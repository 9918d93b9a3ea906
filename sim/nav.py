"""2D occupancy grid and path planning for a round robot.

``OccupancyGrid`` holds the static occupancy (walls and furniture footprints; cell (0, 0) has its corner at
``origin_xy_m``, rows along +y, columns along +x). ``GridPlanner`` plans on the grid inflated by the robot
radius: A* (8-connected, octile heuristic) for one path, then line-of-sight shortcutting; a Dijkstra
distance field (scipy) serves many path-length queries from one start cheaply.
"""
from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from memory_nodes.common.errors import InputError

XY = Tuple[float, float]
SQRT2 = math.sqrt(2.0)


@dataclass
class OccupancyGrid:
    occupied: np.ndarray                 # (rows, cols) bool, True = obstacle
    resolution_m: float
    origin_xy_m: Tuple[float, float]

    @property
    def shape(self) -> Tuple[int, int]:
        return self.occupied.shape

    def cell_of(self, x_m: float, y_m: float) -> Tuple[int, int]:
        """(row, col) of a map point (may be outside the grid)."""
        return (int(math.floor((y_m - self.origin_xy_m[1]) / self.resolution_m)),
                int(math.floor((x_m - self.origin_xy_m[0]) / self.resolution_m)))

    def center_of(self, row: int, col: int) -> XY:
        return (self.origin_xy_m[0] + (col + 0.5) * self.resolution_m,
                self.origin_xy_m[1] + (row + 0.5) * self.resolution_m)

    def inside(self, row: int, col: int) -> bool:
        return 0 <= row < self.occupied.shape[0] and 0 <= col < self.occupied.shape[1]

    def is_free(self, x_m: float, y_m: float) -> bool:
        r, c = self.cell_of(x_m, y_m)
        return self.inside(r, c) and not bool(self.occupied[r, c])

    def to_ros_data(self) -> np.ndarray:
        """int8 (rows, cols): 100 occupied, 0 free (nav_msgs/OccupancyGrid convention)."""
        return np.where(self.occupied, 100, 0).astype(np.int8)

    def inflated(self, radius_m: float) -> "OccupancyGrid":
        """Obstacles grown by a disc of ``radius_m`` (the configuration space of a round robot)."""
        from scipy import ndimage
        r = int(math.ceil(radius_m / self.resolution_m))
        if r <= 0:
            return OccupancyGrid(self.occupied.copy(), self.resolution_m, self.origin_xy_m)
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        disc = (xx * xx + yy * yy) <= (radius_m / self.resolution_m) ** 2 + 1e-9
        grown = ndimage.binary_dilation(self.occupied, structure=disc)
        return OccupancyGrid(grown, self.resolution_m, self.origin_xy_m)


class GridPlanner:
    """Collision-free paths for a disc robot of ``radius_m`` on ``grid`` (static obstacles)."""

    def __init__(self, grid: OccupancyGrid, radius_m: float, cache_size: int = 32):
        self.grid = grid
        self.radius_m = radius_m
        self.cspace = grid.inflated(radius_m)
        self._free = ~self.cspace.occupied
        self._fields: "OrderedDict[int, np.ndarray]" = OrderedDict()
        self._cache_size = cache_size
        self._graph = None

    # -- helpers -------------------------------------------------------------------------------------------
    def is_free(self, x_m: float, y_m: float) -> bool:
        """True if the robot centred at (x, y) collides with nothing."""
        return self.cspace.is_free(x_m, y_m)

    def nearest_free(self, x_m: float, y_m: float, max_dist_m: float = 1.0) -> Optional[XY]:
        """The centre of the nearest free configuration-space cell within ``max_dist_m``, else None."""
        r0, c0 = self.cspace.cell_of(x_m, y_m)
        if self.cspace.inside(r0, c0) and self._free[r0, c0]:
            return (x_m, y_m)
        k = int(math.ceil(max_dist_m / self.grid.resolution_m))
        rows, cols = self._free.shape
        ra, rb = max(0, r0 - k), min(rows, r0 + k + 1)
        ca, cb = max(0, c0 - k), min(cols, c0 + k + 1)
        if ra >= rb or ca >= cb:
            return None
        sub = self._free[ra:rb, ca:cb]
        idx = np.argwhere(sub)
        if idx.size == 0:
            return None
        d2 = (idx[:, 0] + ra - r0) ** 2 + (idx[:, 1] + ca - c0) ** 2
        best = idx[int(np.argmin(d2))]
        if d2.min() > k * k:
            return None
        return self.cspace.center_of(int(best[0] + ra), int(best[1] + ca))

    def _start_goal_cells(self, start: XY, goal: XY) -> Tuple[Tuple[int, int], Tuple[int, int]]:
        out = []
        for name, p in (("start", start), ("goal", goal)):
            q = self.nearest_free(p[0], p[1], max_dist_m=0.5)
            if q is None:
                raise InputError("pose_in_collision", f"{name} ({p[0]:.2f}, {p[1]:.2f}) is not free")
            out.append(self.cspace.cell_of(q[0], q[1]))
        return out[0], out[1]

    # -- A* ------------------------------------------------------------------------------------------------
    def plan(self, start: XY, goal: XY) -> Optional[List[XY]]:
        """Waypoints (map frame, m) from start to goal, shortcut where the line of sight is free; None if
        unreachable. Start/goal slightly inside an obstacle are snapped to the nearest free cell (<= 0.5 m);
        beyond that raises InputError("pose_in_collision")."""
        s, g = self._start_goal_cells(start, goal)
        cells = self._astar(s, g)
        if cells is None:
            return None
        cells = self._shortcut(cells)
        pts = [self.cspace.center_of(r, c) for r, c in cells]
        # exact start and goal where they are free, keeping the cell centres as waypoints when the short
        # connecting segment would graze an obstacle
        s_xy, g_xy = (float(start[0]), float(start[1])), (float(goal[0]), float(goal[1]))
        if self.is_free(*s_xy):
            nxt = pts[1] if len(pts) > 1 else pts[0]
            pts = [s_xy] + (pts[1:] if self.segment_free(s_xy, nxt) else pts)
        if self.is_free(*g_xy):
            prv = pts[-2] if len(pts) > 1 else pts[-1]
            pts = (pts[:-1] if self.segment_free(prv, g_xy) else pts) + [g_xy]
        dedup = [pts[0]]
        for p in pts[1:]:
            if math.hypot(p[0] - dedup[-1][0], p[1] - dedup[-1][1]) > 1e-9:
                dedup.append(p)
        return dedup

    def _astar(self, s: Tuple[int, int], g: Tuple[int, int]) -> Optional[List[Tuple[int, int]]]:
        free = self._free
        rows, cols = free.shape
        if s == g:
            return [s]
        gr, gc = g

        def h(r: int, c: int) -> float:
            dr, dc = abs(r - gr), abs(c - gc)
            return (dr + dc) + (SQRT2 - 2.0) * min(dr, dc)

        cost = {s: 0.0}
        parent = {s: s}
        heap = [(h(*s), 0.0, s)]
        steps = ((1, 0, 1.0), (-1, 0, 1.0), (0, 1, 1.0), (0, -1, 1.0),
                 (1, 1, SQRT2), (1, -1, SQRT2), (-1, 1, SQRT2), (-1, -1, SQRT2))
        closed = set()
        while heap:
            _, gcost, cur = heapq.heappop(heap)
            if cur in closed:
                continue
            if cur == g:
                path = [cur]
                while path[-1] != s:
                    path.append(parent[path[-1]])
                return path[::-1]
            closed.add(cur)
            r, c = cur
            for dr, dc, w in steps:
                nr, nc = r + dr, c + dc
                if not (0 <= nr < rows and 0 <= nc < cols) or not free[nr, nc]:
                    continue
                if dr and dc and not (free[r, nc] and free[nr, c]):   # no corner cutting
                    continue
                ng = gcost + w
                nb = (nr, nc)
                if ng < cost.get(nb, math.inf):
                    cost[nb] = ng
                    parent[nb] = cur
                    heapq.heappush(heap, (ng + h(nr, nc), ng, nb))
        return None

    def segment_free(self, a: XY, b: XY) -> bool:
        """True if every configuration-space cell the straight segment a -> b crosses is free (exact grid
        traversal, Amanatides & Woo)."""
        g = self.cspace
        res = g.resolution_m
        x0, y0 = (a[0] - g.origin_xy_m[0]) / res, (a[1] - g.origin_xy_m[1]) / res
        x1, y1 = (b[0] - g.origin_xy_m[0]) / res, (b[1] - g.origin_xy_m[1]) / res
        c, r = int(math.floor(x0)), int(math.floor(y0))
        c_end, r_end = int(math.floor(x1)), int(math.floor(y1))
        free = self._free
        rows, cols = free.shape
        dx, dy = x1 - x0, y1 - y0
        step_c = 1 if dx > 0 else -1
        step_r = 1 if dy > 0 else -1
        t_dc = abs(1.0 / dx) if dx != 0 else math.inf
        t_dr = abs(1.0 / dy) if dy != 0 else math.inf
        t_c = ((c + 1 - x0) if dx > 0 else (x0 - c)) * t_dc if dx != 0 else math.inf
        t_r = ((r + 1 - y0) if dy > 0 else (y0 - r)) * t_dr if dy != 0 else math.inf
        for _ in range(abs(c_end - c) + abs(r_end - r) + 3):
            if not (0 <= r < rows and 0 <= c < cols) or not free[r, c]:
                return False
            if c == c_end and r == r_end:
                return True
            if abs(t_c - t_r) < 1e-9:        # through a cell corner: both side cells count
                for rr, cc in ((r, c + step_c), (r + step_r, c)):
                    if not (0 <= rr < rows and 0 <= cc < cols) or not free[rr, cc]:
                        return False
                c += step_c
                r += step_r
                t_c += t_dc
                t_r += t_dr
            elif t_c < t_r:
                c += step_c
                t_c += t_dc
            else:
                r += step_r
                t_r += t_dr
        return True

    def _line_free(self, a: Tuple[int, int], b: Tuple[int, int]) -> bool:
        return self.segment_free(self.cspace.center_of(*a), self.cspace.center_of(*b))

    def _shortcut(self, cells: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
        out = [cells[0]]
        i = 0
        while i < len(cells) - 1:
            j = len(cells) - 1
            while j > i + 1 and not self._line_free(cells[i], cells[j]):
                j = max(i + 1, (i + j) // 2) if j - i > 8 else j - 1
            out.append(cells[j])
            i = j
        return out

    # -- distance fields -----------------------------------------------------------------------------------
    def _build_graph(self):
        from scipy.sparse import coo_matrix
        free = self._free
        rows, cols = free.shape
        idx = np.arange(rows * cols).reshape(rows, cols)
        src, dst, w = [], [], []
        for dr, dc, wt in ((0, 1, 1.0), (1, 0, 1.0), (1, 1, SQRT2), (1, -1, SQRT2)):
            r0, r1 = max(0, -dr), rows - max(0, dr)
            c0, c1 = max(0, -dc), cols - max(0, dc)
            a = free[r0:r1, c0:c1] & free[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
            if dr and dc:  # no corner cutting
                a &= free[r0 + dr:r1 + dr, c0:c1] & free[r0:r1, c0 + dc:c1 + dc]
            ia = idx[r0:r1, c0:c1][a]
            ib = idx[r0 + dr:r1 + dr, c0 + dc:c1 + dc][a]
            src += [ia, ib]
            dst += [ib, ia]
            w += [np.full(ia.size, wt), np.full(ia.size, wt)]
        n = rows * cols
        self._graph = coo_matrix((np.concatenate(w), (np.concatenate(src), np.concatenate(dst))),
                                 shape=(n, n)).tocsr()

    def distance_field(self, start: XY) -> np.ndarray:
        """(rows, cols) float64 path length (m) from ``start`` to every cell; inf where unreachable."""
        from scipy.sparse.csgraph import dijkstra
        q = self.nearest_free(start[0], start[1], max_dist_m=0.5)
        if q is None:
            raise InputError("pose_in_collision", f"start ({start[0]:.2f}, {start[1]:.2f}) is not free")
        r, c = self.cspace.cell_of(*q)
        key = r * self._free.shape[1] + c
        if key in self._fields:
            self._fields.move_to_end(key)
            return self._fields[key]
        if self._graph is None:
            self._build_graph()
        d = dijkstra(self._graph, directed=False, indices=key) * self.grid.resolution_m
        field = d.reshape(self._free.shape)
        self._fields[key] = field
        if len(self._fields) > self._cache_size:
            self._fields.popitem(last=False)
        return field

    def path_length_m(self, start: XY, goal: XY) -> float:
        """Length (m) of the shortest collision-free path (grid metric, before shortcutting, so a slight
        over-estimate of what the robot drives); inf if unreachable or the goal is in collision."""
        q = self.nearest_free(goal[0], goal[1], max_dist_m=0.5)
        if q is None:
            return math.inf
        try:
            field = self.distance_field(start)
        except InputError:
            return math.inf
        r, c = self.cspace.cell_of(*q)
        return float(field[r, c])

    def reachable_mask(self, start: XY) -> np.ndarray:
        """(rows, cols) bool: cells the robot centre can reach from ``start``."""
        return np.isfinite(self.distance_field(start))


def polyline_length_m(points: Sequence[XY]) -> float:
    return float(sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points[:-1], points[1:])))
