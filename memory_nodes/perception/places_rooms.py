"""Places and rooms over a run: the part of perception that turns the robot's travel, the objects it saw and
its depth into the place graph and the labelled rooms, independent of how the objects were detected.
``Perception.process`` drives it once per frame, and so does anything that emulates perception (the LA-EQA
benchmark feeds it its model's detections and depth), so both run this one implementation.

    scene = PlacesAndRooms(config.places, config.rooms)
    place_id = scene.update_place(map_T_base[:3, 3], stamp_ns)   # new place / edge / current place
    scene.add_objects(observations)                             # room-label evidence (class, map x, y)
    scene.integrate_depth(depth_m, K, map_T_camera)             # grid, every rooms.update_every_n_frames
    update = scene.end_frame(stamp_ns)                          # rooms cut every rooms.segment_every_n_frames

Frames are counted by ``end_frame``; the grid takes the depth of frames 0, n, 2n ... (n =
``update_every_n_frames``, ``depth_due`` says whether this frame's is wanted, so a caller can skip making
it) and rooms are cut on frames n - 1, 2n - 1 ... (n = ``segment_every_n_frames``), after which every place
is put in its room. ``end_frame`` returns the PlaceGraph when places, edges or their rooms changed during
the frame (else None) and the RoomSegmentation when rooms were cut (else None): the place and room parts of
the frame's PerceptionOutput.

Rooms are cut from the occupancy grid by RoomSegmenter, unless ``known_rooms`` gives their extents (a floor
plan known beforehand, e.g. the simulator's in a benchmark): then the grid is never fed and rooms and the
room of each place come from it, still labelled from the objects this run saw. Positions in the map frame
(m); time is the frames' stamps (int ns), never a clock.
"""
from __future__ import annotations

import io
import json
from typing import Iterable, NamedTuple, Optional, Protocol

import numpy as np

from memory_nodes.common.errors import InputError
from memory_nodes.common.types import CameraIntrinsics, ObjectObservation, PlaceGraph, RoomSegmentation

from .config import PlacesConfig, RoomsConfig
from .places import PlaceGraphBuilder
from .rooms import OccupancyGrid, RoomLabeler, RoomSegmenter


class KnownRooms(Protocol):
    """Room extents known beforehand; the labels still come from the run's evidence (``labeler``)."""

    def segment(self, labeler: RoomLabeler, stamp_ns: int) -> RoomSegmentation:
        ...

    def room_at(self, x_m: float, y_m: float) -> int:
        """Room id at a map position, -1 outside every room."""
        ...


class SceneUpdate(NamedTuple):
    """The place and room parts of one frame's PerceptionOutput."""
    places: Optional[PlaceGraph]           # the whole graph when places, edges or their rooms changed
    rooms: Optional[RoomSegmentation]      # on frames where rooms were cut


class PlacesAndRooms:
    """Place graph, occupancy grid, room-label evidence and room cuts of one run (one camera)."""

    STATE_VERSION = 1

    def __init__(self, places: PlacesConfig, rooms: RoomsConfig, known_rooms: Optional[KnownRooms] = None):
        self.rooms_config = rooms
        self.known_rooms = known_rooms
        self.places = PlaceGraphBuilder(places)
        self.grid = OccupancyGrid(rooms)
        self.labeler = RoomLabeler(rooms)
        self.segmenter = RoomSegmenter(rooms)
        self.frames = 0                    # frames ended (end_frame calls)
        self._places_changed = False       # since the last end_frame

    # ------------------------------------------------------------------ one frame

    def update_place(self, base_xyz_m: np.ndarray, stamp_ns: int) -> int:
        """The robot base's map position at ``stamp_ns``; returns the current place id."""
        self._places_changed |= self.places.update(base_xyz_m, stamp_ns)
        return self.places.current

    def add_objects(self, observations: Iterable[ObjectObservation]) -> None:
        """Objects seen this frame (map-frame centroids) as room-label evidence (each class and cell once)."""
        self.labeler.add_frame([(obs.class_name, float(obs.centroid_m[0]), float(obs.centroid_m[1]))
                                for obs in observations])

    @property
    def depth_due(self) -> bool:
        """Whether the grid takes this frame's depth (never with known rooms)."""
        return self.known_rooms is None and self.frames % self.rooms_config.update_every_n_frames == 0

    def integrate_depth(self, depth_m: np.ndarray, intrinsics: CameraIntrinsics, map_T_camera: np.ndarray) -> bool:
        """Depth (h, w) optical z in m of this frame into the grid if ``depth_due``; True if it was used."""
        if not self.depth_due:
            return False
        self.grid.integrate(depth_m, intrinsics, map_T_camera)
        return True

    @property
    def segment_due(self) -> bool:
        """Whether ``end_frame`` cuts rooms on this frame."""
        n = self.rooms_config.segment_every_n_frames
        return self.frames % n == n - 1

    def end_frame(self, stamp_ns: int) -> SceneUpdate:
        """Close the frame: cut rooms when due (and put the places in them); what changed."""
        rooms = None
        if self.segment_due:
            rooms = self.segment_rooms(stamp_ns)
            self._places_changed |= self._assign_place_rooms()
        self.frames += 1
        changed, self._places_changed = self._places_changed, False
        return SceneUpdate(self.places.graph(stamp_ns) if changed else None, rooms)

    # ------------------------------------------------------------------ on demand

    def segment_rooms(self, stamp_ns: int) -> RoomSegmentation:
        """Cut rooms now (from the grid, or the known rooms labelled by the evidence so far)."""
        if self.known_rooms is not None:
            return self.known_rooms.segment(self.labeler, stamp_ns)
        return self.segmenter.segment(self.grid, self.labeler, stamp_ns)

    def room_at(self, x_m: float, y_m: float) -> int:
        """Room id of a map position in the last cut, -1 if none."""
        if self.known_rooms is not None:
            return self.known_rooms.room_at(x_m, y_m)
        return self.segmenter.room_at(x_m, y_m)

    def finish(self, stamp_ns: int) -> SceneUpdate:
        """A final cut of rooms and the whole place graph (end of a run, or on demand)."""
        rooms = self.segment_rooms(stamp_ns)
        self._assign_place_rooms()
        return SceneUpdate(self.places.graph(stamp_ns), rooms)

    def _assign_place_rooms(self) -> bool:
        room_of = {p.place_id: self.room_at(float(p.position_m[0]), float(p.position_m[1]))
                   for p in self.places.places}
        return self.places.set_rooms(room_of)

    # ------------------------------------------------------------------ persistence (ids across restarts)

    def state_bytes(self) -> bytes:
        """What must survive a restart so place and room ids stay the same across days: the grid, the
        places and edges, the last room cut and the room-label evidence. Versioned npz; the caller writes
        it (the core never touches files)."""
        g = self.grid
        next_id, room_map = self.segmenter.to_state()
        meta = {"version": self.STATE_VERSION, "cells": g.cells, "resolution_m": g.resolution_m,
                "origin_xy_m": list(g.origin_xy_m), "places": self.places.to_state(), "next_room_id": next_id,
                "objects": self.labeler.to_state()}
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8),
                            free_hits=g.free_hits, occ_hits=g.occ_hits,
                            room_map=room_map if room_map is not None else np.zeros((0, 0), np.int32))
        return buf.getvalue()

    def load_state(self, data: bytes) -> None:
        """Restore ``state_bytes``; a state of another version or grid is an InputError (nothing changed)."""
        try:
            z = np.load(io.BytesIO(data), allow_pickle=False)
            meta = json.loads(bytes(z["meta"]).decode())
            free, occ, room_map = z["free_hits"], z["occ_hits"], z["room_map"]
        except Exception as e:  # numpy/zip/json raise many types for a damaged file
            raise InputError("bad_state", f"perception state unreadable: {e}") from e
        g = self.grid
        if meta.get("version") != self.STATE_VERSION:
            raise InputError("bad_state", f"perception state version {meta.get('version')}, expected "
                             f"{self.STATE_VERSION}")
        if (meta["cells"], meta["resolution_m"], tuple(meta["origin_xy_m"])) != (g.cells, g.resolution_m,
                                                                                 tuple(g.origin_xy_m)):
            raise InputError("bad_state", "perception state was made with another rooms grid configuration")
        g.free_hits[:] = free
        g.occ_hits[:] = occ
        self.places.load_state(meta["places"])
        self.segmenter.load_state(meta["next_room_id"], room_map if room_map.size else None)
        self.labeler.load_state(meta["objects"])
