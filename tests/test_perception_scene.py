"""Views (keyframes), places, the occupancy grid and rooms (segmentation, stable ids, labels)."""
from __future__ import annotations

import numpy as np
import pytest

from memory_nodes.common.geometry import pose2d_T
from memory_nodes.common.types import RGBDFrame
from memory_nodes.perception.config import PlacesConfig, RoomsConfig, ViewsConfig
from memory_nodes.perception.places import PlaceGraphBuilder
from memory_nodes.perception.rooms import OccupancyGrid, RoomLabeler, RoomSegmenter
from memory_nodes.perception.synthetic import SynthBox, intrinsics_for, look_at, render
from memory_nodes.perception.views import KeyframeSelector, downsample_depth

S = 1_000_000_000


# ---------------------------------------------------------------------------- views


def test_keyframes_by_motion_novelty_and_rate():
    sel = KeyframeSelector(ViewsConfig(min_interval_s=0.5, max_interval_s=10.0, translation_m=0.5,
                                       rotation_rad=0.35))
    K = intrinsics_for(64, 48)
    frame = RGBDFrame(0, np.zeros((48, 64, 3), np.uint8), np.ones((48, 64), np.float32), K)
    T0 = pose2d_T(0.0, 0.0, 0.0)
    assert sel.is_keyframe(0, T0, [])
    sel.make_view(frame, T0, ["mug"], 3)
    assert not sel.is_keyframe(1 * S, T0, ["mug"])                       # nothing new
    assert not sel.is_keyframe(S // 10, pose2d_T(2.0, 0, 0), ["sofa"])  # rate cap
    assert sel.is_keyframe(1 * S, pose2d_T(0.6, 0.0, 0.0), ["mug"])    # moved
    assert sel.is_keyframe(1 * S, pose2d_T(0.0, 0.0, 0.4), ["mug"])    # turned
    assert sel.is_keyframe(1 * S, T0, ["mug", "sofa"])                  # a new class
    assert sel.is_keyframe(11 * S, T0, ["mug"])                         # too long since the last


def test_view_holds_downsampled_depth_scaled_intrinsics_and_jpeg():
    import cv2

    box = SynthBox((2.0, 0.0, 0.3), (0.6, 0.6, 0.6), 1, "box")
    K = intrinsics_for(640, 480)
    T = look_at((0.0, 0.0, 1.0), (2.0, 0.0, 0.3))
    frame = render([box], K, T, stamp_ns=7 * S)
    frame.depth_m[:10] = 0.0                 # no return
    sel = KeyframeSelector(ViewsConfig())
    v = sel.make_view(frame, T, ["box", "box"], place_id=4)
    assert v.view_id == f"view-{7 * S}" and sel.last_view_id == v.view_id
    assert v.depth_m.shape == (120, 160) and v.depth_m.dtype == np.float32
    assert np.all(np.isnan(v.depth_m[:2]))
    assert (v.intrinsics.width, v.intrinsics.height) == (160, 120)
    assert v.intrinsics.fx == pytest.approx(K.fx / 4)
    # a pixel of the small depth image sees what the big one saw at the same ray
    u, r = 80, 70
    ray = np.array([(u - v.intrinsics.cx) / v.intrinsics.fx, (r - v.intrinsics.cy) / v.intrinsics.fy, 1.0])
    uu = K.fx * ray[0] + K.cx
    rr = K.fy * ray[1] + K.cy
    assert v.depth_m[r, u] == pytest.approx(frame.depth_m[int(round(rr)), int(round(uu))], abs=0.02)
    img = cv2.imdecode(np.frombuffer(v.color_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (240, 320, 3)
    assert v.detected_classes == ["box"] and v.place_id == 4
    assert np.all(np.isnan(downsample_depth(np.full((4, 4), np.inf, np.float32), 2, 2)))


# ---------------------------------------------------------------------------- places


def test_places_along_travel_with_traversed_edges():
    g = PlaceGraphBuilder(PlacesConfig(new_place_distance_m=1.0, edge_max_distance_m=3.0))
    changed = [g.update(np.array([x, 0.0, 0.0]), int(x * 10) * S) for x in np.arange(0.0, 3.01, 0.25)]
    assert [p.place_id for p in g.places] == [0, 1, 2]
    assert np.allclose([p.position_m[0] for p in g.places], [0.0, 1.25, 2.5])
    assert sum(changed) == 3           # each new place (with its edge to the last) is one change
    graph = g.graph(0)
    assert graph.edges == [(0, 1), (1, 2)]
    # back to the start: no new place, no new edge; current is the nearest place
    for x in np.arange(3.0, -0.01, -0.5):
        g.update(np.array([x, 0.0, 0.0]), 100 * S)
    assert len(g.places) == 3 and g.graph(0).edges == [(0, 1), (1, 2)] and g.current == 0
    assert g.places[0].last_observed_ns == 100 * S and g.places[0].first_observed_ns == 0
    # a jump (relocalization) farther than edge_max makes a place without an edge
    g.update(np.array([10.0, 0.0, 0.0]), 200 * S)
    assert len(g.places) == 4 and g.graph(0).edges == [(0, 1), (1, 2)]
    assert g.set_rooms({0: 5, 1: 5}) and g.places[0].room_id == 5 and g.places[3].room_id == -1


# ---------------------------------------------------------------------------- grid and rooms


def _two_rooms_and_a_corridor(cfg: RoomsConfig) -> OccupancyGrid:
    """Room A x in [0, 4], room B x in [4.1, 8], y in [0, 4]; a corridor y in [4.1, 5.6] over both;
    walls 0.1 m thick; a 0.9 m door from each room into the corridor and none between the rooms."""
    grid = OccupancyGrid(cfg)
    res = cfg.grid_resolution_m

    def cells(x0, x1, y0, y1):
        r0, c0 = grid.cell_of(x0, y0)
        r1, c1 = grid.cell_of(x1, y1)
        return slice(r0, r1), slice(c0, c1)

    grid.free_hits[cells(0.0, 8.1, 0.0, 5.6)] = 5
    for wall in [(-0.1, 8.2, -0.1, 0.0), (-0.1, 8.2, 5.6, 5.7), (-0.1, 0.0, -0.1, 5.7), (8.1, 8.2, -0.1, 5.7),
                 (4.0, 4.1, 0.0, 4.0), (0.0, 1.5, 4.0, 4.1), (2.4, 5.6, 4.0, 4.1), (6.5, 8.1, 4.0, 4.1)]:
        grid.occ_hits[cells(*wall)] = 5
    grid.occ_hits[cells(1.0, 1.6, 1.0, 1.6)] = 5            # furniture
    assert res == 0.05
    return grid


def test_rooms_from_grid_with_labels_and_stable_ids():
    cfg = RoomsConfig(grid_size_m=20.0, grid_origin_x_m=-5.0, grid_origin_y_m=-5.0)
    grid = _two_rooms_and_a_corridor(cfg)
    labeler = RoomLabeler(cfg)
    for _ in range(2):                       # each seen on two frames (a one-off detection does not vote)
        for cls, x, y in [("fridge", 3.5, 0.5), ("stove", 2.5, 0.4), ("dining_table", 2.0, 2.0),
                          ("bed", 6.0, 2.0), ("nightstand", 7.5, 3.5), ("fridge", 3.52, 0.51)]:
            labeler.add(cls, x, y)
    seg = RoomSegmenter(cfg).segment(grid, labeler, 5 * S)
    assert len(seg.rooms) == 3
    a, b, corridor = seg.room_at(2.0, 2.5), seg.room_at(6.0, 1.0), seg.room_at(4.0, 4.8)
    assert len({a, b, corridor}) == 3 and min(a, b, corridor) >= 0
    assert seg.room_at(0.5, 0.5) == a and seg.room_at(7.8, 3.8) == b and seg.room_at(7.5, 5.0) == corridor
    labels = {r.room_id: (r.label, r.label_confidence) for r in seg.rooms}
    assert labels[a][0] == "kitchen" and labels[b][0] == "bedroom" and labels[corridor][0] == "hallway"
    assert 0.5 < labels[a][1] <= 1.0 and 0.5 < labels[b][1] <= 1.0
    by_id = {r.room_id: r for r in seg.rooms}
    assert by_id[a].area_m2 == pytest.approx(4.0 * 4.0 - 0.36, rel=0.12)
    assert np.allclose(by_id[b].centroid_m[:2], [6.05, 2.0], atol=0.2)

    # more of the home seen (the corridor continues west), re-cut: the ids stay
    segmenter = RoomSegmenter(cfg)
    first = segmenter.segment(grid, labeler, 5 * S)
    ids = (first.room_at(2.0, 2.5), first.room_at(6.0, 1.0), first.room_at(4.0, 4.8))
    r0, c0 = grid.cell_of(-3.0, 4.1)
    r1, c1 = grid.cell_of(0.0, 5.6)
    grid.free_hits[r0:r1, c0:c1] = 5                              # corridor floor, x in [-3, 0]
    wall_c0, wall_c1 = grid.cell_of(-0.1, 0.0)[1], grid.cell_of(0.0, 0.0)[1]
    grid.occ_hits[r0:r1, wall_c0:wall_c1] = 0                     # the old west end was no wall
    second = segmenter.segment(grid, labeler, 6 * S)
    assert (second.room_at(2.0, 2.5), second.room_at(6.0, 1.0), second.room_at(4.0, 4.8)) == ids
    assert second.room_at(-2.0, 4.8) == ids[2]


def test_occupancy_grid_from_depth():
    cfg = RoomsConfig(grid_size_m=10.0, grid_origin_x_m=-5.0, grid_origin_y_m=-5.0, pixel_stride=2)
    grid = OccupancyGrid(cfg)
    K = intrinsics_for(160, 120)
    T = look_at((0.0, 0.0, 1.0), (2.0, 0.0, 0.0))
    frame = render([SynthBox((2.0, 0.0, 0.5), (0.4, 0.4, 1.0), 1, "post")], K, T)
    grid.integrate(frame.depth_m, K, T)
    assert grid.occ_hits[grid.cell_of(1.81, 0.0)] > 0                 # the post's front face
    assert grid.free_hits[grid.cell_of(1.5, 0.0)] > 0                 # floor in front of it
    assert grid.occ_hits[grid.cell_of(1.5, 0.0)] == 0
    assert grid.free_hits[grid.cell_of(2.0, 0.0)] == 0                # under the post: never seen
    assert grid.free_hits[grid.cell_of(-1.0, 0.0)] == 0               # behind the camera


def test_perception_on_the_simulator_patrol():
    """The pipeline over part of a simulated patrol: observations near the true objects, places laid."""
    from memory_nodes.perception.config import PerceptionConfig
    from memory_nodes.perception.oracle import NoisyOracleDetector
    from memory_nodes.perception.pipeline import Perception
    from sim.simulator import Simulator

    sim = Simulator(seed=0)
    cfg = PerceptionConfig()
    det = NoisyOracleDetector(cfg.oracle, sim.class_table)
    p = Perception(cfg, detector=det)
    errors, views = [], 0
    object_ids = {o.object_id for o in sim.world.objects}
    for f in sim.patrol(0, max_frames=120, rate_hz=2.0):
        dets = det.detect(f.frame)
        out = p.process(f.frame, f.map_T_camera, f.map_T_base, detections=dets)
        views += out.view is not None
        truth = det.scorer_truth(dets)
        for obs, i in zip(out.observations, p.last_source_indices):
            entity = f.instance_to_object_id.get(truth[i], "")
            if entity in object_ids:          # small objects (furniture is scored in bench.perception)
                true_centre = np.array(sim.object_state(entity, f.stamp_ns).position_m)
                errors.append(np.linalg.norm(obs.centroid_m - true_centre))
    assert len(errors) > 20
    assert np.median(errors) < 0.05
    assert views > 5 and len(p.places.places) >= 3


def test_state_round_trip_keeps_place_and_room_ids_across_a_restart():
    from memory_nodes.common.errors import InputError
    from memory_nodes.perception.config import PerceptionConfig
    from memory_nodes.perception.pipeline import Perception

    cfg = PerceptionConfig()
    cfg.rooms = RoomsConfig(grid_size_m=20.0, grid_origin_x_m=-5.0, grid_origin_y_m=-5.0)
    day1 = Perception(cfg)
    day1.grid = _two_rooms_and_a_corridor(cfg.rooms)
    for x in (1.0, 3.0, 6.0):
        day1.places.update(np.array([x, 4.8, 0.0]), int(x * S))
    day1.labeler.add("bed", 6.0, 2.0)
    day1.labeler.add("bed", 6.0, 2.0)
    before = day1.finish(10 * S)
    restarted = Perception(cfg)
    restarted.load_state(day1.state_bytes())
    after = restarted.finish(20 * S)
    assert [(r.room_id, r.label) for r in after.rooms.rooms] == [(r.room_id, r.label) for r in before.rooms.rooms]
    assert np.array_equal(after.rooms.room_map, before.rooms.room_map)
    assert after.places.edges == before.places.edges and len(after.places.places) == 3
    with pytest.raises(InputError) as e:
        restarted.load_state(b"not a state")
    assert e.value.cause == "bad_state"
