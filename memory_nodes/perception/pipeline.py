"""The perception pipeline: one synchronized RGB-D frame + poses in, a PerceptionOutput out.

    perception = Perception(PerceptionConfig())          # detector from config (oracle needs a class table)
    perception.set_class_table({7: "mug", ...})          # oracle only (the simulator's camera/class_table)
    out = perception.process(frame, map_T_camera, map_T_base)

``process`` validates the frame (InputError with a stable cause), detects, lifts detections to the map
frame, emits a view when the frame is a keyframe, and feeds the robot's position, the observations and the
depth to ``PlacesAndRooms`` (places_rooms.py: places, the occupancy grid and, every
``rooms.segment_every_n_frames``, the rooms), which makes the place and room parts of the output. It never
reads a clock: time is the frame's stamp.

Choosing the detector is explicit: ``detector.kind`` (the launch file sets it from its ``detector``
argument: oracle with the simulator, onnx without). A detector that cannot be built is a ConfigError that
says why and what to do (``detector_error``): an onnx model file that is not there names its path, the
setup that installs the default one and how to choose the other detector.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

import numpy as np

from memory_nodes.common.errors import ConfigError
from memory_nodes.common.types import Detection2D, ObjectObservation, PerceptionOutput, RGBDFrame, RoomSegmentation

from .config import PerceptionConfig
from .detector import Detector, make_detector
from .inputs import check_frame, check_pose
from .lifting import Lifter
from .places import PlaceGraphBuilder
from .places_rooms import PlacesAndRooms
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
        self.scene = PlacesAndRooms(self.config.places, self.config.rooms)
        # index into the frame's detections of each observation of the last process() (for scorers)
        self.last_source_indices: List[int] = []

    # the scene's parts, as callers (the node, tests) reach them
    @property
    def places(self) -> PlaceGraphBuilder:
        return self.scene.places

    @property
    def grid(self) -> OccupancyGrid:
        return self.scene.grid

    @grid.setter
    def grid(self, grid: OccupancyGrid) -> None:
        self.scene.grid = grid

    @property
    def labeler(self) -> RoomLabeler:
        return self.scene.labeler

    @property
    def segmenter(self) -> RoomSegmenter:
        return self.scene.segmenter

    @property
    def frames_processed(self) -> int:
        return self.scene.frames

    @property
    def detector(self) -> Detector:
        """The configured detector, built on first use (ConfigError from ``detector_error`` if it cannot be)."""
        if self._detector is None:
            try:
                self._detector = make_detector(self.config)
            except (ConfigError, ImportError) as e:
                raise ConfigError(detector_error(self.config, e)) from e
        return self._detector

    def set_class_table(self, table) -> None:
        """Forward the simulator's instance id -> class table to the oracle detector (no-op otherwise)."""
        setter = getattr(self.detector, "set_class_table", None)
        if setter is not None:
            setter(table)

    def process(self, frame: RGBDFrame, map_T_camera: Optional[np.ndarray],
                map_T_base: Optional[np.ndarray] = None,
                detections: Optional[Sequence[Detection2D]] = None,
                on_stage: Optional[Callable[[str], None]] = None) -> PerceptionOutput:
        """Everything perception makes of one frame. ``map_T_camera`` is the optical frame's pose at
        ``frame.stamp_ns`` (None: missing tf); ``map_T_base`` the robot base's (None: taken under the
        camera). ``detections`` skips the detector (e.g. from an external one). Raises InputError.

        ``on_stage`` (profiling; results do not change) is called with a stage's name as each ends:
        "detect", "lift", "places" (place update and objects, and again after the depth grid and any room
        cut), "views"; the caller reads its own clock there (bench.edge), the core never does."""
        cfg = self.config
        mark = on_stage if on_stage is not None else _no_stage
        map_T_camera = check_pose("map_T_camera", map_T_camera)
        if map_T_base is not None:
            map_T_base = check_pose("map_T_base", map_T_base)
        check_frame(frame, cfg.lifting.min_valid_depth_fraction, cfg.lifting.min_depth_m, cfg.lifting.max_depth_m)
        stamp = frame.stamp_ns
        dets = list(self.detector.detect(frame)) if detections is None else list(detections)
        mark("detect")
        lifted = self.lifter.lift(frame, dets, map_T_camera)
        mark("lift")

        base_xyz = (map_T_base if map_T_base is not None else map_T_camera)[:3, 3]
        place_id = self.scene.update_place(base_xyz, stamp)

        observations: List[ObjectObservation] = []
        self.last_source_indices = []
        for i, obs in enumerate(lifted):
            if obs is None:
                continue
            obs.place_id = place_id
            observations.append(obs)
            self.last_source_indices.append(i)
        self.scene.add_objects(observations)
        mark("places")

        classes = [o.class_name for o in observations]
        view = None
        if self.keyframes.is_keyframe(stamp, map_T_camera, classes):
            view = self.keyframes.make_view(frame, map_T_camera, classes, place_id)
        for obs in observations:
            obs.view_id = self.keyframes.last_view_id
        mark("views")

        self.scene.integrate_depth(frame.depth_m, frame.intrinsics, map_T_camera)
        update = self.scene.end_frame(stamp)
        mark("places")
        return PerceptionOutput(stamp_ns=stamp, observations=observations, view=view, place_id=place_id,
                                places=update.places, rooms=update.rooms)

    def segment_rooms(self, stamp_ns: int) -> RoomSegmentation:
        """Cut rooms from the grid now (also done every ``segment_every_n_frames`` frames)."""
        return self.scene.segment_rooms(stamp_ns)

    def finish(self, stamp_ns: int) -> PerceptionOutput:
        """A final cut of rooms and the place graph (call at the end of a run or on demand)."""
        update = self.scene.finish(stamp_ns)
        return PerceptionOutput(stamp_ns=stamp_ns, observations=[], place_id=self.places.current,
                                places=update.places, rooms=update.rooms)

    # ------------------------------------------------------------------ persistence (ids across restarts)

    def state_bytes(self) -> bytes:
        """What must survive a restart so place and room ids stay the same across days (the scene's
        grid, places, last room cut and label evidence). Versioned npz; the caller writes it."""
        return self.scene.state_bytes()

    def load_state(self, data: bytes) -> None:
        """Restore ``state_bytes``; a state of another version or grid is an InputError (nothing changed)."""
        self.scene.load_state(data)


def _no_stage(_name: str) -> None:
    """``Perception.process`` without a stage callback."""


def switch_hint(kind: str) -> str:
    """How to choose detector ``kind``: the launch argument, or the parameter for a node run by hand."""
    return f"detector:={kind} (launch argument) or detector.kind: {kind} (parameter)"


def detector_error(config: PerceptionConfig, error: BaseException) -> str:
    """Why the configured detector cannot be built (make_detector's reason: a missing model file is named
    with its resolved path there), with what to do: the setup that installs the default model, and how
    to choose the other detector."""
    kind = config.detector.kind
    if kind != "onnx":
        return f"detector.kind {kind}: {error}"
    other = f"or, with the simulator, its oracle: {switch_hint('oracle')}"
    setup = "the default detector: `bash scripts/setup.sh` installs it under models/"
    if isinstance(error, ImportError):
        return f"detector.kind is onnx but onnxruntime is missing ({error}): run `bash scripts/setup.sh`; {other}"
    if not config.onnx.model_path:
        return (f"detector.kind is onnx but onnx.model_path is empty: point it at an ONNX detector ({setup}); "
                f"{other}")
    why = f"{error} ({setup})" if "no such file" in str(error) and "setup.sh" not in str(error) else str(error)
    return f"detector.kind is onnx: {why}; {other}"
