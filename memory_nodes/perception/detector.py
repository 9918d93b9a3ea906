"""The detector interface: one RGB-D frame in, 2D detections out (mask and/or box, class, score, optional
appearance vector). Detections carry no identity: re-identification is memory's job."""
from __future__ import annotations

from typing import TYPE_CHECKING, List, Protocol, runtime_checkable

from memory_nodes.common.types import Detection2D, RGBDFrame

if TYPE_CHECKING:  # pragma: no cover
    from .config import PerceptionConfig


@runtime_checkable
class Detector(Protocol):
    """What the perception pipeline calls once per frame."""

    def detect(self, frame: RGBDFrame) -> List[Detection2D]: ...


def make_detector(config: "PerceptionConfig") -> Detector:
    """The detector named by ``config.detector.kind`` (onnxruntime is imported only for "onnx")."""
    kind = config.detector.kind
    if kind == "oracle":
        from .oracle import NoisyOracleDetector
        return NoisyOracleDetector(config.oracle)
    import dataclasses
    import os

    from memory_nodes.common.errors import ConfigError

    from .detector_models import DEFAULT_DETECTOR, default_model_missing, resolve_model_path
    from .onnx_detector import OnnxDetector
    path = resolve_model_path(config.onnx.model_path)
    if path and not os.path.isfile(path):
        hint = default_model_missing() if os.path.basename(path) == DEFAULT_DETECTOR.file else \
            "set onnx.model_path to your ONNX detector"
        raise ConfigError(f"onnx.model_path {config.onnx.model_path!r}: no such file ({path}); {hint}")
    return OnnxDetector(dataclasses.replace(config.onnx, model_path=path))
