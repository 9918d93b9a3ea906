"""class_pairs.ClassPairs gives, block by block, exactly the Tracker's class_sim and near pair by pair."""
import numpy as np

from memory_nodes.memory import MemoryConfig, MemoryCore
from memory_nodes.memory.class_pairs import ClassPairs
from memory_nodes.vocab import VocabConfig, Vocabulary


def _tracker():
    mem = MemoryCore(MemoryConfig(), vocab=Vocabulary(VocabConfig(allow_model=False)))
    return mem._tracker


def test_blocks_equal_the_pairwise_functions():
    tk = _tracker()
    names = ["table", "desk", "chair", "mug", "bottle", "water bottle", "sofa", "armchair", "book", "coffee table",
             "table"]
    cp = ClassPairs(tk.class_sim, tk.near)
    a = cp.codes(names)
    b = cp.codes(list(reversed(names)))
    sim, near = cp.sim(a, b), cp.near(a, b)
    for i, x in enumerate(names):
        for j, y in enumerate(reversed(names)):
            assert sim[i, j] == tk.class_sim(x, y)
            assert bool(near[i, j]) == tk.near(x, y)
    assert near[names.index("table"), list(reversed(names)).index("coffee table")]   # a kind of the other
    assert not near[names.index("mug"), list(reversed(names)).index("sofa")]


def test_masked_cells_are_zero_and_not_asked():
    asked = []

    def sim(x, y):
        asked.append((x, y))
        return 0.5

    cp = ClassPairs(sim, lambda x, y: False)
    a, b = cp.codes(["a", "b"]), cp.codes(["c", "d"])
    mask = np.array([[True, False], [False, False]])
    out = cp.sim(a, b, mask)
    assert out.tolist() == [[0.5, 0.0], [0.0, 0.0]]
    assert asked == [("a", "c")]
    cp.sim(a, b, mask)                    # cached: not asked again
    assert asked == [("a", "c")]
    assert cp.sim(cp.codes(["a"]), cp.codes(["a"])).tolist() == [[1.0]]     # a class is itself
