"""Vocabulary: the one owner of names (object classes, synonyms, plurals, room types, embeddings).

Fast path (no model): normalisation (case, punctuation, articles, underscores), exact canonical names,
synonyms, plurals, and the longest known phrase inside a longer one ("the red coffee mug" -> mug).
Slow path (loads the sentence-embedding model once, lazily): nearest lexicon phrase by cosine similarity
for wording the lexicon does not list. Any class string is accepted: an unknown name is its own canonical
class (normalised, singular), so the simulator or a detector may use classes this lexicon never heard of.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..common.errors import ConfigError
from .detector_names import detector_synonyms
from .embedding import EmbedFn, SentenceEmbedder
from .lexicon import CATEGORIES, CLASS_ENTRIES, ROOM_ENTRIES, UNKNOWN_ROOM, ClassEntry

_ARTICLES = {"the", "a", "an", "my", "our", "your", "his", "her", "their", "its", "some", "any", "this",
             "that", "these", "those"}
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_PUNCT = re.compile(r"[^a-z0-9' ]+")
_IRREGULAR = {"knives": "knife", "shelves": "shelf", "leaves": "leaf", "mice": "mouse", "feet": "foot",
              "teeth": "tooth", "people": "person", "children": "child", "men": "man", "women": "woman",
              "dice": "die", "loaves": "loaf", "wives": "wife", "halves": "half", "geese": "goose"}
_NO_STRIP = ("ss", "us", "is", "news")


@dataclass
class VocabConfig:
    """Vocabulary settings (section ``vocab`` of a node's parameters)."""
    allow_model: bool = True              # may load the embedding model for unlisted wording
    min_model_score: float = 0.55         # cosine below which the model's nearest phrase is rejected
    max_ngram_words: int = 4              # longest sub-phrase searched inside a longer text
    extra_synonyms: Dict[str, List[str]] = field(default_factory=dict)  # canonical -> more synonyms

    def validate(self) -> None:
        if not 0.0 <= self.min_model_score <= 1.0:
            raise ConfigError(f"vocab.min_model_score must be in [0, 1], got {self.min_model_score}")
        if self.max_ngram_words < 1:
            raise ConfigError(f"vocab.max_ngram_words must be >= 1, got {self.max_ngram_words}")


def normalize_text(text: str) -> str:
    """camelCase split; lower case; '_', '-', '/' and punctuation to spaces; possessive 's and leading articles
    dropped."""
    t = _CAMEL.sub(" ", str(text)).lower().replace("_", " ").replace("-", " ").replace("/", " ")
    t = _PUNCT.sub(" ", t)
    t = re.sub(r"'s\b", "", t).replace("'", "")
    words = t.split()
    while words and words[0] in _ARTICLES:
        words = words[1:]
    return " ".join(words)


def singular_candidates(word: str) -> List[str]:
    """Possible singular forms of one (lower-case) word, most likely first; excludes the word itself."""
    w = word
    out: List[str] = []
    if w in _IRREGULAR:
        out.append(_IRREGULAR[w])
    if len(w) > 3 and w.endswith("ies"):
        out.append(w[:-3] + "y")
    if len(w) > 3 and w.endswith("ves"):
        out += [w[:-3] + "f", w[:-3] + "fe"]
    if len(w) > 3 and w.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
        out.append(w[:-2])
    if len(w) > 2 and w.endswith("s") and not w.endswith(_NO_STRIP):
        out.append(w[:-1])
    return [c for c in dict.fromkeys(out) if c != w]


def _singular_phrase_candidates(phrase: str) -> List[str]:
    words = phrase.split()
    if not words:
        return []
    return [" ".join(words[:-1] + [c]) for c in singular_candidates(words[-1])]


class Vocabulary:
    """Canonical names for object classes and room types, with synonym, plural and embedding look-up.

    Thread-safe. Canonical class names are what memory stores and what every result carries.
    """

    def __init__(self, config: Optional[VocabConfig] = None, embed_fn: Optional[EmbedFn] = None,
                 entries: Sequence[ClassEntry] = CLASS_ENTRIES):
        self.config = config or VocabConfig()
        self.config.validate()
        self._lock = threading.RLock()
        self._embedder = SentenceEmbedder(embed_fn=embed_fn, allow_model=self.config.allow_model)
        self._entries: Dict[str, ClassEntry] = {}
        self._phrase_to_class: Dict[str, str] = {}
        self._canonical_cache: Dict[str, str] = {}
        self._sim_cache: Dict[Tuple[str, str], float] = {}
        self._phrase_matrix: Optional[Tuple[List[str], np.ndarray]] = None
        for e in entries:
            self._add_entry(e)
        self._add_detector_labels()
        for canonical, syns in self.config.extra_synonyms.items():
            self.add_class(canonical, syns)
        self._room_of: Dict[str, str] = {}
        self._rooms: List[str] = []
        for r in ROOM_ENTRIES:
            self._rooms.append(r.canonical)
            for p in (r.canonical,) + r.synonyms:
                self._room_of[normalize_text(p)] = r.canonical

    # ---------------------------------------------------------------------------------- the lexicon
    def _add_detector_labels(self) -> None:
        """Detector labels that name a lexicon class ("sports ball" -> ball) become its synonyms
        (detector_names.py: the one table); labels already known, or naming no class here, are left as
        they are, so an unknown label stays its own class."""
        for label, cls in detector_synonyms():
            target = self._entries.get(normalize_text(cls))
            if target is not None and normalize_text(label) not in self._phrase_to_class:
                self._add_entry(ClassEntry(target.canonical, (label,)))

    def _add_entry(self, e: ClassEntry) -> None:
        canonical = normalize_text(e.canonical)
        if not canonical:
            raise ConfigError("empty class name")
        if e.category not in CATEGORIES:
            raise ConfigError(f"class {canonical!r}: unknown category {e.category!r}; known: {CATEGORIES}")
        owner = self._phrase_to_class.get(canonical)
        if owner is not None and owner != canonical:
            raise ConfigError(f"class {canonical!r} is already a synonym of {owner!r}")
        old = self._entries.get(canonical)
        syns = tuple(dict.fromkeys((old.synonyms if old else ()) + tuple(normalize_text(s) for s in e.synonyms)))
        kind_of = normalize_text(e.kind_of) if e.kind_of else (old.kind_of if old else "")
        self._entries[canonical] = ClassEntry(canonical, syns, e.category if old is None else old.category,
                                              e.rooms or (old.rooms if old else ()), kind_of)
        self._phrase_to_class[canonical] = canonical
        for s in syns:
            if not s:
                continue
            prev = self._phrase_to_class.get(s)
            if prev is not None and prev != canonical:
                raise ConfigError(f"synonym {s!r} of {canonical!r} already belongs to {prev!r}")
            self._phrase_to_class[s] = canonical
        self._canonical_cache.clear()
        self._sim_cache.clear()
        self._phrase_matrix = None

    def add_class(self, canonical: str, synonyms: Iterable[str] = (), category: str = "small",
                  rooms: Iterable[str] = (), kind_of: str = "") -> str:
        """Register a class (or more synonyms of a known one); returns its canonical name."""
        with self._lock:
            self._add_entry(ClassEntry(canonical, tuple(synonyms), category, tuple(rooms), kind_of))
            return normalize_text(canonical)

    def generalizations(self, class_name: str) -> List[str]:
        """The class and every more general class it is a kind of, most specific first
        ("office chair" -> ["office chair", "chair"]); an unknown multi-word class falls back to its head
        noun when that is a known class ("pantry cupboard" -> [..., "cabinet"])."""
        with self._lock:
            c = self.canonical(class_name)
            out = [c]
            e = self._entries.get(c)
            while e is not None and e.kind_of and e.kind_of not in out:
                out.append(e.kind_of)
                e = self._entries.get(e.kind_of)
            if c not in self._entries and " " in c:
                head = self._fast_lookup(c.split()[-1])
                if head is not None and head not in out:
                    out += self.generalizations(head)
            return out

    def is_a(self, class_name: str, general: str) -> bool:
        """True if ``class_name`` names ``general`` or a kind of it (a dining table is a table)."""
        return self.canonical(general) in self.generalizations(class_name)

    def classes(self) -> List[str]:
        """Canonical class names of the lexicon (plus classes added at run time), sorted."""
        with self._lock:
            return sorted(self._entries)

    def synonyms(self, class_name: str) -> List[str]:
        """Synonyms of a class (given by any of its names); empty for an unknown class."""
        with self._lock:
            e = self._entries.get(self.canonical(class_name))
            return list(e.synonyms) if e else []

    def category(self, class_name: str) -> str:
        """small | furniture | appliance | fixture | food | plant | structure ("small" if unknown)."""
        with self._lock:
            e = self._entries.get(self.canonical(class_name))
            return e.category if e else "small"

    def is_receptacle(self, class_name: str) -> bool:
        """Furniture, appliances and fixtures: things small objects are found on or in."""
        return self.category(class_name) in ("furniture", "appliance", "fixture")

    def usual_rooms(self, class_name: str) -> List[str]:
        """Room types where the class is usually found (label evidence for room segmentation)."""
        with self._lock:
            e = self._entries.get(self.canonical(class_name))
            return list(e.rooms) if e else []

    def is_known(self, text: str) -> bool:
        """True if the text names a lexicon class without the model (exact, synonym or plural)."""
        return self._fast_lookup(normalize_text(text)) is not None

    # ------------------------------------------------------------------------------- class look-up
    def _fast_lookup(self, norm: str) -> Optional[str]:
        with self._lock:
            c = self._phrase_to_class.get(norm)
            if c is not None:
                return c
            for cand in _singular_phrase_candidates(norm):
                c = self._phrase_to_class.get(cand)
                if c is not None:
                    return c
            return None

    def _ngram_lookup(self, norm: str) -> Optional[str]:
        words = norm.split()
        for n in range(min(len(words) - 1, self.config.max_ngram_words), 0, -1):
            # rightmost first: in English the head noun comes last ("kitchen table" -> table)
            for i in range(len(words) - n, -1, -1):
                c = self._fast_lookup(" ".join(words[i:i + n]))
                if c is not None:
                    return c
        return None

    def canonical(self, text: str) -> str:
        """Canonical class name of any class string, without the model. Unknown names are their own class
        (normalised, with a plural last word made singular), so every detector/simulator class is accepted;
        a name with nothing left after normalising ("a", "-") is its own class as given (lower case)."""
        with self._lock:
            hit = self._canonical_cache.get(text)
            if hit is not None:
                return hit
            norm = normalize_text(text)
            c = self._fast_lookup(norm)
            if c is None:
                cands = _singular_phrase_candidates(norm)
                c = cands[0] if cands else norm
            if not c:                 # nothing left after normalising ("a", "-", "."): the name as given, so
                c = " ".join(str(text).split()).lower()   # a class is never stored or matched as ""
            if len(self._canonical_cache) > 50_000:
                self._canonical_cache.clear()
            self._canonical_cache[text] = c
            return c

    def resolve_class(self, text: str, allow_model: Optional[bool] = None,
                      min_score: Optional[float] = None) -> Optional[Tuple[str, float]]:
        """(canonical class, score in [0, 1]) for a class phrase, or None if nothing fits.

        1.0 for an exact name, synonym or plural; 0.9 for a known phrase inside the text ("red mug");
        otherwise (model allowed) the nearest lexicon phrase by cosine similarity if >= min_score.
        """
        norm = normalize_text(text)
        if not norm:
            return None
        c = self._fast_lookup(norm)
        if c is not None:
            return c, 1.0
        c = self._ngram_lookup(norm)
        if c is not None:
            return c, 0.9
        use_model = self.config.allow_model if allow_model is None else allow_model
        if not use_model:
            return None
        threshold = self.config.min_model_score if min_score is None else min_score
        phrases, mat = self._phrases_and_matrix()
        q = self._embedder.embed([norm])[0]
        sims = mat @ q
        i = int(np.argmax(sims))
        score = float(sims[i])
        if score < threshold:
            return None
        return self._phrase_to_class[phrases[i]], min(score, 0.89)

    def find_classes(self, sentence: str) -> List[Tuple[str, str]]:
        """Every known class mentioned in a sentence, longest phrases first, left to right:
        [(canonical, phrase as written after normalisation)]. No model."""
        words = normalize_text(sentence).split()
        out: List[Tuple[str, str]] = []
        i = 0
        while i < len(words):
            for n in range(min(self.config.max_ngram_words, len(words) - i), 0, -1):
                phrase = " ".join(words[i:i + n])
                c = self._fast_lookup(phrase)
                if c is not None:
                    out.append((c, phrase))
                    i += n
                    break
            else:
                i += 1
        return out

    # -------------------------------------------------------------------------------- similarity
    def _phrases_and_matrix(self) -> Tuple[List[str], np.ndarray]:
        with self._lock:
            if self._phrase_matrix is None:
                phrases = sorted(self._phrase_to_class)
                self._phrase_matrix = (phrases, self._embedder.embed(phrases))
            return self._phrase_matrix

    def embedding(self, text: str) -> np.ndarray:
        """(384,) float32 unit vector of the normalised text (cached; may load the model)."""
        return self._embedder.embed([normalize_text(text)])[0]

    def embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """(N, 384) float32 unit rows (cached; may load the model once)."""
        return self._embedder.embed([normalize_text(t) for t in texts])

    @property
    def model_loaded(self) -> bool:
        return self._embedder.model_loaded

    def similar(self, a: str, b: str, allow_model: Optional[bool] = None) -> float:
        """Semantic similarity of two class phrases in [0, 1]: 1.0 when they name the same class,
        else the cosine of their canonical names' embeddings (clipped at 0). Without the model (or when
        it is not allowed) only the shipped phrase table is used, and unknown pairs score 0."""
        ca, cb = self.canonical(a), self.canonical(b)
        if ca == cb:
            return 1.0
        key = (ca, cb) if ca < cb else (cb, ca)
        with self._lock:
            hit = self._sim_cache.get(key)
        if hit is not None:
            return hit
        use_model = self.config.allow_model if allow_model is None else allow_model
        va, vb = self._embedder.cached(ca), self._embedder.cached(cb)
        if va is None or vb is None:
            if not use_model:
                return 0.0
            va, vb = self._embedder.embed([ca, cb])
        s = float(max(0.0, min(1.0, float(np.dot(va, vb)))))
        with self._lock:
            self._sim_cache[key] = s
        return s

    def class_similarity(self, a: str, b: str) -> float:
        """``similar`` without ever loading the model (for hot loops such as data association)."""
        return self.similar(a, b, allow_model=False)

    # -------------------------------------------------------------------------------------- rooms
    def room_types(self) -> List[str]:
        """Canonical room types, "unknown" last."""
        return [r for r in self._rooms if r != UNKNOWN_ROOM] + [UNKNOWN_ROOM]

    def resolve_room(self, text: str, allow_model: Optional[bool] = None,
                     min_score: Optional[float] = None) -> Optional[Tuple[str, float]]:
        """(canonical room type, score) for a room phrase ("lounge" -> living room), or None."""
        norm = normalize_text(text)
        if not norm:
            return None
        words = norm.split()
        if words and words[-1] == "rooms":
            norm = " ".join(words[:-1] + ["room"])
        hit = self._room_of.get(norm)
        if hit is None:
            for cand in _singular_phrase_candidates(norm):
                hit = self._room_of.get(cand)
                if hit is not None:
                    break
        if hit is not None:
            return hit, 1.0
        words = norm.split()
        for n in range(min(len(words) - 1, 3), 0, -1):
            for i in range(len(words) - n, -1, -1):
                hit = self._room_of.get(" ".join(words[i:i + n]))
                if hit is not None:
                    return hit, 0.9
        use_model = self.config.allow_model if allow_model is None else allow_model
        if not use_model:
            return None
        threshold = self.config.min_model_score if min_score is None else min_score
        phrases = sorted(self._room_of)
        mat = self._embedder.embed(phrases)
        sims = mat @ self._embedder.embed([norm])[0]
        i = int(np.argmax(sims))
        if float(sims[i]) < threshold:
            return None
        return self._room_of[phrases[i]], min(float(sims[i]), 0.89)

    def find_rooms(self, sentence: str) -> List[Tuple[str, str]]:
        """Room types mentioned in a sentence: [(canonical room, phrase)]. No model."""
        words = normalize_text(sentence).split()
        out: List[Tuple[str, str]] = []
        i = 0
        while i < len(words):
            for n in range(min(3, len(words) - i), 0, -1):
                phrase = " ".join(words[i:i + n])
                hit = self._room_of.get(phrase)
                if hit is not None and hit != UNKNOWN_ROOM:
                    out.append((hit, phrase))
                    i += n
                    break
            else:
                i += 1
        return out

    def all_phrases(self) -> List[str]:
        """Every class and room phrase (what the shipped embedding table covers)."""
        with self._lock:
            return sorted(set(self._phrase_to_class) | set(self._room_of))


_default: Optional[Vocabulary] = None
_default_lock = threading.Lock()


def default_vocabulary() -> Vocabulary:
    """The process-wide shared Vocabulary (one embedding cache, one model at most)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Vocabulary()
        return _default
