"""Renderable geometry of a world, shared by every render backend.

Everything is built from primitives (box, cylinder, sphere) grouped in bodies. Static bodies (walls,
floors, most furniture) never move; dynamic bodies (small objects, drifting chairs) get their pose from a
SceneState each frame. Each primitive carries the instance id it shows up with in the instance mask.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Tuple

from .. import catalog
from ..world import Furniture, ObjectSpec, World

FLOOR_RGB = {
    "kitchen": (0.78, 0.76, 0.70), "living_room": (0.55, 0.40, 0.26), "bedroom": (0.62, 0.52, 0.42),
    "bathroom": (0.72, 0.80, 0.84), "office": (0.48, 0.45, 0.42), "hallway": (0.60, 0.56, 0.50),
    "kids_room": (0.70, 0.62, 0.45), "dining_room": (0.58, 0.42, 0.30),
}
WALL_RGB = (0.90, 0.88, 0.84)
CEILING_RGB = (0.96, 0.96, 0.96)


@dataclass(frozen=True)
class Prim:
    kind: str                                 # box | cylinder | sphere
    size: Tuple[float, ...]                   # box: half (x, y, z); cylinder: (radius, half height); sphere: (r,)
    pos: Tuple[float, float, float]           # in the body frame
    yaw_rad: float
    rgb: Tuple[float, float, float]
    instance_id: int


@dataclass
class Body:
    name: str
    dynamic: bool
    key: str                                  # object_id / furniture_id / "" for static structure
    pose: Tuple[float, float, float, float]   # nominal (x, y, z, yaw) in the map frame
    prims: List[Prim] = field(default_factory=list)


def _shade(rgb, k: float) -> Tuple[float, float, float]:
    return tuple(min(1.0, max(0.0, c * k)) for c in rgb)


def furniture_prims(f: Furniture) -> List[Prim]:
    """Primitives in the furniture's local frame (origin: footprint centre on the floor; +y = front)."""
    fc = catalog.FURNITURE_CLASSES[f.class_name]
    w, d, h, c, i = f.width_m, f.depth_m, f.height_m, f.rgb, f.instance_id
    out: List[Prim] = []

    def box(hx, hy, hz, x, y, z, rgb=c):
        out.append(Prim("box", (hx, hy, hz), (x, y, z), 0.0, rgb, i))

    style = fc.style
    if style in ("solid", "mat"):
        box(w / 2, d / 2, h / 2, 0, 0, h / 2)
    elif style == "counter_sink":
        box(w / 2, d / 2, h / 2, 0, 0, h / 2)
        box(w * 0.3, d * 0.3, 0.001, 0, 0.02, h + 0.001, _shade(c, 0.6))
    elif style == "stove":
        box(w / 2, d / 2, h / 2, 0, 0, h / 2)
        for sx in (-1, 1):
            for sy in (-1, 1):
                out.append(Prim("cylinder", (0.09, 0.004), (sx * w / 4, sy * d / 4, h + 0.004), 0.0,
                                (0.05, 0.05, 0.05), i))
    elif style == "table":
        t = 0.04
        box(w / 2, d / 2, t / 2, 0, 0, h - t / 2)
        lh = (h - t) / 2
        for sx in (-1, 1):
            for sy in (-1, 1):
                box(0.025, 0.025, lh, sx * (w / 2 - 0.05), sy * (d / 2 - 0.05), lh, _shade(c, 0.8))
    elif style == "shelf":
        box(w / 2, 0.01, h / 2, 0, -d / 2 + 0.01, h / 2, _shade(c, 0.85))
        for sx in (-1, 1):
            box(0.01, d / 2, h / 2, sx * (w / 2 - 0.01), 0, h / 2)
        box(w / 2 - 0.02, d / 2, 0.02, 0, 0, 0.02)
        for z in fc.shelf_heights_m:
            box(w / 2 - 0.02, d / 2, 0.01, 0, 0, z + 0.01)
        box(w / 2, d / 2, 0.01, 0, 0, h - 0.01)
    elif style == "sofa":
        s = fc.seat_height_m
        box(w / 2, d / 2, s / 2, 0, 0, s / 2)
        box(w / 2, 0.11, (h - s) / 2, 0, -d / 2 + 0.11, s + (h - s) / 2, _shade(c, 0.9))
        for sx in (-1, 1):
            box(0.075, d / 2, 0.1, sx * (w / 2 - 0.075), 0, s + 0.1, _shade(c, 0.85))
    elif style == "bed":
        box(w / 2, d / 2, h / 2, 0, 0, h / 2)
        hb = h + 0.45
        box(w / 2, 0.04, hb / 2, 0, -d / 2 + 0.04, hb / 2, (0.45, 0.33, 0.22))
    elif style == "chair":
        s = fc.seat_height_m
        box(w / 2, d / 2, 0.02, 0, 0, s - 0.02)
        lh = (s - 0.04) / 2
        for sx in (-1, 1):
            for sy in (-1, 1):
                box(0.02, 0.02, lh, sx * (w / 2 - 0.03), sy * (d / 2 - 0.03), lh, _shade(c, 0.8))
        box(w / 2, 0.02, (h - s) / 2, 0, -d / 2 + 0.02, s + (h - s) / 2)
    else:
        box(w / 2, d / 2, h / 2, 0, 0, h / 2)
    return out


def object_prim(o: ObjectSpec) -> Prim:
    """The object's primitive, centred on the object's pose."""
    sx, sy, sz = o.size_m
    if o.shape == "sphere":
        return Prim("sphere", (sx / 2,), (0.0, 0.0, 0.0), 0.0, o.rgb, o.instance_id)
    if o.shape == "cylinder":
        return Prim("cylinder", (sx / 2, sz / 2), (0.0, 0.0, 0.0), 0.0, o.rgb, o.instance_id)
    return Prim("box", (sx / 2, sy / 2, sz / 2), (0.0, 0.0, 0.0), 0.0, o.rgb, o.instance_id)


def world_bodies(world: World) -> List[Body]:
    """Static structure first (walls, floors, ceiling, static furniture), then dynamic bodies."""
    cfg = world.config
    W, H = world.size_xy_m
    structure = Body("structure", False, "", (0.0, 0.0, 0.0, 0.0))
    for r in world.rooms:
        (x0, y0), (x1, y1) = r.min_xy_m, r.max_xy_m
        structure.prims.append(Prim("box", ((x1 - x0) / 2, (y1 - y0) / 2, 0.01), ((x0 + x1) / 2, (y0 + y1) / 2, -0.01),
                                    0.0, FLOOR_RGB.get(r.room_type, (0.6, 0.6, 0.6)), 0))
    structure.prims.append(Prim("box", (W / 2 + 0.1, H / 2 + 0.1, 0.01), (W / 2, H / 2, cfg.wall_height_m + 0.01),
                                0.0, CEILING_RGB, 0))
    for wb in world.walls:
        structure.prims.append(Prim("box", wb.half_m, wb.center_m, wb.yaw_rad, WALL_RGB, 0))
    for d in world.doors:
        if d.room_b == -1:   # the closed front door, slightly proud of the wall
            t = cfg.wall_thickness_m
            structure.prims.append(Prim("box", (t / 2 + 0.01, d.width_m / 2, 1.0),
                                        (d.center_xy_m[0], d.center_xy_m[1], 1.0), 0.0, (0.45, 0.3, 0.2), 0))
    bodies = [structure]
    for f in world.furniture:
        bodies.append(Body(f"f{f.instance_id}", f.drifts, f.furniture_id,
                           (f.center_xy_m[0], f.center_xy_m[1], 0.0, f.yaw_rad), furniture_prims(f)))
    for o in world.objects:
        bodies.append(Body(f"o{o.instance_id}", True, o.object_id, (0.0, 0.0, -50.0, 0.0), [object_prim(o)]))
    return bodies


def yaw_quat_wxyz(yaw: float) -> Tuple[float, float, float, float]:
    return (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
