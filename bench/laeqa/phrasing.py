"""Phrasing pools: question templates per benchmark kind, time phrases, other names for things, typos.

Two pools live in bench/laeqa_data/: ``dev_phrasings.yaml`` (the parser's tests may use it) and
``test_phrasings.yaml`` (other styles; never read by the planner's code or tests). A pool renders a
question from slots; every random choice comes from the caller's Generator, so a seed fixes the text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from memory_nodes.common.errors import ConfigError

from .config import DATA_DIR

POOL_FILES = {"dev": "dev_phrasings.yaml", "test": "test_phrasings.yaml"}
_NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
                 9: "nine", 10: "ten"}
_IRREGULAR_PLURAL = {"glasses": "glasses", "keys": "keys", "shoes": "shoes", "building blocks": "building blocks",
                     "headphones": "headphones", "scissors": "scissors", "shelf": "shelves", "knife": "knives"}


@dataclass
class PhrasingPool:
    name: str                                     # "dev" | "test"
    templates: Dict[str, List[str]]
    time_phrases: Dict[str, List[str]]
    since_phrases: Dict[str, List[str]]
    typos: bool = False
    number_words: bool = False
    object_names: Dict[str, List[str]] = field(default_factory=dict)
    room_names: Dict[str, List[str]] = field(default_factory=dict)

    def kinds(self) -> List[str]:
        return sorted(self.templates)

    # -- names --------------------------------------------------------------------------------------------
    def name_of(self, class_name: str, rng: np.random.Generator) -> str:
        """A surface name for a simulator class (``remote_control`` -> "remote control" or "clicker")."""
        alts = self.object_names.get(class_name)
        base = class_name.replace("_", " ")
        if alts and rng.random() < 0.7:
            return str(alts[int(rng.integers(len(alts)))])
        return base

    def room_name(self, room_type: str, rng: np.random.Generator) -> str:
        alts = self.room_names.get(room_type)
        base = room_type.replace("_", " ")
        if alts and rng.random() < 0.6:
            return str(alts[int(rng.integers(len(alts)))])
        return base

    def number(self, n: int) -> str:
        return _NUMBER_WORDS.get(n, str(n)) if self.number_words else str(n)

    # -- rendering ----------------------------------------------------------------------------------------
    def template(self, kind: str, rng: np.random.Generator) -> str:
        ts = self.templates.get(kind)
        if not ts:
            raise ConfigError(f"phrasing pool {self.name}: no templates for kind {kind!r}")
        return str(ts[int(rng.integers(len(ts)))])

    def time_phrase(self, spec_kind: str, values: Mapping[str, Any], rng: np.random.Generator) -> str:
        ps = self.time_phrases.get(spec_kind)
        if not ps:
            raise ConfigError(f"phrasing pool {self.name}: no time phrases for {spec_kind!r}")
        return _fill(str(ps[int(rng.integers(len(ps)))]), values)

    def since_phrase(self, spec_kind: str, values: Mapping[str, Any], rng: np.random.Generator) -> str:
        ps = self.since_phrases.get(spec_kind)
        if not ps:
            raise ConfigError(f"phrasing pool {self.name}: no since phrases for {spec_kind!r}")
        return _fill(str(ps[int(rng.integers(len(ps)))]), values)

    def render(self, template: str, slots: Mapping[str, Any], rng: np.random.Generator,
               typo_rate: float = 0.0) -> str:
        text = fix_articles(_fill(template, slots), [str(v) for v in slots.values()])
        text = text[:1].upper() + text[1:]
        if self.typos and typo_rate > 0 and rng.random() < typo_rate:
            text = add_typo(text, rng)
        return text


def _fill(template: str, values: Mapping[str, Any]) -> str:
    out = template
    for k, v in values.items():
        out = out.replace("{" + k + "}", str(v))
    if "{" in out:
        raise ConfigError(f"template {template!r}: unfilled slot in {out!r}")
    return out


PLURAL_NOUNS = ("glasses", "keys", "shoes", "building blocks", "headphones", "scissors", "trainers", "sneakers",
                "specs", "eyeglasses", "reading glasses", "earphones", "car keys", "house keys", "toy blocks")


_VERB_PLURAL = {"is": "are", "was": "were", "Is": "Are", "Was": "Were"}


def fix_articles(text: str, names: Sequence[str]) -> str:
    """"a shoes" -> "any shoes", "is there a ... " kept; "a apple" -> "an apple"."""
    for n in names:
        if n in PLURAL_NOUNS or n.split(" ")[-1] in PLURAL_NOUNS:
            # n bound as a default: re.sub calls these right away, so it is the same n either way (lint B023)
            text = re.sub(r"\b([Aa]) " + re.escape(n) + r"\b",
                          lambda m, n=n: ("Any " if m.group(1) == "A" else "any ") + n, text)
            text = re.sub(r"\b(is|was|Is|Was)((?: (?:there|currently|still|the|my|any|a))*) " + re.escape(n) + r"\b",
                          lambda m, n=n: _VERB_PLURAL[m.group(1)] + m.group(2) + " " + n, text)
    return re.sub(r"\b([Aa]) ([aeiouAEIOU])", lambda m: m.group(1) + "n " + m.group(2), text)


def plural(name: str) -> str:
    if name in _IRREGULAR_PLURAL:
        return _IRREGULAR_PLURAL[name]
    words = name.split()
    last = words[-1]
    if last in _IRREGULAR_PLURAL:
        last = _IRREGULAR_PLURAL[last]
    elif last.endswith(("s", "x", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return " ".join(words[:-1] + [last])


def add_typo(text: str, rng: np.random.Generator) -> str:
    """One keyboard slip in a word of at least 5 letters: swap, drop or double a letter."""
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not idx:
        return text
    i = idx[int(rng.integers(len(idx)))]
    w = words[i]
    j = int(rng.integers(1, len(w) - 1))
    op = int(rng.integers(3))
    if op == 0:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    elif op == 1:
        w = w[:j] + w[j + 1:]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def clock_text(hour: float) -> str:
    """16.5 -> "4:30 pm"."""
    h = int(hour)
    m = int(round((hour - h) * 60))
    ampm = "am" if h < 12 else "pm"
    h12 = h % 12 or 12
    return f"{h12}:{m:02d} {ampm}" if m else f"{h12} {ampm}"


def load_pool(name: str, path: Optional[Path] = None) -> PhrasingPool:
    import yaml
    if name not in POOL_FILES and path is None:
        raise ConfigError(f"unknown phrasing pool {name!r}")
    p = Path(path) if path is not None else DATA_DIR / POOL_FILES[name]
    if not p.is_file():
        raise ConfigError(f"phrasing pool file not found: {p}")
    with p.open() as f:
        d = yaml.safe_load(f) or {}
    if int(d.get("version", 0)) != 1:
        raise ConfigError(f"{p}: unknown pool version {d.get('version')}")
    try:
        return PhrasingPool(name=str(d.get("pool", name)), templates={k: list(v) for k, v in d["templates"].items()},
                            time_phrases={k: list(v) for k, v in d["time_phrases"].items()},
                            since_phrases={k: list(v) for k, v in d["since_phrases"].items()},
                            typos=bool(d.get("typos", False)), number_words=bool(d.get("number_words", False)),
                            object_names={k: list(v) for k, v in (d.get("object_names") or {}).items()},
                            room_names={k: list(v) for k, v in (d.get("room_names") or {}).items()})
    except (KeyError, TypeError, AttributeError) as e:
        raise ConfigError(f"{p}: malformed phrasing pool ({e})") from e
