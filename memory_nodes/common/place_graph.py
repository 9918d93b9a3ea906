"""The one place-path search: shortest routes over the place graph (memory and planner both use it).

Places are nodes (map-frame positions, m); traversed place edges are undirected and weighted by the
floor-plane (x, y) distance between their places, since the robot drives on the floor. Edges naming a
place without a position are ignored.
"""
from __future__ import annotations

import heapq
import math
from typing import Dict, Iterable, List, Mapping, Tuple

import numpy as np


def shortest_place_path(positions_m: Mapping[int, np.ndarray], edges: Iterable[Tuple[int, int]], a: int,
                        b: int) -> Tuple[float, List[int]]:
    """Dijkstra from place ``a`` to place ``b``: (length m, place ids a..b); (inf, []) if not connected.
    ``a == b`` (a known place) is (0.0, [a])."""
    if a not in positions_m or b not in positions_m:
        return math.inf, []
    adj: Dict[int, List[Tuple[int, float]]] = {}
    for u, v in edges:
        if u in positions_m and v in positions_m:
            pu, pv = positions_m[u], positions_m[v]
            w = float(math.hypot(float(pu[0]) - float(pv[0]), float(pu[1]) - float(pv[1])))
            adj.setdefault(u, []).append((v, w))
            adj.setdefault(v, []).append((u, w))
    dist: Dict[int, float] = {a: 0.0}
    prev: Dict[int, int] = {}
    heap: List[Tuple[float, int]] = [(0.0, a)]
    while heap:
        d, u = heapq.heappop(heap)
        if u == b:
            break
        if d > dist.get(u, math.inf):
            continue
        for v, w in adj.get(u, []):
            if d + w < dist.get(v, math.inf):
                dist[v], prev[v] = d + w, u
                heapq.heappush(heap, (d + w, v))
    if b not in dist:
        return math.inf, []
    path = [b]
    while path[-1] != a:
        path.append(prev[path[-1]])
    return dist[b], path[::-1]
