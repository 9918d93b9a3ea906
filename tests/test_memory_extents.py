"""The merged extent (memory/extents.py): grow_extent keeps the sample's sorted columns and changes them by
one value per sighting; the faces must be exactly what sorting the whole sample gives (set_extent)."""
import random

import numpy as np
import pytest

from memory_nodes.memory.extents import EXT_SAMPLES, grow_extent, pool_extent, set_extent
from memory_nodes.memory.records import TENTATIVE, Track


def _track() -> Track:
    z = np.zeros(3)
    return Track(id=1, status=TENTATIVE, class_name="table", first_seen_ns=0, last_seen_ns=0, pos=z.copy(),
                 bbox_min=z.copy(), bbox_max=z.copy() + 1.0, color=z.copy())


def _sorted_faces(tr: Track, trim: float):
    """The faces from a fresh sort of the sample (no kept columns)."""
    ref = _track()
    ref.ext_samples = [list(r) for r in tr.ext_samples]
    set_extent(ref, trim)
    return ref.ext_min, ref.ext_max


def _box(rng: random.Random, zeros: bool):
    c = [rng.choice([0.0, -0.0, 1.25]) if zeros and rng.random() < 0.2 else rng.uniform(-3, 3) for _ in range(3)]
    h = [rng.choice([0.5, 0.25]) if rng.random() < 0.3 else rng.uniform(0.05, 1.0) for _ in range(3)]
    return np.array([c[k] - h[k] for k in range(3)]), np.array([c[k] + h[k] for k in range(3)])


@pytest.mark.parametrize("zeros", [False, True])
@pytest.mark.parametrize("trim", [0.0, 0.1, 0.37])
def test_grown_extent_is_the_sorted_samples_quantile(zeros, trim):
    rng = random.Random(3)
    tr = _track()
    for n in range(5 * EXT_SAMPLES):            # the sample fills, then the reservoir replaces rows
        b0, b1 = _box(rng, zeros)
        grow_extent(tr, b0, b1, trim)
        lo, hi = _sorted_faces(tr, trim)
        assert tr.ext_min.tobytes() == lo.tobytes() and tr.ext_max.tobytes() == hi.tobytes(), n
    assert len(tr.ext_samples) == EXT_SAMPLES


def test_extent_follows_a_sample_replaced_from_outside():
    """A sample replaced (pooled, cloned, reset) is sorted afresh, not read from columns kept for another."""
    rng = random.Random(5)
    a, b = _track(), _track()
    for _ in range(40):
        grow_extent(a, *_box(rng, False), 0.1)
        grow_extent(b, *_box(rng, False), 0.1)
    pool_extent(a, b, 0.1)
    c = a.clone(owner=1)
    for tr in (a, c):
        for _ in range(10):
            grow_extent(tr, *_box(rng, False), 0.1)
            lo, hi = _sorted_faces(tr, 0.1)
            assert tr.ext_min.tobytes() == lo.tobytes() and tr.ext_max.tobytes() == hi.tobytes()
    a.ext_samples = []
    grow_extent(a, np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0]), 0.1)
    assert a.ext_min.tolist() == [1.0, 2.0, 3.0] and a.ext_max.tolist() == [2.0, 3.0, 4.0]
