"""Detector class names -> vocabulary classes: the one table every detector's labels go through.

A detector names its classes the way its training set did (COCO's "cup", "tv", "couch", "sports ball";
Open Images' "Coffee cup", "Computer monitor", "Footwear"). ``DETECTOR_CLASS_NAMES`` maps each label of
the label sets the stack ships or knows to the lexicon class a person would use; labels the lexicon
has no class for map to themselves and are KEPT as their own classes (a "giraffe" stays a giraffe), never
dropped. Keys and values are written in the vocabulary's normal form (lower case, single spaces).

Flow: ``Vocabulary`` registers every key that maps to another class as a synonym of that class (see
``detector_synonyms``), so ``canonical()``, which memory, perception and the planner already call on every
class string, turns "sports ball" into "ball" and "Footwear" into "shoes" with no other change; questions
that use the detector's wording ("where is the sports ball?") resolve the same way. A label that is
not in the table still works: the vocabulary makes it its own (normalised, singular) class.

``detector_class(label)`` is the table look-up alone, for code that has no Vocabulary at hand.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

# label (normal form) -> vocabulary class; a label mapped to itself that the lexicon lacks is kept as is.
COCO_TO_VOCAB: Dict[str, str] = {
    # furniture and fixtures
    "chair": "chair", "couch": "sofa", "bed": "bed", "dining table": "dining table", "bench": "bench",
    "toilet": "toilet", "sink": "sink", "potted plant": "plant",
    # appliances and electronics
    "tv": "television", "laptop": "laptop", "mouse": "mouse", "remote": "remote control",
    "keyboard": "keyboard", "cell phone": "phone", "microwave": "microwave", "oven": "stove",
    "toaster": "toaster", "refrigerator": "fridge", "clock": "clock", "hair drier": "hair dryer",
    # small objects
    "bottle": "bottle", "wine glass": "glass", "cup": "mug", "fork": "fork", "knife": "knife",
    "spoon": "spoon", "bowl": "bowl", "book": "book", "vase": "vase", "scissors": "scissors",
    "teddy bear": "teddy bear", "toothbrush": "toothbrush", "backpack": "backpack", "umbrella": "umbrella",
    "handbag": "bag", "suitcase": "suitcase", "sports ball": "ball",
    # food
    "banana": "banana", "apple": "apple", "orange": "orange", "sandwich": "food", "broccoli": "food",
    "carrot": "food", "hot dog": "food", "pizza": "food", "donut": "food", "cake": "food",
    # not in the lexicon: kept as their own classes
    "person": "person", "bicycle": "bicycle", "car": "car", "motorcycle": "motorcycle",
    "airplane": "airplane", "bus": "bus", "train": "train", "truck": "truck", "boat": "boat",
    "traffic light": "traffic light", "fire hydrant": "fire hydrant", "stop sign": "stop sign",
    "parking meter": "parking meter", "bird": "bird", "cat": "cat", "dog": "dog", "horse": "horse",
    "sheep": "sheep", "cow": "cow", "elephant": "elephant", "bear": "bear", "zebra": "zebra",
    "giraffe": "giraffe", "tie": "tie", "frisbee": "frisbee", "skis": "skis", "snowboard": "snowboard",
    "kite": "kite", "baseball bat": "baseball bat", "baseball glove": "baseball glove",
    "skateboard": "skateboard", "surfboard": "surfboard", "tennis racket": "tennis racket",
}

# MediaPipe Objectron's SSD MobileNetV2 (Open Images V4 subset, 23 classes), the measured alternative.
OPEN_IMAGES_TO_VOCAB: Dict[str, str] = {
    "table": "table", "desk": "desk", "chair": "chair", "mug": "mug", "coffee cup": "mug",
    "bottle": "bottle", "book": "book", "laptop": "laptop", "computer monitor": "monitor",
    "computer mouse": "mouse", "box": "box", "camera": "camera", "footwear": "shoes", "boot": "shoes",
    "high heels": "shoes", "person": "person", "bicycle": "bicycle", "stationary bicycle": "stationary bicycle",
    "car": "car", "vehicle": "vehicle", "cattle": "cattle", "cat": "cat", "dog": "dog",
}


def _merge(*tables: Dict[str, str]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for t in tables:
        for k, v in t.items():
            if out.get(k, v) != v:
                raise ValueError(f"detector label {k!r} maps to both {out[k]!r} and {v!r}")
            out[k] = v
    return out


# The one table: every known label set, merged (a label two sets share maps the same way).
DETECTOR_CLASS_NAMES: Dict[str, str] = _merge(COCO_TO_VOCAB, OPEN_IMAGES_TO_VOCAB)


def _normal(label: str) -> str:
    return " ".join(str(label).lower().replace("_", " ").replace("-", " ").split())


def detector_class(label: str) -> str:
    """The vocabulary class of a detector label by the table; a label the table lacks is kept (normal form)."""
    key = _normal(label)
    return DETECTOR_CLASS_NAMES.get(key, key)


def detector_synonyms() -> List[Tuple[str, str]]:
    """(label, vocabulary class) for each label that names another class: what Vocabulary registers as
    synonyms. Labels kept as themselves are left out (the vocabulary keeps unknown classes by itself)."""
    return [(k, v) for k, v in DETECTOR_CLASS_NAMES.items() if k != v]
