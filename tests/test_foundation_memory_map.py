"""The memory picture shows rooms, places, fresh vs stale objects and routes (checked in the pixels)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from memory_nodes.common.types import Place, PlaceGraph, Room, RoomSegmentation
from memory_nodes.viz.memory_map import MapPicture, RememberedObject, render_memory_map, routes_from_poses


def _count(img: np.ndarray, rgb, tol=40) -> int:
    return int((np.abs(img[:, :, :3].astype(int) - np.array(rgb)).sum(axis=2) < tol).sum())


def test_fresh_and_stale_objects_and_routes_are_drawn(tmp_path):
    room_map = np.full((80, 100), -1, np.int16)
    room_map[:, :50] = 0
    room_map[:, 50:] = 1
    rooms = RoomSegmentation(0, [Room(0, "kitchen", 0.9, np.array([1.25, 2.0, 0])),
                                 Room(1, "office", 0.6, np.array([3.75, 2.0, 0]))], room_map, 0.05, (0.0, 0.0))
    places = PlaceGraph(0, [Place(0, np.array([1.0, 1.0, 0])), Place(1, np.array([4.0, 1.0, 0]))], [(0, 1)])
    only_fresh = MapPicture(rooms, places, [RememberedObject("mug", np.array([1.0, 3.0, 0.9]), 0.95)])
    both = MapPicture(rooms, places, [RememberedObject("mug", np.array([1.0, 3.0, 0.9]), 0.95),
                                      RememberedObject("keys", np.array([4.0, 3.0, 0.9]), 0.1)],
                      [routes_from_poses("where are the keys?", [(1.0, 1.0), (1.0, 1.01), (2.5, 1.0), (4.0, 1.0)])])
    a = np.asarray(Image.open(render_memory_map(only_fresh, tmp_path / "a.png")).convert("RGB"))
    b = np.asarray(Image.open(render_memory_map(both, tmp_path / "b.png")).convert("RGB"))
    green, red, blue = (44, 160, 44), (214, 39, 40), (31, 119, 180)
    assert _count(a, green) > 10 and _count(b, green) > 10
    assert _count(b, red) > _count(a, red) + 10          # the stale object appears only in b
    assert _count(b, blue) > _count(a, blue) + 100       # the route
    assert len(both.routes[0].xy_m) == 3                 # near-duplicate pose thinned
