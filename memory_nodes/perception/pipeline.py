"""The perception pipeline: one synchronized RGB-D frame + poses in, a PerceptionOutput out.

    perception = Perception(PerceptionConfig())          # detector from config (oracle needs a class table)
    perception.set_class_table({7: "mug", ...})          # oracle only (the simulator's camera/class_table)
    out = perception.process(frame, map_T_camera, map_T_base)

``process`` validates the frame (InputError with a stable cause), detects, lifts detections to the map
frame, updates places, the occupancy grid and (every ``segment_every_n_frames``) the rooms, and emits a
view when the frame is a keyframe. It never reads a clock: time is the frame's stamp.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from memory_nodes.common.errors import InputError
from memory_nodes.common.types import Detection2D, ObjectObservation, PerceptionOutput, RGBDFrame, RoomSegmentation

from .config import PerceptionConfig
from .detector import Detector, make_detector
from .inputs import check_frame, check_pose
from .lifting import Lifter
from .places import PlaceGraphBuilder
from .rooms import OccupancyGrid, RoomLabeler, RoomSegmenter
from .views import KeyframeSelector


class Perception:
    """Stateful over a run (places, grid, rooms, last keyframe); one instance per camera."""

    def __init__(self, config: Optional[PerceptionConfig] = None, detector: Optional[Detector] = None):
        self.config = config if config is not None else PerceptionConfig()
        self.config.validate()
        self._detector = detector
        self.lifter = Lifter(self.config.lifting)
        self.keyframes = KeyframeSelector(self.config.views)
        self.places = PlaceGraphBuilder(self.config.places)
        self.grid = OccupancyGrid(self.config.rooms)
        self.labeler = RoomLabeler(self.config.rooms)
        self.segmenter = RoomSegmenter(self.config.rooms)
        self.frames_processed = 0
        # index into the frame's detections of each observation of the last process() (for scorers)
        self.last_source_indices: List[int] = []

    @property
    def detector(self) -> Detector:
        if self._detector is None:
            self._detector = make_detector(self.config)
        return self._detector

    def set_class_table(self, table) -> None:
        """Forward the simulator's instance id -> class table to the oracle detector (no-op otherwise)."""
        setter = getattr(self.detector, "set_class_table", None)
        if setter is not None:
            setter(table)

    def process(self, frame: RGBDFrame, map_T_camera: Optional[np.ndarray],
                map_T_base: Optional[np.ndarray] = None,
                detections: Optional[Sequence[Detection2D]] = None) -> PerceptionOutput:
        """Everything perception makes of one frame. ``map_T_camera`` is the optical frame's pose at
        ``frame.stamp_ns`` (None: missing tf); ``map_T_base`` the robot base's (None: taken under the
        camera). ``detections`` skips the detector (e.g. from an external one). Raises InputError."""
        cfg = self.config
        map_T_camera = check_pose("map_T_camera", map_T_camera)
        if map_T_base is not None:
            map_T_base = check_pose("map_T_base", map_T_base)
        check_frame(frame, cfg.lifting.min_valid_depth_fraction, cfg.lifting.min_depth_m, cfg.lifting.max_depth_m)
        stamp = frame.stamp_ns
        dets = list(self.detector.detect(frame)) if detections is None else list(detections)
        lifted = self.lifter.lift(frame, dets, map_T_camera)

        base_xyz = (map_T_base if map_T_base is not None else map_T_camera)[:3, 3]
        places_changed = self.places.update(base_xyz, stamp)
        place_id = self.places.current

        observations: List[ObjectObservation] = []
        self.last_source_indices = []
        for i, obs in enumerate(lifted):
            if obs is None:
                continue
            obs.place_id = place_id
            observations.append(obs)
            self.last_source_indices.append(i)
            self.labeler.add(obs.class_name, float(obs.centroid_m[0]), float(obs.centroid_m[1]))

        classes = [o.class_name for o in observations]
        view = None
        if self.keyframes.is_keyframe(stamp, map_T_camera, classes):
            view = self.keyframes.make_view(frame, map_T_camera, classes, place_id)
        for obs in observations:
            obs.view_id = self.keyframes.last_view_id

        rcfg = cfg.rooms
        if self.frames_processed % rcfg.update_every_n_frames == 0:
            self.grid.integrate(frame.depth_m, frame.intrinsics, map_T_camera)
        rooms = None
        if self.frames_processed % rcfg.segment_every_n_frames == rcfg.segment_every_n_frames - 1:
            rooms = self.segment_rooms(stamp)
            places_changed |= self._assign_place_rooms()
        self.frames_processed += 1
        return PerceptionOutput(stamp_ns=stamp, observations=observations, view=view, place_id=place_id,
                                places=self.places.graph(stamp) if places_changed else None, rooms=rooms)

    def segment_rooms(self, stamp_ns: int) -> RoomSegmentation:
        """Cut rooms from the grid now (also done every ``segment_every_n_frames`` frames)."""
        return self.segmenter.segment(self.grid, self.labeler, stamp_ns)

    def _assign_place_rooms(self) -> bool:
        room_of = {p.place_id: self.segmenter.room_at(float(p.position_m[0]), float(p.position_m[1]))
                   for p in self.places.places}
        return self.places.set_rooms(room_of)

    def finish(self, stamp_ns: int) -> PerceptionOutput:
        """A final cut of rooms and the place graph (call at the end of a run or on demand)."""
        rooms = self.segment_rooms(stamp_ns)
        self._assign_place_rooms()
        return PerceptionOutput(stamp_ns=stamp_ns, observations=[], place_id=self.places.current,
                                places=self.places.graph(stamp_ns), rooms=rooms)

    # ------------------------------------------------------------------ persistence (ids across restarts)

    STATE_VERSION = 1

    def state_bytes(self) -> bytes:
        """What must survive a restart so place and room ids stay the same across days: the grid, the
        places and edges, the last room cut and the room-label evidence. Versioned npz; the caller writes
        it (the core never touches files)."""
        import io
        import json

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
        import io
        import json

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
