"""The static world: a procedurally generated home from a seed and a WorldConfig.

Layout: a straight hallway along +x with rooms on both sides (south row y in [0, Ds], hallway, north row);
every room has a door onto the hallway, some neighbours also share a door. The map frame has its origin at
the home's south-west outer corner, z up, floor at z = 0. Rooms are axis-aligned rectangles measured to the
wall centre lines. Furniture is axis-aligned (yaw a multiple of pi/2, local +y = its front, facing into the
room); small objects rest on furniture surfaces.

Instance ids (as in the camera's instance mask): furniture 1..999, small objects 1000 + index; walls,
floor and ceiling 0.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from memory_nodes.common.errors import ConfigError, NotFoundError

from . import catalog
from .config import RobotConfig, WorldConfig
from .nav import GridPlanner, OccupancyGrid

OBJECT_INSTANCE_BASE = 1000
NEW_OBJECT_CLASSES = ("book", "toy_car", "mug", "plant", "board_game", "water_bottle", "notebook", "ball",
                      "cup", "pencil_case")


@dataclass(frozen=True)
class Room:
    room_id: int
    room_type: str                        # catalog.ROOM_TYPES
    name: str                             # unique: "bedroom_2" when a type repeats
    min_xy_m: Tuple[float, float]         # extent to the wall centre lines
    max_xy_m: Tuple[float, float]

    @property
    def polygon_xy_m(self) -> List[Tuple[float, float]]:
        (x0, y0), (x1, y1) = self.min_xy_m, self.max_xy_m
        return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]

    @property
    def center_xy_m(self) -> Tuple[float, float]:
        return ((self.min_xy_m[0] + self.max_xy_m[0]) / 2, (self.min_xy_m[1] + self.max_xy_m[1]) / 2)

    @property
    def area_m2(self) -> float:
        return (self.max_xy_m[0] - self.min_xy_m[0]) * (self.max_xy_m[1] - self.min_xy_m[1])

    def contains(self, x_m: float, y_m: float) -> bool:
        return self.min_xy_m[0] <= x_m < self.max_xy_m[0] and self.min_xy_m[1] <= y_m < self.max_xy_m[1]


@dataclass(frozen=True)
class Door:
    door_id: int
    room_a: int
    room_b: int                           # -1 = outside (the front door: closed, not passable)
    center_xy_m: Tuple[float, float]
    width_m: float
    wall_axis: str                        # "x": the wall runs along x; "y": along y


@dataclass(frozen=True)
class Box:
    """A box in the map frame: centre, half extents along its own axes, yaw about z."""
    center_m: Tuple[float, float, float]
    half_m: Tuple[float, float, float]
    yaw_rad: float = 0.0


@dataclass(frozen=True)
class Surface:
    """A horizontal surface objects can rest on (axis-aligned rectangle at height z)."""
    z_m: float
    min_xy_m: Tuple[float, float]
    max_xy_m: Tuple[float, float]
    clearance_m: float                    # free height above it


@dataclass(frozen=True)
class Furniture:
    furniture_id: str
    class_name: str
    room_id: int
    instance_id: int
    center_xy_m: Tuple[float, float]      # footprint centre (nominal pose; chairs drift around it)
    yaw_rad: float                        # local +y (front) direction = (-sin yaw, cos yaw)
    width_m: float                        # along local x
    depth_m: float                        # along local y
    height_m: float
    rgb: Tuple[float, float, float]
    receptacle: bool
    surfaces: Tuple[Surface, ...]
    drifts: bool = False

    @property
    def footprint_half_xy_m(self) -> Tuple[float, float]:
        """Half extents of the axis-aligned footprint in the map frame."""
        if abs(math.sin(self.yaw_rad)) > 0.5:
            return (self.depth_m / 2, self.width_m / 2)
        return (self.width_m / 2, self.depth_m / 2)

    @property
    def box(self) -> Box:
        """Bounding box in the map frame (axis-aligned at the nominal pose)."""
        hx, hy = self.footprint_half_xy_m
        return Box((self.center_xy_m[0], self.center_xy_m[1], self.height_m / 2), (hx, hy, self.height_m / 2))

    @property
    def style(self) -> str:
        return catalog.FURNITURE_CLASSES[self.class_name].style


@dataclass(frozen=True)
class ObjectSpec:
    """A small object (catalog entry; where it is over time lives in the ground-truth log)."""
    object_id: str
    class_name: str
    instance_id: int
    colour: str
    rgb: Tuple[float, float, float]
    size_label: str                       # small | medium | large
    shape: str                            # box | cylinder | sphere
    size_m: Tuple[float, float, float]    # full extents (x, y, z) in the object frame
    home_furniture_id: str                # habitual place
    habitual: bool
    consumable: bool
    appear_day: int = 0                   # 0 = present from the start

    @property
    def footprint_radius_m(self) -> float:
        """Radius of the smallest vertical cylinder around the object."""
        if self.shape in ("cylinder", "sphere"):
            return 0.5 * self.size_m[0]
        return 0.5 * math.hypot(self.size_m[0], self.size_m[1])

    def half_extents_xy_m(self, yaw_rad: float) -> Tuple[float, float]:
        """Half extents of the object's axis-aligned footprint at ``yaw_rad``."""
        if self.shape in ("cylinder", "sphere"):
            return (0.5 * self.size_m[0], 0.5 * self.size_m[0])
        c, s = abs(math.cos(yaw_rad)), abs(math.sin(yaw_rad))
        hx, hy = 0.5 * self.size_m[0], 0.5 * self.size_m[1]
        return (c * hx + s * hy, s * hx + c * hy)


@dataclass
class World:
    """A generated home. Immutable after generation (except caches)."""
    seed: int
    config: WorldConfig
    rooms: List[Room]
    doors: List[Door]
    walls: List[Box]
    furniture: List[Furniture]
    objects: List[ObjectSpec]
    grid: OccupancyGrid
    dock_pose: Tuple[float, float, float]     # (x_m, y_m, yaw_rad): the robot's charging spot
    size_xy_m: Tuple[float, float]
    _planner: Optional[GridPlanner] = field(default=None, repr=False, compare=False)
    _furn_by_id: Dict[str, Furniture] = field(default_factory=dict, repr=False, compare=False)
    _obj_by_id: Dict[str, ObjectSpec] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._furn_by_id = {f.furniture_id: f for f in self.furniture}
        self._obj_by_id = {o.object_id: o for o in self.objects}

    # -- lookups -------------------------------------------------------------------------------------------
    def room_at(self, x_m: float, y_m: float) -> int:
        """Room id containing (x, y) (extent to wall centre lines), -1 outside."""
        for r in self.rooms:
            if r.contains(x_m, y_m):
                return r.room_id
        return -1

    def room(self, room_id: int) -> Room:
        if not (0 <= room_id < len(self.rooms)):
            raise NotFoundError(f"room {room_id}")
        return self.rooms[room_id]

    def furniture_by_id(self, furniture_id: str) -> Furniture:
        try:
            return self._furn_by_id[furniture_id]
        except KeyError:
            raise NotFoundError(f"furniture {furniture_id!r}") from None

    def object_by_id(self, object_id: str) -> ObjectSpec:
        try:
            return self._obj_by_id[object_id]
        except KeyError:
            raise NotFoundError(f"object {object_id!r}") from None

    def instance_class_table(self) -> Dict[int, str]:
        """Instance id -> class name for every furniture piece and object (what the camera publishes)."""
        out = {f.instance_id: f.class_name for f in self.furniture}
        out.update({o.instance_id: o.class_name for o in self.objects})
        return out

    def instance_to_entity_id(self) -> Dict[int, str]:
        """Instance id -> object_id / furniture_id. SIDE table for scorers only."""
        out = {f.instance_id: f.furniture_id for f in self.furniture}
        out.update({o.instance_id: o.object_id for o in self.objects})
        return out

    def receptacles(self) -> List[Furniture]:
        return [f for f in self.furniture if f.receptacle]

    def object_classes(self) -> List[str]:
        return sorted({o.class_name for o in self.objects})

    @property
    def planner(self) -> GridPlanner:
        """Planner for this world's robot footprint (default RobotConfig radius unless set by Simulator)."""
        if self._planner is None:
            self._planner = GridPlanner(self.grid, RobotConfig().radius_m)
        return self._planner

    def set_robot_radius(self, radius_m: float) -> None:
        if self._planner is None or abs(self._planner.radius_m - radius_m) > 1e-9:
            self._planner = GridPlanner(self.grid, radius_m)

    # -- identity ------------------------------------------------------------------------------------------
    def to_dict(self) -> Dict:
        """Canonical, JSON-able description of the static world (the ground-truth header embeds it)."""
        def r6(v):
            if isinstance(v, float):
                return round(v, 6)
            if isinstance(v, (list, tuple)):
                return [r6(x) for x in v]
            if isinstance(v, dict):
                return {k: r6(x) for k, x in v.items()}
            return v
        return r6({
            "seed": self.seed,
            "size_xy_m": list(self.size_xy_m),
            "dock_pose": list(self.dock_pose),
            "rooms": [asdict(r) for r in self.rooms],
            "doors": [asdict(d) for d in self.doors],
            "walls": [asdict(w) for w in self.walls],
            "furniture": [asdict(f) for f in self.furniture],
            "objects": [asdict(o) for o in self.objects],
            "grid": {"resolution_m": self.grid.resolution_m, "origin_xy_m": list(self.grid.origin_xy_m),
                     "shape": list(self.grid.shape),
                     "occupied_sha256": hashlib.sha256(np.packbits(self.grid.occupied).tobytes()).hexdigest()},
        })

    def hash(self) -> str:
        """sha256 of the canonical description: same seed and config -> same hash."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


# ------------------------------------------------------------------------------------------------------------
# generation
# ------------------------------------------------------------------------------------------------------------

class _Placer:
    """Places furniture inside one room's interior rectangle, keeping door zones clear."""

    def __init__(self, rng: np.random.Generator, interior: Tuple[float, float, float, float],
                 door_zones: List[Tuple[float, float, float, float]], hallway: bool):
        self.rng = rng
        self.x0, self.y0, self.x1, self.y1 = interior
        self.door_zones = door_zones
        self.hallway = hallway
        self.placed: List[Tuple[str, Tuple[float, float, float, float]]] = []   # (cls, footprint)

    @staticmethod
    def _overlap(a, b, margin: float = 0.0) -> bool:
        return not (a[2] + margin <= b[0] or b[2] + margin <= a[0] or a[3] + margin <= b[1] or b[3] + margin <= a[1])

    def _free(self, fp, margin: float) -> bool:
        if fp[0] < self.x0 - 1e-9 or fp[1] < self.y0 - 1e-9 or fp[2] > self.x1 + 1e-9 or fp[3] > self.y1 + 1e-9:
            return False
        if any(self._overlap(fp, z) for z in self.door_zones):
            return False
        return not any(self._overlap(fp, q, margin) for _, q in self.placed)

    def place(self, slot: catalog.FurnitureSlot, fc: catalog.FurnitureClass, width: float,
              tries: int = 60) -> Optional[Tuple[Tuple[float, float], float]]:
        """(center_xy, yaw) of a free spot, or None."""
        d = fc.depth_m
        rng = self.rng
        for _ in range(tries):
            if slot.near:
                anchors = [q for c, q in self.placed if c == slot.near]
                if not anchors:
                    return None
                a = anchors[int(rng.integers(len(anchors)))]
                side = int(rng.integers(4))
                cx, cy = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
                gap = 0.08
                if side == 0:      # south of the anchor, facing north (+y): yaw 0
                    c, yaw = (cx + rng.uniform(-0.3, 0.3) * (a[2] - a[0]), a[1] - gap - d / 2), 0.0
                elif side == 1:
                    c, yaw = (cx + rng.uniform(-0.3, 0.3) * (a[2] - a[0]), a[3] + gap + d / 2), math.pi
                elif side == 2:    # west of the anchor facing +x: yaw -pi/2
                    c, yaw = (a[0] - gap - d / 2, cy + rng.uniform(-0.3, 0.3) * (a[3] - a[1])), -math.pi / 2
                else:
                    c, yaw = (a[2] + gap + d / 2, cy + rng.uniform(-0.3, 0.3) * (a[3] - a[1])), math.pi / 2
                margin = 0.02
            elif slot.placement == "center":
                yaw = float(rng.choice([0.0, math.pi / 2]))
                hx, hy = (width / 2, d / 2) if yaw == 0.0 else (d / 2, width / 2)
                mx, my = hx + 0.75, hy + 0.75
                if self.x1 - self.x0 < 2 * mx or self.y1 - self.y0 < 2 * my:
                    return None
                c = (rng.uniform(self.x0 + mx, self.x1 - mx), rng.uniform(self.y0 + my, self.y1 - my))
                margin = 0.75
            else:  # against a wall
                walls = [0, 1, 2, 3]
                if slot.placement == "door_wall" or self.hallway:
                    walls = [0, 1]       # the hallway's long walls
                side = int(rng.choice(walls))
                if side in (0, 1):
                    lo, hi = self.x0 + width / 2, self.x1 - width / 2
                    if self.hallway:     # keep the near-dock end free, prefer the entrance end (x small)
                        hi = min(hi, self.x0 + 0.45 * (self.x1 - self.x0))
                    if lo > hi:
                        continue
                    u = rng.uniform(lo, hi)
                    c, yaw = ((u, self.y0 + d / 2), 0.0) if side == 0 else ((u, self.y1 - d / 2), math.pi)
                else:
                    lo, hi = self.y0 + width / 2, self.y1 - width / 2
                    if lo > hi:
                        continue
                    u = rng.uniform(lo, hi)
                    c, yaw = ((self.x0 + d / 2, u), -math.pi / 2) if side == 2 else ((self.x1 - d / 2, u), math.pi / 2)
                margin = 0.05
            hx, hy = (width / 2, d / 2) if abs(math.sin(yaw)) < 0.5 else (d / 2, width / 2)
            fp = (c[0] - hx, c[1] - hy, c[0] + hx, c[1] + hy)
            grow = 0.0
            if fc.drifts:
                grow = 0.15
            fpg = (fp[0] - grow, fp[1] - grow, fp[2] + grow, fp[3] + grow)
            if self._free(fpg if not slot.near else fp, margin):
                self.placed.append((fc.name, fp))
                return (float(c[0]), float(c[1])), float(yaw)
        return None


def _surfaces(fc: catalog.FurnitureClass, center: Tuple[float, float], yaw: float, width: float
              ) -> Tuple[Surface, ...]:
    """Receptacle surfaces in the map frame."""
    if not fc.receptacle:
        return ()
    d, h = fc.depth_m, fc.height_m

    def rect(lx0, ly0, lx1, ly1):
        # local rectangle -> map frame axis-aligned rectangle
        pts = []
        c, s = math.cos(yaw), math.sin(yaw)
        for lx, ly in ((lx0, ly0), (lx1, ly1)):
            pts.append((center[0] + c * lx - s * ly, center[1] + s * lx + c * ly))
        return ((min(pts[0][0], pts[1][0]), min(pts[0][1], pts[1][1])),
                (max(pts[0][0], pts[1][0]), max(pts[0][1], pts[1][1])))

    inset = 0.03
    out = []
    if fc.style == "shelf":
        levels = list(fc.shelf_heights_m) + [h]
        for z, z_next in zip(levels[:-1], levels[1:]):
            mn, mx = rect(-width / 2 + 0.05, -d / 2 + 0.03, width / 2 - 0.05, d / 2 - inset)
            out.append(Surface(z + 0.02, mn, mx, z_next - z - 0.04))
    elif fc.style == "sofa":
        mn, mx = rect(-width / 2 + 0.18, -d / 2 + 0.25, width / 2 - 0.18, d / 2 - inset)
        out.append(Surface(fc.seat_height_m, mn, mx, 1.0))
    elif fc.style == "bed":
        mn, mx = rect(-width / 2 + inset, -d / 2 + 0.12, width / 2 - inset, d / 2 - inset)
        out.append(Surface(h, mn, mx, 1.5))
    else:
        mn, mx = rect(-width / 2 + inset, -d / 2 + inset, width / 2 - inset, d / 2 - inset)
        z = h + 0.002 if fc.style == "counter_sink" else h     # sink basin plate on top
        out.append(Surface(z, mn, mx, 1.5))
    return tuple(out)


def _room_widths(rng: np.random.Generator, types: Sequence[str]) -> List[float]:
    return [float(rng.uniform(*catalog.ROOM_WIDTH_RANGE_M[t])) for t in types]


def generate_world(config: WorldConfig, robot_radius_m: float = 0.22, max_attempts: int = 40) -> World:
    """Deterministic world from ``config`` (seed included). Retries internally until every room is
    reachable from the dock and every receptacle can be approached; raises ConfigError if it never is."""
    config.validate()
    for attempt in range(max_attempts):
        rng = np.random.default_rng([config.seed, 7919, attempt])
        world = _try_generate(config, rng, robot_radius_m)
        if world is not None:
            world.set_robot_radius(robot_radius_m)
            return world
    raise ConfigError(f"world.seed={config.seed}: could not generate a connected home "
                      f"in {max_attempts} attempts (too many rooms or objects for the space?)")


def _try_generate(cfg: WorldConfig, rng: np.random.Generator, robot_radius_m: float) -> Optional[World]:
    t = cfg.wall_thickness_m
    types = list(cfg.room_types)
    rng.shuffle(types)
    # living room and kitchen first on each side is not required; balance widths across the two sides
    widths = _room_widths(rng, types)
    sides: List[List[int]] = [[], []]
    totals = [0.0, 0.0]
    for i in np.argsort(-np.asarray(widths), kind="stable"):
        s = 0 if totals[0] <= totals[1] else 1
        sides[s].append(int(i))
        totals[s] += widths[i]
    for s in (0, 1):
        order = list(sides[s])
        rng.shuffle(order)
        sides[s] = order
    W = max(totals)
    depth_s = float(rng.uniform(cfg.room_depth_m_min, cfg.room_depth_m_max))
    depth_n = float(rng.uniform(cfg.room_depth_m_min, cfg.room_depth_m_max))
    hw = cfg.hallway_width_m
    y_h0, y_h1 = depth_s, depth_s + hw
    H = y_h1 + depth_n

    rooms: List[Room] = []
    type_count: Dict[str, int] = {}
    for tname in types + ["hallway"]:
        type_count[tname] = type_count.get(tname, 0) + 1
    seen: Dict[str, int] = {}

    def name_for(tname: str) -> str:
        seen[tname] = seen.get(tname, 0) + 1
        return tname if type_count[tname] == 1 else f"{tname}_{seen[tname]}"

    rooms.append(Room(0, "hallway", name_for("hallway"), (0.0, y_h0), (W, y_h1)))
    side_rooms: List[List[int]] = [[], []]
    for s, (ya, yb) in ((0, (0.0, y_h0)), (1, (y_h1, H))):
        x = 0.0
        scale = W / totals[s]
        for i in sides[s]:
            w = widths[i] * scale
            rid = len(rooms)
            rooms.append(Room(rid, types[i], name_for(types[i]), (x, ya), (x + w, yb)))
            side_rooms[s].append(rid)
            x += w

    # doors: every room onto the hallway; some neighbours share a door
    dw = cfg.door_width_m
    doors: List[Door] = []
    for s in (0, 1):
        wall_y = y_h0 if s == 0 else y_h1
        for rid in side_rooms[s]:
            r = rooms[rid]
            lo, hi = r.min_xy_m[0] + t + 0.35 + dw / 2, r.max_xy_m[0] - t - 0.35 - dw / 2
            x = float(rng.uniform(lo, hi)) if hi > lo else (r.min_xy_m[0] + r.max_xy_m[0]) / 2
            doors.append(Door(len(doors), 0, rid, (x, wall_y), dw, "x"))
        for a, b in zip(side_rooms[s][:-1], side_rooms[s][1:]):
            if rng.random() < 0.3:
                ra = rooms[a]
                ya, yb = ra.min_xy_m[1], ra.max_xy_m[1]
                lo, hi = ya + t + 0.35 + dw / 2, yb - t - 0.35 - dw / 2
                # keep it away from the hallway end of the partition, where the hallway doors are
                y = float(rng.uniform(lo, hi))
                doors.append(Door(len(doors), a, b, (ra.max_xy_m[0], y), dw, "y"))
    front_door = Door(len(doors), 0, -1, (0.0, (y_h0 + y_h1) / 2), dw, "y")
    doors.append(front_door)

    walls = _walls(cfg, W, H, y_h0, y_h1, rooms, side_rooms, doors)

    # furniture
    furniture: List[Furniture] = []
    for room in rooms:
        interior = (room.min_xy_m[0] + t / 2, room.min_xy_m[1] + t / 2,
                    room.max_xy_m[0] - t / 2, room.max_xy_m[1] - t / 2)
        zones = []
        for d in doors:
            if d.room_b == -1 and room.room_id == 0:
                # the front door: keep a zone clear in front of it
                zones.append((0.0, d.center_xy_m[1] - 0.8, 1.0, d.center_xy_m[1] + 0.8))
                continue
            if room.room_id not in (d.room_a, d.room_b):
                continue
            cx, cy = d.center_xy_m
            half = d.width_m / 2 + 0.3
            if d.wall_axis == "x":
                zones.append((cx - half, cy - 1.1, cx + half, cy + 1.1))
            else:
                zones.append((cx - 1.1, cy - half, cx + 1.1, cy + half))
        placed_ok = False
        for room_try in range(12):
            placer = _Placer(rng, interior, zones, hallway=(room.room_type == "hallway"))
            pieces = []
            ok = True
            for slot in catalog.ROOM_FURNITURE[room.room_type]:
                fc = catalog.FURNITURE_CLASSES[slot.cls]
                if not slot.required and (room_try >= 6 or rng.random() < 0.3):
                    continue
                width = float(rng.uniform(*fc.width_m))
                spot = placer.place(slot, fc, width)
                if spot is None:
                    if slot.required:
                        ok = False
                        break
                    continue
                pieces.append((fc, spot[0], spot[1], width))
            if ok:
                placed_ok = True
                break
        if not placed_ok:
            return None
        for fc, c, yaw, width in pieces:
            n_same = sum(1 for f in furniture if f.room_id == room.room_id and f.class_name == fc.name)
            fid = f"{room.name}/{fc.name}_{n_same + 1}"
            furniture.append(Furniture(
                furniture_id=fid, class_name=fc.name, room_id=room.room_id, instance_id=len(furniture) + 1,
                center_xy_m=c, yaw_rad=yaw, width_m=width, depth_m=fc.depth_m, height_m=fc.height_m,
                rgb=fc.rgb, receptacle=fc.receptacle, surfaces=_surfaces(fc, c, yaw, width), drifts=fc.drifts))

    grid = _rasterize(cfg, W, H, walls, furniture)
    dock = (W - 0.9, (y_h0 + y_h1) / 2, math.pi)
    planner = GridPlanner(grid, robot_radius_m)
    if not planner.is_free(dock[0], dock[1]):
        return None
    reach = planner.reachable_mask(dock[:2])
    # every room reachable: some reachable cell inside each room's interior
    for room in rooms:
        r0, c0 = grid.cell_of(room.min_xy_m[0] + t, room.min_xy_m[1] + t)
        r1, c1 = grid.cell_of(room.max_xy_m[0] - t, room.max_xy_m[1] - t)
        if not reach[max(r0, 0):r1, max(c0, 0):c1].any():
            return None
    # every receptacle approachable: a reachable robot position within 0.45 m of its footprint edge
    for f in furniture:
        if not f.receptacle:
            continue
        hx, hy = f.footprint_half_xy_m
        m = robot_radius_m + 0.45
        r0, c0 = grid.cell_of(f.center_xy_m[0] - hx - m, f.center_xy_m[1] - hy - m)
        r1, c1 = grid.cell_of(f.center_xy_m[0] + hx + m, f.center_xy_m[1] + hy + m)
        if not reach[max(r0, 0):r1 + 1, max(c0, 0):c1 + 1].any():
            return None

    objects = _objects(cfg, rng, rooms, furniture)
    if objects is None:
        return None
    return World(seed=cfg.seed, config=cfg, rooms=rooms, doors=doors, walls=walls, furniture=furniture,
                 objects=objects, grid=grid, dock_pose=(float(dock[0]), float(dock[1]), float(dock[2])),
                 size_xy_m=(float(W), float(H)))


def _walls(cfg: WorldConfig, W: float, H: float, y_h0: float, y_h1: float, rooms: List[Room],
           side_rooms: List[List[int]], doors: List[Door]) -> List[Box]:
    t, h = cfg.wall_thickness_m, cfg.wall_height_m

    def segments(a: float, b: float, gaps: List[Tuple[float, float]]) -> List[Tuple[float, float]]:
        out, cur = [], a
        for g0, g1 in sorted(gaps):
            if g0 > cur:
                out.append((cur, g0))
            cur = max(cur, g1)
        if cur < b:
            out.append((cur, b))
        return [(s0, s1) for s0, s1 in out if s1 - s0 > 1e-6]

    walls: List[Box] = []

    def along_x(y: float, x0: float, x1: float, gaps):
        for s0, s1 in segments(x0, x1, gaps):
            walls.append(Box(((s0 + s1) / 2, y, h / 2), ((s1 - s0) / 2 + t / 2, t / 2, h / 2)))

    def along_y(x: float, y0: float, y1: float, gaps):
        for s0, s1 in segments(y0, y1, gaps):
            walls.append(Box((x, (s0 + s1) / 2, h / 2), (t / 2, (s1 - s0) / 2 + t / 2, h / 2)))

    def gaps_on(axis: str, coord: float, lo: float, hi: float):
        out = []
        for d in doors:
            if d.room_b == -1 or d.wall_axis != axis:
                continue
            c_line = d.center_xy_m[1] if axis == "x" else d.center_xy_m[0]
            c_pos = d.center_xy_m[0] if axis == "x" else d.center_xy_m[1]
            if abs(c_line - coord) < 1e-6 and lo <= c_pos <= hi:
                out.append((c_pos - d.width_m / 2, c_pos + d.width_m / 2))
        return out

    along_x(0.0, 0.0, W, [])
    along_x(H, 0.0, W, [])
    along_y(0.0, 0.0, H, [])
    along_y(W, 0.0, H, [])
    along_x(y_h0, 0.0, W, gaps_on("x", y_h0, 0.0, W))
    along_x(y_h1, 0.0, W, gaps_on("x", y_h1, 0.0, W))
    for s, (ya, yb) in ((0, (0.0, y_h0)), (1, (y_h1, H))):
        for a in side_rooms[s][:-1]:
            x = rooms[a].max_xy_m[0]
            along_y(x, ya, yb, gaps_on("y", x, ya, yb))
    return walls


def _rasterize(cfg: WorldConfig, W: float, H: float, walls: List[Box], furniture: List[Furniture]
               ) -> OccupancyGrid:
    res = cfg.grid_resolution_m
    margin = 0.5
    origin = (-margin, -margin)
    cols = int(math.ceil((W + 2 * margin) / res))
    rows = int(math.ceil((H + 2 * margin) / res))
    occ = np.zeros((rows, cols), dtype=bool)
    # outside the home counts as occupied (the robot never leaves)
    xs = origin[0] + (np.arange(cols) + 0.5) * res
    ys = origin[1] + (np.arange(rows) + 0.5) * res
    outside_x = (xs < 0.0) | (xs > W)
    outside_y = (ys < 0.0) | (ys > H)
    occ[:, outside_x] = True
    occ[outside_y, :] = True

    def fill(x0, y0, x1, y1):
        c0 = max(0, int(math.floor((x0 - origin[0]) / res)))
        c1 = min(cols, int(math.ceil((x1 - origin[0]) / res)))
        r0 = max(0, int(math.floor((y0 - origin[1]) / res)))
        r1 = min(rows, int(math.ceil((y1 - origin[1]) / res)))
        occ[r0:r1, c0:c1] = True

    for w in walls:
        fill(w.center_m[0] - w.half_m[0], w.center_m[1] - w.half_m[1],
             w.center_m[0] + w.half_m[0], w.center_m[1] + w.half_m[1])
    for f in furniture:
        hx, hy = f.footprint_half_xy_m
        g = 0.12 if f.drifts else 0.0
        fill(f.center_xy_m[0] - hx - g, f.center_xy_m[1] - hy - g, f.center_xy_m[0] + hx + g, f.center_xy_m[1] + hy + g)
    return OccupancyGrid(occ, res, origin)


def _objects(cfg: WorldConfig, rng: np.random.Generator, rooms: List[Room], furniture: List[Furniture]
             ) -> Optional[List[ObjectSpec]]:
    """The object catalog with habitual homes (placement over time is the household's job)."""
    classes: List[str] = []
    for name, oc in catalog.OBJECT_CLASSES.items():
        classes += [name] * oc.count
    names = sorted(catalog.OBJECT_CLASSES)
    weights = np.array([catalog.OBJECT_CLASSES[n].count for n in names], dtype=float)
    weights /= weights.sum()
    if cfg.num_objects < len(classes):
        keep = np.sort(rng.choice(len(classes), size=cfg.num_objects, replace=False))
        classes = [classes[i] for i in keep]
    while len(classes) < cfg.num_objects:
        classes.append(str(rng.choice(names, p=weights)))
    new_classes = [str(rng.choice(NEW_OBJECT_CLASSES)) for _ in range(cfg.num_new_objects)]
    appear = [0] * len(classes) + sorted(int(rng.integers(1, max(2, cfg.new_objects_last_day + 1)))
                                         for _ in new_classes)
    classes = classes + new_classes

    room_type = {r.room_id: r.room_type for r in rooms}
    counters: Dict[str, int] = {}
    out: List[ObjectSpec] = []
    home_use: Dict[str, float] = {}
    for i, name in enumerate(classes):
        oc = catalog.OBJECT_CLASSES[name]
        counters[name] = counters.get(name, 0) + 1
        home = _choose_home(rng, oc, furniture, room_type, home_use)
        if home is None:
            return None
        colour = str(rng.choice(oc.colours))
        scale = float(rng.uniform(0.92, 1.08))
        size = tuple(round(s * scale, 4) for s in oc.size_m)
        if oc.shape == "sphere":
            size = (size[0], size[0], size[0])
        elif oc.shape == "cylinder":
            size = (size[0], size[0], size[2])
        out.append(ObjectSpec(
            object_id=f"{name}_{counters[name]:02d}", class_name=name, instance_id=OBJECT_INSTANCE_BASE + i,
            colour=colour, rgb=catalog.COLOURS[colour], size_label=oc.size_label, shape=oc.shape,
            size_m=(float(size[0]), float(size[1]), float(size[2])), home_furniture_id=home.furniture_id,
            habitual=oc.habitual, consumable=oc.consumable, appear_day=appear[i]))
    return out


def _fits(oc: catalog.ObjectClass, s: Surface) -> bool:
    """The object fits on the surface (some square orientation, with a little room to spare)."""
    a, b = sorted(oc.size_m[:2])
    u, v = sorted((s.max_xy_m[0] - s.min_xy_m[0], s.max_xy_m[1] - s.min_xy_m[1]))
    return s.clearance_m >= oc.size_m[2] * 1.1 + 0.02 and a * 1.1 + 0.02 < u and b * 1.1 + 0.02 < v


def _choose_home(rng: np.random.Generator, oc: catalog.ObjectClass, furniture: List[Furniture],
                 room_type: Dict[int, str], home_use: Dict[str, float]) -> Optional[Furniture]:
    """A habitual receptacle for one instance: the class's preferred (room, furniture) pairs first,
    instances spread out, each receptacle's homed objects covering at most ~35 % of its surface area."""
    area = oc.size_m[0] * oc.size_m[1] * 1.2

    def ok(f: Furniture) -> bool:
        cap = sum((s.max_xy_m[0] - s.min_xy_m[0]) * (s.max_xy_m[1] - s.min_xy_m[1]) for s in f.surfaces)
        return any(_fits(oc, s) for s in f.surfaces) and home_use.get(f.furniture_id, 0.0) + area <= 0.35 * cap

    fits = [f for f in furniture if f.receptacle and ok(f)]
    for k, (rt, fcls) in enumerate(oc.homes):
        cands = [f for f in fits if f.class_name == fcls and room_type[f.room_id] == rt]
        if not cands:
            cands = [f for f in fits if f.class_name == fcls]
        if cands and (k == len(oc.homes) - 1 or rng.random() < 0.75):
            cands.sort(key=lambda f: (home_use.get(f.furniture_id, 0.0), f.furniture_id))
            choice = cands[0] if rng.random() < 0.7 else cands[int(rng.integers(len(cands)))]
            home_use[choice.furniture_id] = home_use.get(choice.furniture_id, 0.0) + area
            return choice
    for _rt, fcls in oc.homes:
        cands = [f for f in fits if f.class_name == fcls]
        if cands:
            choice = cands[int(rng.integers(len(cands)))]
            home_use[choice.furniture_id] = home_use.get(choice.furniture_id, 0.0) + area
            return choice
    for _rt, fcls in oc.homes:       # over capacity beats an absurd place
        cands = [f for f in furniture if f.receptacle and f.class_name == fcls
                 and any(_fits(oc, s) for s in f.surfaces)]
        if cands:
            choice = cands[int(rng.integers(len(cands)))]
            home_use[choice.furniture_id] = home_use.get(choice.furniture_id, 0.0) + area
            return choice
    if fits:
        choice = fits[int(rng.integers(len(fits)))]
        home_use[choice.furniture_id] = home_use.get(choice.furniture_id, 0.0) + area
        return choice
    return None
