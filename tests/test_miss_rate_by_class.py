"""The detector's miss rate an object is judged by: its own record, shrunk to its class's record (the
class's other confirmed objects), shrunk to absence.detector_miss_prob (absences.miss_rate)."""
import math

import numpy as np

from memory_nodes.memory.absences import miss_rate
from memory_nodes.memory.config import AbsenceConfig
from memory_nodes.memory.records import MISSING, PRESENT, TENTATIVE, Track
from memory_nodes.memory.state import MemoryState


def _track(tid: int, cls: str, status: str = PRESENT, views: int = 2, misses: int = 0) -> Track:
    z = np.zeros(3)
    t = Track(tid, status, cls, 0, 1, z.copy(), z.copy(), z + 0.1, z.copy())
    t.views_seen, t.proven_misses = views, misses
    return t


def _state(*tracks: Track) -> MemoryState:
    ms = MemoryState()
    ms.tracks = {t.id: t for t in tracks}
    ms.counts["observations"] = 10
    return ms


def test_no_record_of_the_class_falls_back_to_the_prior():
    ab = AbsenceConfig()
    t = _track(1, "book")
    ms = _state(t)
    w, p0 = ab.miss_prior_views, ab.detector_miss_prob
    assert math.isclose(miss_rate(ab, t, ms.class_miss_counts()), (w * p0) / (2 + w))


def test_a_class_the_detector_keeps_missing_raises_a_new_objects_rate():
    ab = AbsenceConfig()
    new_book, new_mug = _track(1, "book"), _track(2, "mug")
    often_missed = [_track(10 + i, "book", views=4, misses=4) for i in range(3)]
    always_found = [_track(20 + i, "mug", views=8, misses=0) for i in range(3)]
    ms = _state(new_book, new_mug, *often_missed, *always_found)
    counts = ms.class_miss_counts()
    assert counts["book"] == (12, 26) and counts["mug"] == (0, 26)
    p_book, p_mug = miss_rate(ab, new_book, counts), miss_rate(ab, new_mug, counts)
    w, p0 = ab.miss_prior_views, ab.detector_miss_prob
    p_class_book = (12 + w * p0) / (24 + w)              # the others: not the new book's own two views
    assert math.isclose(p_book, (w * p_class_book) / (2 + w))
    assert p_book > (w * p0) / (2 + w) > p_mug          # more absences before a book is called missing
    # the object's own record takes over as it grows: a book always found in 200 views
    veteran = _track(3, "book", views=200)
    ms.tracks[3] = veteran
    ms.counts["observations"] += 1
    assert miss_rate(ab, veteran, ms.class_miss_counts()) < 0.02


def test_tentative_records_do_not_count_and_the_counts_follow_the_records():
    ms = _state(_track(1, "book", views=4, misses=4), _track(2, "book", TENTATIVE, views=3, misses=3))
    assert ms.class_miss_counts() == {"book": (4, 8)}
    ms.tracks[3] = _track(3, "book", MISSING, views=2, misses=1)      # a new record: counted again
    assert ms.class_miss_counts() == {"book": (5, 11)}
    ms.tracks[1].proven_misses = 6                                     # with a new observation
    ms.counts["observations"] += 1
    assert ms.class_miss_counts() == {"book": (7, 13)}


def test_absences_needed_grows_with_the_class_miss_rate():
    from memory_nodes.memory.absences import Absences
    ab = AbsenceConfig()
    a = Absences.__new__(Absences)      # absences_needed reads only the config and the state
    a.config = type("C", (), {"absence": ab})()
    new_book = _track(1, "book")
    a.s = _state(new_book)
    k_prior = a.absences_needed(new_book)
    a.s = _state(new_book, *[_track(10 + i, "book", views=4, misses=6) for i in range(4)])
    k_missed = a.absences_needed(new_book)
    assert k_missed > k_prior >= ab.missing_after_absences
