"""The one table from detector labels into the vocabulary (memory_nodes/vocab/detector_names.py): every
label of the default detector is mapped, near names land on the lexicon's classes, unknown classes are
kept (never dropped), and the Vocabulary applies the table through canonical()."""
from __future__ import annotations

import pytest

from memory_nodes.perception.detector_models import COCO_CLASSES
from memory_nodes.vocab import CLASS_ENTRIES, ClassEntry, VocabConfig, Vocabulary, normalize_text
from memory_nodes.vocab.detector_names import (
    COCO_TO_VOCAB,
    DETECTOR_CLASS_NAMES,
    OPEN_IMAGES_TO_VOCAB,
    _merge,
    detector_class,
    detector_synonyms,
)

LEXICON = {normalize_text(e.canonical) for e in CLASS_ENTRIES}


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary(VocabConfig(allow_model=False))


def test_every_default_detector_label_is_in_the_table():
    assert set(COCO_CLASSES) == set(COCO_TO_VOCAB)
    assert all(normalize_text(k) == k for k in DETECTOR_CLASS_NAMES)          # keys in normal form


def test_values_are_lexicon_classes_or_the_label_kept():
    for label, cls in DETECTOR_CLASS_NAMES.items():
        assert cls in LEXICON or cls == label, (label, cls)


@pytest.mark.parametrize("label, expected", [
    ("cup", "mug"), ("Coffee cup", "mug"), ("Mug", "mug"), ("tv", "television"), ("couch", "sofa"),
    ("Computer monitor", "monitor"), ("Computer mouse", "mouse"), ("dining table", "dining table"),
    ("Table", "table"), ("Desk", "desk"), ("potted plant", "plant"), ("cell phone", "phone"),
    ("remote", "remote control"), ("refrigerator", "fridge"), ("oven", "stove"), ("sports ball", "ball"),
    ("Footwear", "shoes"), ("High heels", "shoes"), ("wine glass", "glass"), ("handbag", "bag"),
])
def test_near_names_map_onto_lexicon_classes(vocab, label, expected):
    assert detector_class(label) == expected
    assert vocab.canonical(label) == expected                                  # the hook: canonical() uses it


@pytest.mark.parametrize("label", ["person", "giraffe", "traffic light", "Stationary bicycle", "surfboard"])
def test_classes_the_vocabulary_lacks_are_kept(vocab, label):
    assert detector_class(label) == normalize_text(label)
    assert vocab.canonical(label) == normalize_text(label)                     # its own class, not dropped
    assert normalize_text(label) not in LEXICON


def test_a_label_outside_the_table_is_kept_too(vocab):
    assert detector_class("Espresso_Tamper") == "espresso tamper"
    assert vocab.canonical("Espresso_Tamper") == "espresso tamper"


def test_synonyms_keep_the_class_category_and_rooms(vocab):
    assert vocab.category("sports ball") == vocab.category("ball")
    assert vocab.category("tv") == "appliance" and vocab.category("couch") == "furniture"
    assert vocab.usual_rooms("Footwear") == vocab.usual_rooms("shoes")
    assert vocab.resolve_class("where is the sports ball") == ("ball", 0.9)   # questions in detector words


def test_detector_synonyms_skip_labels_kept_as_themselves():
    pairs = dict(detector_synonyms())
    assert pairs["sports ball"] == "ball" and "person" not in pairs and "chair" not in pairs


def test_a_custom_lexicon_gets_only_the_synonyms_of_its_classes():
    v = Vocabulary(VocabConfig(allow_model=False), entries=[ClassEntry("mug"), ClassEntry("sofa", (), "furniture")])
    assert v.canonical("coffee cup") == "mug" and v.canonical("couch") == "sofa"
    assert v.canonical("tv") == "tv"                                           # no television here: kept
    assert "television" not in v.classes()


def test_label_sets_that_disagree_are_refused():
    assert _merge(COCO_TO_VOCAB, OPEN_IMAGES_TO_VOCAB) == DETECTOR_CLASS_NAMES
    with pytest.raises(ValueError, match="chair"):
        _merge({"chair": "chair"}, {"chair": "stool"})
