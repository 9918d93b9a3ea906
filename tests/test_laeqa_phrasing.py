"""LA-EQA phrasing pools: both pools cover every kind, render without holes, deterministically; and the
test pool stays unseen by the planner's code and tests."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bench.laeqa.phrasing import add_typo, clock_text, fix_articles, load_pool, plural
from bench.laeqa.questions import KINDS
from memory_nodes.common.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["dev", "test"])
def test_pool_covers_every_kind(name):
    pool = load_pool(name)
    assert pool.name == name
    for kinds in KINDS.values():
        for k in kinds:
            assert pool.templates.get(k), f"{name} pool: no template for {k}"


def test_pools_differ_in_style():
    dev, test = load_pool("dev"), load_pool("test")
    shared = {t for ts in dev.templates.values() for t in ts} & {t for ts in test.templates.values() for t in ts}
    assert not shared
    assert test.typos and not dev.typos
    assert test.object_names and not dev.object_names


def test_render_is_deterministic_and_fills_slots():
    pool = load_pool("test")
    slots = {"obj": "remote", "room": "lounge", "when": "yesterday around 3 pm"}
    out = [pool.render("where was the {obj} {when}?", slots, np.random.default_rng(1), 0.5) for _ in range(2)]
    assert out[0] == out[1]
    with pytest.raises(ConfigError, match="unfilled slot"):
        pool.render("where is the {obj} in {room} {missing}", slots, np.random.default_rng(0))


def test_small_text_helpers():
    assert plural("mug") == "mugs" and plural("glasses") == "glasses" and plural("toy box") == "toy boxes"
    assert plural("teddy") == "teddies"
    assert clock_text(15.0) == "3 pm" and clock_text(9.5) == "9:30 am" and clock_text(0.0) == "12 am"
    assert fix_articles("is there a shoes here? a apple", ["shoes", "apple"]) == "are there any shoes here? an apple"
    t = add_typo("where is the remote control", np.random.default_rng(0))
    assert t != "where is the remote control" and abs(len(t) - len("where is the remote control")) <= 1


def _norm(t: str) -> str:
    t = re.sub(r"[^a-z0-9{}_ ]+", " ", t.lower().replace("'", ""))
    return re.sub(r"\s+", " ", t).strip()


def _literal_ngrams(template: str, n: int = 5) -> set:
    """Word n-grams of the literal text between a template's slots."""
    out = set()
    for run in re.split(r"\{[a-z_]+\}", _norm(template)):
        w = run.split()
        out |= {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}
    return out


def _planner_files():
    files = list((REPO / "memory_nodes" / "planner").rglob("*.py")) + list((REPO / "tests").glob("test_planner_*.py"))
    return files + list((REPO / "memory_nodes" / "vocab").rglob("*.py"))


def test_test_pool_phrases_are_not_copied_into_the_planner():
    """Distinctive 5-word phrases of the test pool (not in any dev template) never appear in the planner's
    code or tests: the parser generalises to them, it is not taught them."""
    dev, test = load_pool("dev"), load_pool("test")
    dev_grams = {g for ts in dev.templates.values() for t in ts for g in _literal_ngrams(t)}
    test_grams = {g: t for ts in test.templates.values() for t in ts for g in _literal_ngrams(t)}
    text = _norm("\n".join(f.read_text(errors="ignore") for f in _planner_files()))
    leaked = sorted({t for g, t in test_grams.items() if g not in dev_grams and f" {g} " in f" {text} "})
    assert not leaked, f"test-pool phrasings copied into the planner's code/tests: {leaked}"


def test_test_pool_is_never_read_by_the_planner_or_its_tests():
    """The parser may be tuned on the dev pool only: no planner code or planner test names the test pool."""
    needles = ("test_phrasings", "laeqa_data/test", "laeqa_data\\\\test")
    files = _planner_files()
    assert (REPO / "memory_nodes" / "planner").is_dir()
    offenders = [str(f.relative_to(REPO)) for f in files
                 if any(n in f.read_text(errors="ignore") for n in needles)]
    assert not offenders, f"these read the LA-EQA test phrasing pool: {offenders}"
    # nothing loads pools through the benchmark's loader by name either
    loaders = [str(f.relative_to(REPO)) for f in files
               if re.search(r"load_pool\(\s*['\"]test['\"]", f.read_text(errors="ignore"))]
    assert not loaders
