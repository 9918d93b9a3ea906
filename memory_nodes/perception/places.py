"""Places: nodes laid along the robot's travel, joined by the edges the robot actually traversed."""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import numpy as np

from memory_nodes.common.types import Place, PlaceGraph

from .config import PlacesConfig


class PlaceGraphBuilder:
    """A new place when the robot is farther than ``new_place_distance_m`` from every place; the robot's
    current place is the nearest one; moving from one current place to another adds an edge."""

    def __init__(self, config: PlacesConfig):
        config.validate()
        self.config = config
        self._places: List[Place] = []
        self._positions = np.empty((0, 2))
        self._edges: Set[Tuple[int, int]] = set()
        self.current: int = -1

    def update(self, position_m: np.ndarray, stamp_ns: int) -> bool:
        """Feed the robot's position (map frame); True when places or edges changed."""
        cfg = self.config
        xy = np.asarray(position_m[:2], dtype=float)
        changed = False
        if self._positions.shape[0]:
            d = np.hypot(*(self._positions - xy).T)
            nearest = int(np.argmin(d))
            near_d = float(d[nearest])
        else:
            nearest, near_d = -1, np.inf
        if near_d > cfg.new_place_distance_m:
            pid = len(self._places)
            self._places.append(Place(place_id=pid, position_m=np.array([xy[0], xy[1], 0.0]),
                                      first_observed_ns=stamp_ns, last_observed_ns=stamp_ns))
            self._positions = np.vstack([self._positions, xy[None]])
            now, changed = pid, True
        else:
            now = nearest
            p = self._places[now]
            p.last_observed_ns = max(p.last_observed_ns, stamp_ns)
        prev = self.current
        if prev >= 0 and now != prev:
            gap = float(np.linalg.norm(self._positions[now] - self._positions[prev]))
            edge = (min(prev, now), max(prev, now))
            if gap <= cfg.edge_max_distance_m and edge not in self._edges:
                self._edges.add(edge)
                changed = True
        self.current = now
        return changed

    def set_rooms(self, room_of: Dict[int, int]) -> bool:
        """place id -> room id (from the room segmentation); True if any changed."""
        changed = False
        for p in self._places:
            r = room_of.get(p.place_id, -1)
            if r != p.room_id:
                p.room_id = r
                changed = True
        return changed

    @property
    def places(self) -> List[Place]:
        return self._places

    def nearest(self, position_m: np.ndarray) -> Optional[int]:
        if not self._positions.shape[0]:
            return None
        return int(np.argmin(np.hypot(*(self._positions - np.asarray(position_m[:2])).T)))

    def to_state(self) -> dict:
        """JSON-able state (for restarts)."""
        return {"places": [[p.place_id, *map(float, p.position_m), p.room_id, p.first_observed_ns,
                            p.last_observed_ns] for p in self._places],
                "edges": sorted(self._edges), "current": self.current}

    def load_state(self, state: dict) -> None:
        self._places = [Place(int(i), np.array([x, y, z]), int(r), int(f), int(last))
                        for i, x, y, z, r, f, last in state["places"]]
        self._positions = np.array([p.position_m[:2] for p in self._places]).reshape(-1, 2)
        self._edges = {(int(a), int(b)) for a, b in state["edges"]}
        self.current = int(state["current"])

    def graph(self, stamp_ns: int) -> PlaceGraph:
        return PlaceGraph(stamp_ns=stamp_ns,
                          places=[Place(p.place_id, p.position_m.copy(), p.room_id, p.first_observed_ns,
                                        p.last_observed_ns) for p in self._places],
                          edges=sorted(self._edges))
