"""Room labels from the objects seen and the room's shape (perception's RoomLabeler)."""
from __future__ import annotations

import numpy as np
import pytest

from memory_nodes.perception.config import PlacesConfig, RoomsConfig
from memory_nodes.perception.places_rooms import PlacesAndRooms
from memory_nodes.perception.rooms import RoomLabeler

HALL, BATH = 0, 1
# a 1.6 m x 12 m corridor (y in [0, 1.6]) and a 2.7 m x 4.5 m bathroom beside it (y in [1.6, 6.1])
SHAPES = {HALL: (1.6, 1.6 * 12.0), BATH: (2.7, 2.7 * 4.5)}


def room_at(x: float, y: float) -> int:
    if 0.0 <= x <= 12.0 and 0.0 <= y < 1.6:
        return HALL
    if 0.0 <= x <= 2.7 and 1.6 <= y <= 6.1:
        return BATH
    return -1


def seen(labeler: RoomLabeler, cls: str, x: float, y: float, frames: int = 3) -> None:
    for _ in range(frames):
        labeler.add_frame([(cls, x, y)])


def test_a_corridor_with_a_stray_bathroom_object_is_a_hallway():
    lab = RoomLabeler(RoomsConfig())
    seen(lab, "towel", 6.0, 0.8, frames=20)           # carried through, seen on many frames
    label, conf = lab.label_rooms(room_at, SHAPES)[HALL]
    assert label == "hallway" and conf >= RoomsConfig().label_min_confidence
    # without the shape (no room extents known) the one towel would have called it a bathroom
    assert lab.label_rooms(room_at)[HALL][0] == "bathroom"


def test_a_bathroom_with_a_toilet_and_a_vanity_stays_a_bathroom_even_when_narrow():
    lab = RoomLabeler(RoomsConfig())
    seen(lab, "toilet", 0.5, 5.5)
    seen(lab, "vanity", 2.0, 5.5)
    seen(lab, "towel", 1.0, 2.0)
    label, conf = lab.label_rooms(room_at, SHAPES)[BATH]
    assert label == "bathroom" and conf > 0.5
    # the same objects in a long, narrow bathroom (1.8 m x 5 m): the objects outvote the shape
    narrow = {BATH: (1.8, 1.8 * 5.0)}
    assert lab.label_rooms(room_at, narrow)[BATH][0] == "bathroom"


def test_one_off_detections_do_not_vote():
    """A detector's false positives as the LA-EQA emulator makes them: a random small-object class (4 of
    the simulator's ~30 are bathroom evidence, the most of any room) at a random floor spot of the view."""
    from sim.catalog import OBJECT_CLASSES

    rng = np.random.default_rng(0)
    lab = RoomLabeler(RoomsConfig())
    classes = sorted(OBJECT_CLASSES)
    for _ in range(150):
        lab.add_frame([(classes[int(rng.integers(len(classes)))], float(rng.uniform(0, 12)),
                        float(rng.uniform(0, 1.6)))])
    # only the rare coincidences (same class in the same 0.5 m cell twice) are confirmed
    assert sum(lab.votes(room_at).get(HALL, {}).values()) <= 3
    seen(lab, "shoe_rack", 3.0, 0.3)
    seen(lab, "entry_table", 1.0, 0.3)
    label, conf = lab.label_rooms(room_at, SHAPES)[HALL]
    assert label == "hallway" and conf > 0.6
    # the same one-off detections counted as evidence (the old rule) swamp the corridor's furniture
    old = RoomLabeler(RoomsConfig(label_min_sightings=1, hallway_prior_count=0.0))
    old.load_state(lab.to_state())
    assert old.label_rooms(room_at, SHAPES)[HALL][0] != "hallway"


def test_one_frame_counts_an_object_once():
    lab = RoomLabeler(RoomsConfig())
    lab.add_frame([("toilet", 0.5, 5.5), ("toilet", 0.55, 5.6)])     # two boxes of one toilet, one frame
    assert BATH not in lab.label_rooms(room_at)
    lab.add_frame([("toilet", 0.52, 5.52)])                          # a second frame confirms it
    assert lab.label_rooms(room_at)[BATH][0] == "bathroom"


def test_rooms_with_no_objects_by_shape():
    lab = RoomLabeler(RoomsConfig())
    labels = lab.label_rooms(room_at, SHAPES)
    assert labels[HALL][0] == "hallway" and labels[HALL][1] >= RoomsConfig().label_min_confidence
    assert labels[BATH] == ("unknown", 0.0)
    assert RoomLabeler(RoomsConfig(hallway_label="")).label_rooms(room_at, SHAPES)[HALL] == ("unknown", 0.0)


def test_a_tie_between_shape_and_objects_goes_to_the_objects():
    cfg = RoomsConfig()
    lab = RoomLabeler(cfg)
    seen(lab, "fridge", 2.0, 0.3)
    seen(lab, "stove", 4.0, 0.3)                       # a galley kitchen: 2 kitchen votes, 2 shape votes
    assert cfg.hallway_prior_count == 2.0
    assert lab.label_rooms(room_at, SHAPES)[HALL][0] == "kitchen"


def test_state_keeps_the_sighting_counts_and_reads_older_states():
    lab = RoomLabeler(RoomsConfig())
    seen(lab, "toilet", 0.5, 5.5, frames=2)
    lab.add_frame([("soap", 1.0, 5.0)])
    again = RoomLabeler(RoomsConfig())
    again.load_state(lab.to_state())
    assert again.label_rooms(room_at) == lab.label_rooms(room_at)
    legacy = [e[:5] for e in lab.to_state()]                          # [class, ix, iy, x, y]: one sighting each
    old = RoomLabeler(RoomsConfig())
    old.load_state(legacy)
    assert BATH not in old.label_rooms(room_at)
    seen(old, "toilet", 0.5, 5.5, frames=1)
    assert old.label_rooms(room_at)[BATH][0] == "bathroom"


def test_scene_counts_frames_of_observations():
    from memory_nodes.common.types import ObjectObservation

    def obs(cls, x, y):
        c = np.array([x, y, 0.4])
        return ObjectObservation(stamp_ns=0, class_name=cls, score=0.9, centroid_m=c, bbox_min_m=c - 0.1,
                                 bbox_max_m=c + 0.1, num_points=50)

    scene = PlacesAndRooms(PlacesConfig(), RoomsConfig())
    scene.add_objects([obs("bed", 6.0, 2.0), obs("bed", 6.05, 2.05)])
    assert scene.labeler.label_rooms(lambda x, y: 7) == {}
    scene.add_objects([obs("bed", 6.0, 2.0)])
    assert scene.labeler.label_rooms(lambda x, y: 7)[7][0] == "bedroom"


def test_config_checks():
    from memory_nodes.common.errors import ConfigError
    for bad in (dict(label_min_sightings=0), dict(hallway_prior_count=-1.0), dict(label_prior_count=-0.1)):
        with pytest.raises(ConfigError):
            RoomsConfig(**bad).validate()


def test_bench_layout_rooms_use_the_shape():
    """The LA-EQA emulator's true-extent rooms go through the same labeler, shape included."""
    from bench.laeqa.home import layout_segmentation
    from sim.config import WorldConfig
    from sim.world import generate_world

    world = generate_world(WorldConfig(seed=0))
    cfg = RoomsConfig()
    lab = RoomLabeler(cfg)
    hall = next(r for r in world.rooms if r.room_type == "hallway")
    bath = next(r for r in world.rooms if r.room_type == "bathroom")
    (x0, y0), (x1, y1) = hall.min_xy_m, hall.max_xy_m
    seen(lab, "towel", (x0 + x1) / 2, (y0 + y1) / 2)                 # a stray towel in the corridor
    for f in world.furniture:
        if f.room_id == bath.room_id:
            seen(lab, f.class_name, *f.center_xy_m)
    labels = {r.room_id: r.label for r in layout_segmentation(world, lab, 0, cfg).rooms}
    assert labels[hall.room_id] == "hallway" and labels[bath.room_id] == "bathroom"
