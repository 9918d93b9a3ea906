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
    from .onnx_detector import OnnxDetector
    return OnnxDetector(config.onnx)
