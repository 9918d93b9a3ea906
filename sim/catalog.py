"""Static tables of the household: room types, furniture classes, object classes, routines.

Everything here is data, not behaviour. Sizes in metres, times of day in seconds after midnight.
Room types and class names are the simulator's vocabulary (snake_case); perception's detector and the
benchmark read them from the class table and the ground-truth header, never from here directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

# --- rooms ------------------------------------------------------------------------------------------------

ROOM_TYPES: Tuple[str, ...] = ("kitchen", "living_room", "bedroom", "bathroom", "office", "hallway",
                               "kids_room", "dining_room")

# width range along the hallway (m); depth comes from the side of the house the room is on
ROOM_WIDTH_RANGE_M: Dict[str, Tuple[float, float]] = {
    "kitchen": (3.6, 4.4), "living_room": (4.8, 6.0), "bedroom": (3.6, 4.4), "bathroom": (2.6, 3.0),
    "office": (3.2, 3.8), "kids_room": (3.6, 4.2), "dining_room": (3.4, 4.0),
}

# --- furniture --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FurnitureClass:
    """A furniture class. Dimensions: width along the wall it backs onto, depth away from it, height."""
    name: str
    width_m: Tuple[float, float]          # (min, max)
    depth_m: float
    height_m: float
    style: str                            # visual template: solid|table|shelf|sofa|bed|chair|mat|counter_sink|stove
    receptacle: bool
    shelf_heights_m: Tuple[float, ...] = ()   # extra shelf surfaces below the top (shelf style)
    seat_height_m: float = 0.0            # surface height for sofa/chair style
    rgb: Tuple[float, float, float] = (0.6, 0.5, 0.4)
    drifts: bool = False                  # chairs: small pose changes day to day


FURNITURE_CLASSES: Dict[str, FurnitureClass] = {f.name: f for f in [
    FurnitureClass("counter", (1.8, 2.4), 0.6, 0.9, "solid", True, rgb=(0.85, 0.83, 0.78)),
    FurnitureClass("fridge", (0.7, 0.7), 0.7, 1.8, "solid", False, rgb=(0.92, 0.93, 0.95)),
    FurnitureClass("stove", (0.6, 0.6), 0.6, 0.9, "stove", False, rgb=(0.25, 0.25, 0.27)),
    FurnitureClass("sink", (1.0, 1.1), 0.6, 0.9, "counter_sink", True, rgb=(0.78, 0.8, 0.82)),
    FurnitureClass("pantry_shelf", (0.8, 1.0), 0.35, 1.5, "shelf", True, shelf_heights_m=(0.45, 0.95),
                   rgb=(0.65, 0.5, 0.35)),
    FurnitureClass("dining_table", (1.2, 1.5), 0.8, 0.75, "table", True, rgb=(0.55, 0.38, 0.22)),
    FurnitureClass("chair", (0.45, 0.45), 0.45, 0.9, "chair", False, seat_height_m=0.45,
                   rgb=(0.45, 0.3, 0.18), drifts=True),
    FurnitureClass("sofa", (1.9, 2.2), 0.9, 0.8, "sofa", True, seat_height_m=0.45, rgb=(0.3, 0.35, 0.5)),
    FurnitureClass("armchair", (0.85, 0.85), 0.85, 0.8, "sofa", True, seat_height_m=0.45,
                   rgb=(0.5, 0.25, 0.2)),
    FurnitureClass("coffee_table", (1.0, 1.2), 0.55, 0.45, "table", True, rgb=(0.4, 0.28, 0.18)),
    FurnitureClass("tv_stand", (1.4, 1.6), 0.4, 0.5, "solid", True, rgb=(0.2, 0.2, 0.22)),
    FurnitureClass("bookshelf", (0.9, 1.0), 0.32, 1.5, "shelf", True, shelf_heights_m=(0.45, 0.95),
                   rgb=(0.6, 0.45, 0.3)),
    FurnitureClass("bed", (1.5, 1.6), 2.0, 0.55, "bed", True, rgb=(0.85, 0.85, 0.9)),
    FurnitureClass("kids_bed", (0.9, 1.0), 1.9, 0.45, "bed", True, rgb=(0.6, 0.8, 0.95)),
    FurnitureClass("nightstand", (0.45, 0.5), 0.4, 0.55, "solid", True, rgb=(0.5, 0.36, 0.24)),
    FurnitureClass("wardrobe", (1.0, 1.2), 0.6, 2.0, "solid", False, rgb=(0.7, 0.62, 0.5)),
    FurnitureClass("dresser", (0.9, 1.1), 0.5, 0.8, "solid", True, rgb=(0.62, 0.48, 0.34)),
    FurnitureClass("vanity", (0.9, 1.0), 0.5, 0.85, "counter_sink", True, rgb=(0.9, 0.9, 0.9)),
    FurnitureClass("toilet", (0.45, 0.45), 0.65, 0.75, "solid", False, rgb=(0.97, 0.97, 0.97)),
    FurnitureClass("bathtub", (1.6, 1.7), 0.75, 0.55, "solid", False, rgb=(0.95, 0.95, 0.97)),
    FurnitureClass("towel_shelf", (0.6, 0.7), 0.3, 1.2, "shelf", True, shelf_heights_m=(0.4, 0.8),
                   rgb=(0.75, 0.7, 0.6)),
    FurnitureClass("desk", (1.3, 1.5), 0.7, 0.75, "table", True, rgb=(0.6, 0.55, 0.5)),
    FurnitureClass("office_chair", (0.55, 0.55), 0.55, 1.0, "chair", False, seat_height_m=0.48,
                   rgb=(0.15, 0.15, 0.15), drifts=True),
    FurnitureClass("filing_cabinet", (0.45, 0.5), 0.55, 0.7, "solid", True, rgb=(0.55, 0.57, 0.6)),
    FurnitureClass("entry_table", (0.9, 1.0), 0.35, 0.8, "table", True, rgb=(0.35, 0.25, 0.18)),
    FurnitureClass("shoe_rack", (0.8, 0.9), 0.3, 0.5, "solid", True, rgb=(0.45, 0.4, 0.35)),
    FurnitureClass("coat_rack", (0.4, 0.4), 0.4, 1.7, "solid", False, rgb=(0.3, 0.22, 0.15)),
    FurnitureClass("toy_box", (0.8, 0.9), 0.45, 0.45, "solid", True, rgb=(0.9, 0.6, 0.2)),
    FurnitureClass("play_mat", (1.4, 1.6), 1.4, 0.02, "mat", True, rgb=(0.4, 0.75, 0.45)),
    FurnitureClass("kids_table", (0.7, 0.8), 0.6, 0.5, "table", True, rgb=(0.95, 0.85, 0.4)),
]}


@dataclass(frozen=True)
class FurnitureSlot:
    """One piece of furniture a room type gets: where it goes and whether the room needs it."""
    cls: str
    placement: str          # "wall" (backs onto a wall) | "center" (free-standing) | "door_wall" (hallway)
    required: bool = True
    near: str = ""          # place next to this class (chairs at a table)


ROOM_FURNITURE: Dict[str, List[FurnitureSlot]] = {
    "kitchen": [FurnitureSlot("counter", "wall"), FurnitureSlot("fridge", "wall"),
                FurnitureSlot("stove", "wall"), FurnitureSlot("sink", "wall"),
                FurnitureSlot("pantry_shelf", "wall", False), FurnitureSlot("dining_table", "center"),
                FurnitureSlot("chair", "center", True, near="dining_table"),
                FurnitureSlot("chair", "center", False, near="dining_table")],
    "living_room": [FurnitureSlot("sofa", "wall"), FurnitureSlot("tv_stand", "wall"),
                    FurnitureSlot("bookshelf", "wall"), FurnitureSlot("coffee_table", "center"),
                    FurnitureSlot("armchair", "wall", False)],
    "bedroom": [FurnitureSlot("bed", "wall"), FurnitureSlot("nightstand", "wall"),
                FurnitureSlot("wardrobe", "wall"), FurnitureSlot("dresser", "wall", False)],
    "bathroom": [FurnitureSlot("vanity", "wall"), FurnitureSlot("toilet", "wall"),
                 FurnitureSlot("bathtub", "wall", False), FurnitureSlot("towel_shelf", "wall")],
    "office": [FurnitureSlot("desk", "wall"), FurnitureSlot("office_chair", "center", True, near="desk"),
               FurnitureSlot("bookshelf", "wall"), FurnitureSlot("filing_cabinet", "wall", False)],
    "hallway": [FurnitureSlot("entry_table", "door_wall"), FurnitureSlot("shoe_rack", "door_wall"),
                FurnitureSlot("coat_rack", "door_wall", False)],
    "kids_room": [FurnitureSlot("kids_bed", "wall"), FurnitureSlot("toy_box", "wall"),
                  FurnitureSlot("play_mat", "center"), FurnitureSlot("kids_table", "wall", False)],
    "dining_room": [FurnitureSlot("dining_table", "center"),
                    FurnitureSlot("chair", "center", True, near="dining_table"),
                    FurnitureSlot("chair", "center", True, near="dining_table"),
                    FurnitureSlot("bookshelf", "wall", False)],
}

# --- objects ----------------------------------------------------------------------------------------------

COLOURS: Dict[str, Tuple[float, float, float]] = {
    "red": (0.8, 0.1, 0.1), "green": (0.15, 0.65, 0.2), "blue": (0.15, 0.3, 0.85),
    "yellow": (0.95, 0.85, 0.1), "white": (0.95, 0.95, 0.95), "black": (0.08, 0.08, 0.08),
    "grey": (0.5, 0.5, 0.52), "orange": (0.95, 0.5, 0.1), "purple": (0.5, 0.2, 0.65),
    "pink": (0.95, 0.55, 0.7), "brown": (0.5, 0.32, 0.15), "silver": (0.75, 0.76, 0.78),
}


@dataclass(frozen=True)
class ObjectClass:
    """A small-object class. ``size_m`` is the full box (x, y, z) of the object; cylinders and spheres use
    x as the diameter. ``homes`` are (room_type, furniture_class) choices for an instance's habitual place,
    best first."""
    name: str
    shape: str                              # box | cylinder | sphere
    size_m: Tuple[float, float, float]
    size_label: str                         # small | medium | large
    colours: Tuple[str, ...]
    homes: Tuple[Tuple[str, str], ...]
    count: int = 1                          # instances in a typical home
    consumable: bool = False                # used up, then restocked
    habitual: bool = True                   # returns to its home when tidied


OBJECT_CLASSES: Dict[str, ObjectClass] = {c.name: c for c in [
    ObjectClass("mug", "cylinder", (0.09, 0.09, 0.10), "small", ("white", "red", "blue", "black"),
                (("kitchen", "counter"), ("kitchen", "pantry_shelf")), count=4),
    ObjectClass("cup", "cylinder", (0.07, 0.07, 0.09), "small", ("white", "green", "blue"),
                (("kitchen", "pantry_shelf"), ("kitchen", "counter")), count=3),
    ObjectClass("plate", "cylinder", (0.24, 0.24, 0.02), "medium", ("white", "blue"),
                (("kitchen", "counter"), ("kitchen", "pantry_shelf")), count=3),
    ObjectClass("bowl", "cylinder", (0.16, 0.16, 0.06), "small", ("white", "yellow", "green"),
                (("kitchen", "counter"), ("kitchen", "pantry_shelf")), count=2),
    ObjectClass("bottle", "cylinder", (0.07, 0.07, 0.25), "medium", ("green", "blue", "silver"),
                (("kitchen", "counter"),), count=2),
    ObjectClass("apple", "sphere", (0.08, 0.08, 0.08), "small", ("red", "green"),
                (("kitchen", "dining_table"), ("kitchen", "counter")), count=3, consumable=True),
    ObjectClass("banana", "box", (0.18, 0.05, 0.04), "small", ("yellow",),
                (("kitchen", "counter"),), count=2, consumable=True),
    ObjectClass("milk_carton", "box", (0.08, 0.08, 0.20), "medium", ("white", "blue"),
                (("kitchen", "counter"),), consumable=True),
    ObjectClass("cereal_box", "box", (0.20, 0.07, 0.28), "medium", ("orange", "yellow", "red"),
                (("kitchen", "pantry_shelf"), ("kitchen", "counter")), consumable=True),
    ObjectClass("book", "box", (0.16, 0.23, 0.035), "medium", ("red", "blue", "green", "black", "yellow"),
                (("living_room", "bookshelf"), ("office", "bookshelf"), ("bedroom", "nightstand")), count=5),
    ObjectClass("notebook", "box", (0.15, 0.21, 0.015), "small", ("black", "blue", "purple"),
                (("office", "desk"), ("office", "filing_cabinet")), count=2),
    ObjectClass("keys", "box", (0.09, 0.05, 0.025), "small", ("silver",),
                (("hallway", "entry_table"),)),
    ObjectClass("wallet", "box", (0.11, 0.09, 0.025), "small", ("brown", "black"),
                (("hallway", "entry_table"), ("bedroom", "nightstand"))),
    ObjectClass("phone", "box", (0.075, 0.155, 0.012), "small", ("black", "silver"),
                (("bedroom", "nightstand"), ("living_room", "coffee_table"))),
    ObjectClass("remote_control", "box", (0.05, 0.19, 0.025), "small", ("black", "grey"),
                (("living_room", "coffee_table"), ("living_room", "tv_stand"))),
    ObjectClass("laptop", "box", (0.34, 0.24, 0.025), "medium", ("silver", "black"),
                (("office", "desk"),)),
    ObjectClass("glasses", "box", (0.14, 0.05, 0.04), "small", ("black", "brown"),
                (("bedroom", "nightstand"),)),
    ObjectClass("tablet", "box", (0.25, 0.18, 0.012), "small", ("black", "silver"),
                (("living_room", "coffee_table"), ("bedroom", "nightstand"))),
    ObjectClass("headphones", "box", (0.18, 0.16, 0.08), "small", ("black", "white", "red"),
                (("office", "desk"),)),
    ObjectClass("backpack", "box", (0.30, 0.18, 0.42), "large", ("blue", "red", "black"),
                (("hallway", "shoe_rack"), ("kids_room", "toy_box"), ("office", "filing_cabinet"))),
    ObjectClass("shoes", "box", (0.30, 0.22, 0.12), "medium", ("black", "white", "brown"),
                (("hallway", "shoe_rack"),), count=2),
    ObjectClass("toy_car", "box", (0.13, 0.07, 0.06), "small", ("red", "blue", "yellow"),
                (("kids_room", "toy_box"), ("living_room", "tv_stand")), count=2, habitual=False),
    ObjectClass("teddy_bear", "box", (0.20, 0.15, 0.26), "medium", ("brown", "pink"),
                (("kids_room", "kids_bed"), ("bedroom", "bed")), habitual=False),
    ObjectClass("ball", "sphere", (0.18, 0.18, 0.18), "medium", ("red", "blue", "orange"),
                (("kids_room", "toy_box"), ("living_room", "sofa")), habitual=False),
    ObjectClass("building_blocks", "box", (0.18, 0.18, 0.09), "medium", ("yellow", "green", "red"),
                (("kids_room", "toy_box"), ("kids_room", "kids_table")), habitual=False),
    ObjectClass("toothbrush", "box", (0.02, 0.19, 0.02), "small", ("blue", "green", "pink"),
                (("bathroom", "vanity"),), count=2),
    ObjectClass("towel", "box", (0.32, 0.22, 0.06), "medium", ("white", "blue", "yellow"),
                (("bathroom", "towel_shelf"),), count=2),
    ObjectClass("shampoo", "cylinder", (0.07, 0.07, 0.21), "small", ("green", "blue", "purple"),
                (("bathroom", "vanity"), ("bathroom", "towel_shelf")), consumable=True),
    ObjectClass("soap", "box", (0.09, 0.06, 0.03), "small", ("white", "green"),
                (("bathroom", "vanity"),), consumable=True),
    ObjectClass("pillow", "box", (0.45, 0.32, 0.12), "large", ("white", "grey", "blue"),
                (("living_room", "sofa"), ("bedroom", "bed")), count=2),
    ObjectClass("plant", "cylinder", (0.16, 0.16, 0.30), "medium", ("green",),
                (("living_room", "bookshelf"), ("office", "desk"), ("living_room", "tv_stand"))),
    ObjectClass("board_game", "box", (0.40, 0.28, 0.07), "medium", ("red", "blue"),
                (("living_room", "bookshelf"), ("living_room", "tv_stand"))),
    ObjectClass("water_bottle", "cylinder", (0.07, 0.07, 0.22), "small", ("blue", "silver", "pink"),
                (("kitchen", "counter"), ("office", "desk"))),
    ObjectClass("pencil_case", "box", (0.20, 0.07, 0.05), "small", ("blue", "purple", "black"),
                (("kids_room", "kids_table"), ("office", "desk"))),
]}

# Classes perception may confuse: visually similar pairs (the noisy oracle uses these).
SIMILAR_CLASSES: Tuple[Tuple[str, str], ...] = (
    ("mug", "cup"), ("book", "notebook"), ("phone", "remote_control"), ("plate", "bowl"),
    ("bottle", "water_bottle"), ("tablet", "laptop"), ("phone", "tablet"), ("towel", "pillow"),
)

# --- routines ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """Inside a routine: each present object of ``classes`` joins with probability ``p``, goes to one of
    ``targets`` ((room_type, furniture_class); room_type "play" = the room the kids play in that day,
    "home" = the object's habitual place), and with ``return_after_s`` set comes back (to ``return_to``)
    after that long (+- 25 %)."""
    classes: Tuple[str, ...]
    p: float
    targets: Tuple[Tuple[str, str], ...]
    return_after_s: float = 0.0
    return_to: Tuple[Tuple[str, str], ...] = (("home", ""),)


@dataclass(frozen=True)
class Routine:
    name: str
    weekday_window_s: Tuple[float, float]   # start of the burst falls in this window; (0, 0) = never
    weekend_window_s: Tuple[float, float]
    p_weekday: float
    p_weekend: float
    moves: Tuple[Move, ...] = ()
    spread_s: float = 600.0                 # objects of one burst move within this span
    kind: str = "move"                      # move | tidy | consume | restock | chairs


H = 3600.0
KITCHEN_DISHES = ("mug", "cup", "plate", "bowl")
ROUTINES: Tuple[Routine, ...] = (
    Routine("breakfast", (6.75 * H, 7.5 * H), (8.5 * H, 9.5 * H), 0.95, 0.9, (
        Move(KITCHEN_DISHES, 0.45, (("kitchen", "dining_table"), ("dining_room", "dining_table")),
             return_after_s=1.5 * H, return_to=(("kitchen", "sink"), ("home", ""))),
        Move(("milk_carton", "cereal_box"), 0.7, (("kitchen", "dining_table"), ("dining_room", "dining_table")),
             return_after_s=1.0 * H),
    )),
    Routine("leave_home", (7.75 * H, 8.25 * H), (0, 0), 1.0, 0.0, (
        Move(("backpack",), 0.5, (("hallway", "shoe_rack"), ("hallway", "entry_table"))),
        Move(("shoes",), 0.3, (("hallway", "shoe_rack"),)),
    )),
    Routine("work", (8.5 * H, 9.25 * H), (10.0 * H, 11.0 * H), 0.9, 0.25, (
        Move(("laptop",), 0.3, (("living_room", "coffee_table"), ("kitchen", "dining_table"),
                                ("dining_room", "dining_table")), return_after_s=6.0 * H),
        Move(("notebook", "pencil_case", "headphones"), 0.35,
             (("living_room", "coffee_table"), ("office", "desk"), ("kids_room", "kids_table")),
             return_after_s=5.0 * H),
        Move(("mug", "water_bottle"), 0.15, (("office", "desk"),), return_after_s=4.0 * H),
    )),
    Routine("kids_play", (15.5 * H, 16.5 * H), (10.0 * H, 14.0 * H), 0.8, 1.0, (
        Move(("toy_car", "ball", "building_blocks", "teddy_bear"), 0.7,
             (("play", "play_mat"), ("play", "sofa"), ("play", "coffee_table"), ("play", "kids_table"),
              ("play", "armchair"), ("play", "kids_bed"), ("play", "toy_box"), ("play", "bed"))),
        Move(("board_game",), 0.3, (("play", "coffee_table"), ("play", "kids_table"), ("play", "play_mat"))),
        Move(("tablet",), 0.3, (("play", "sofa"), ("play", "kids_bed"), ("play", "play_mat"))),
    ), spread_s=3600.0),
    Routine("come_home", (17.25 * H, 18.25 * H), (0, 0), 1.0, 0.0, (
        Move(("keys",), 0.25, (("kitchen", "counter"), ("living_room", "coffee_table"),
                               ("bedroom", "nightstand")), return_after_s=3.0 * H),
        Move(("wallet",), 0.4, (("kitchen", "counter"), ("bedroom", "dresser"), ("hallway", "entry_table"))),
        Move(("backpack",), 0.5, (("hallway", "shoe_rack"), ("office", "filing_cabinet"), ("kids_room", "toy_box"))),
        Move(("phone",), 0.5, (("living_room", "coffee_table"), ("kitchen", "counter"), ("living_room", "sofa"))),
    )),
    Routine("dinner", (18.5 * H, 19.25 * H), (18.0 * H, 19.0 * H), 0.95, 0.95, (
        Move(("plate", "bowl", "cup", "bottle"), 0.5, (("kitchen", "dining_table"), ("dining_room", "dining_table")),
             return_after_s=1.25 * H, return_to=(("kitchen", "sink"), ("kitchen", "counter"))),
        Move(("apple", "banana"), 0.3, (("kitchen", "dining_table"),)),
    )),
    Routine("evening", (20.0 * H, 21.0 * H), (20.0 * H, 21.0 * H), 0.9, 0.9, (
        Move(("book",), 0.25, (("living_room", "sofa"), ("living_room", "coffee_table"), ("bedroom", "nightstand"),
                               ("bedroom", "bed"))),
        Move(("remote_control",), 0.5, (("living_room", "sofa"), ("living_room", "armchair"))),
        Move(("phone", "glasses"), 0.4, (("bedroom", "nightstand"), ("living_room", "coffee_table"))),
        Move(("pillow",), 0.2, (("living_room", "armchair"), ("living_room", "sofa"), ("bedroom", "bed"))),
        Move(("towel",), 0.3, (("bathroom", "vanity"), ("bedroom", "bed")), return_after_s=12 * H),
        Move(("toothbrush",), 0.1, (("bathroom", "towel_shelf"),), return_after_s=10 * H),
    )),
    Routine("tidy", (21.0 * H, 22.0 * H), (11.0 * H, 12.0 * H), 0.85, 0.95, kind="tidy", spread_s=1800.0),
    Routine("consume", (12.0 * H, 13.0 * H), (12.0 * H, 13.0 * H), 0.7, 0.8, kind="consume", spread_s=7200.0),
    Routine("groceries", (0, 0), (15.0 * H, 16.0 * H), 0.0, 1.0, kind="restock"),
    Routine("chairs", (7.0 * H, 8.0 * H), (9.0 * H, 10.0 * H), 1.0, 1.0, kind="chairs", spread_s=3600.0),
)
# Wednesday also gets a small grocery run (weekday index 2) -- see household.py.

# tidying: probability that an off-home (habitual) object is put back at a tidy burst
P_TIDY_RETURN = 0.85
P_TIDY_RETURN_NON_HABITUAL = 0.5     # toys go back to the toy box, or not
P_CONSUME = 0.35                     # per consumable per consume burst
