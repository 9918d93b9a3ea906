"""Learned fallback for the question kind: logistic regression over MiniLM sentence embeddings.

Flow: ``training_set`` reads the project's own labelled phrasings — the dev pool's templates
(bench/laeqa_data/dev_phrasings.yaml, each filled with a few fixed slot values) and the train half of the
OpenEQA labels (bench/laeqa_data/openeqa_labels.yaml; question text from ../shared/phrasings when that file
is there) — and maps them to a kind or ``OOS``. The caller's ``prep`` turns each question into the clause
the parser's rules read, the bundled embedder turns that into a unit vector (384-d), ``fit`` trains a
multinomial logistic regression in numpy (full-batch gradient descent, L2) on a deterministic 80 % of the
rows and a temperature on the other 20 % (NLL, grid search), so ``predict`` returns a calibrated
probability. The fitted weights are cached in data/intent_classifier.npz under a digest of the rows and
the model name (data/ is gitignored); nothing is downloaded. The OpenEQA split is ``openeqa_split``
(sha1 of the id, even = train): bench.questions reports the eval half only.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import query as Q

OOS = "oos"
REPO = Path(__file__).resolve().parents[2]
DATA_DIR = REPO / "bench" / "laeqa_data"
OPENEQA_TEXT = REPO.parent / "shared" / "phrasings" / "open-eqa-v0.json"
CACHE_PATH = REPO / "data" / "intent_classifier.npz"
CACHE_VERSION = 3

# The dev pool's template keys -> the planner kind (as bench/laeqa/questions.py scores them).
TEMPLATE_KINDS: Dict[str, str] = {
    "where_now": Q.WHERE_NOW, "exists_now": Q.EXISTS, "exists_on_now": Q.EXISTS, "count_now": Q.COUNT,
    "what_on_now": Q.WHAT_ON, "attribute": Q.ATTRIBUTE, "where_at": Q.WHERE_AT, "last_seen": Q.LAST_SEEN,
    "since_when": Q.SINCE_WHEN, "exists_past": Q.EXISTS, "count_past": Q.COUNT, "where_usually": Q.WHERE_USUALLY,
    "days_seen_in": Q.DAYS_SEEN, "did_move": Q.DID_MOVE, "still_there": Q.EXISTS, "what_changed": Q.WHAT_CHANGED,
    "when_next": Q.WHEN_NEXT, "which_first": Q.WHICH_FIRST, "will_be_there": Q.WILL_BE,
    "oos_device": OOS, "oos_material": OOS, "oos_affordance": OOS,
}
# Fixed slot values for filling the templates (cycled, so every template gets several wordings).
_SLOTS: Dict[str, Sequence[str]] = {
    "obj": ("mug", "keys", "remote control", "backpack", "laptop"),
    "objs": ("mugs", "books", "chairs", "bottles", "shoes"),
    "room": ("kitchen", "living room", "bedroom", "office", "hallway"),
    "rec": ("table", "desk", "counter", "shelf", "sofa"),
    "when": ("yesterday at 3 pm", "this morning", "yesterday evening", "yesterday", "2 days ago"),
    "since": ("yesterday", "this morning", "monday", "yesterday", "this morning"),
    "a": ("milk", "bread", "coffee", "apples", "cereal"),
    "b": ("bread", "eggs", "tea", "bananas", "juice"),
    "n_days": ("3", "5", "7", "4", "6"),
    "device": ("oven", "tv", "light", "fridge", "washing machine"),
    "furn": ("chair", "sofa", "table", "bed", "shelf"),
}
_FILLS = 5


def _digest(s: str) -> int:
    return int(hashlib.sha1(s.encode()).hexdigest(), 16)


def openeqa_split(question_id: str) -> str:
    """"train" or "eval": a fixed half of the OpenEQA ids (sha1 of the id, even = train)."""
    return "train" if _digest(question_id) % 2 == 0 else "eval"


def openeqa_label_kind(lab: Dict) -> Optional[str]:
    """The classifier's class for an OpenEQA label: a kind, OOS, or None (unknown object: no kind given)."""
    if lab.get("kind") in Q.ROBOT_KINDS:     # the rules parse these; memory cannot answer them yet
        return None
    if lab.get("kind") != Q.CANNOT_PARSE:
        return str(lab.get("kind"))
    return None if lab.get("reason") == "unknown_object" else OOS


def training_set(data_dir: Path = DATA_DIR, openeqa_text: Path = OPENEQA_TEXT
                 ) -> Tuple[List[str], List[str], List[bool]]:
    """(questions, classes, is a real phrasing) from the dev templates and literal questions and the
    OpenEQA train half (when its text is there)."""
    import yaml
    texts: List[str] = []
    labels: List[str] = []
    self_real: List[Tuple[str, str]] = []
    dev = data_dir / "dev_phrasings.yaml"
    if dev.is_file():
        doc = yaml.safe_load(dev.read_text()) or {}
        for key, templates in (doc.get("templates") or {}).items():
            kind = TEMPLATE_KINDS.get(key)
            if kind is None:
                continue
            for ti, tpl in enumerate(templates or []):
                for j in range(_FILLS):
                    vals = {k: v[(j + ti) % len(v)] for k, v in _SLOTS.items()}
                    try:
                        texts.append(str(tpl).format(**vals))
                    except (KeyError, IndexError, ValueError):
                        break
                    labels.append(kind)
        for item in doc.get("questions") or []:
            if isinstance(item, dict) and "q" in item and item.get("kind"):
                k = openeqa_label_kind(item)
                if k is not None:
                    self_real.append((str(item["q"]), k))
    labs = data_dir / "openeqa_labels.yaml"
    if labs.is_file() and openeqa_text.is_file():
        text = {d["question_id"]: d["question"] for d in json.loads(openeqa_text.read_text())}
        for qid, lab in ((yaml.safe_load(labs.read_text()) or {}).get("labels") or {}).items():
            k = openeqa_label_kind(lab)
            if k is not None and qid in text and openeqa_split(qid) == "train":
                self_real.append((text[qid], k))
    real = [False] * len(texts) + [True] * len(self_real)
    texts += [q for q, _ in self_real]
    labels += [k for _, k in self_real]
    return texts, labels, real


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class IntentClassifier:
    """Calibrated softmax over kinds + OOS. ``weights`` (D, K), ``bias`` (K,), ``temperature`` > 0."""
    classes: List[str]
    weights: np.ndarray
    bias: np.ndarray
    temperature: float = 1.0
    n_train: int = 0
    n_calib: int = 0

    def proba(self, x: np.ndarray) -> np.ndarray:
        """(N, K) calibrated class probabilities for (N, D) unit embeddings."""
        return _softmax((np.atleast_2d(x) @ self.weights + self.bias) / self.temperature)

    def predict(self, x: np.ndarray) -> Tuple[str, float]:
        """(class, calibrated probability) for one (D,) embedding."""
        p = self.proba(x)[0]
        i = int(np.argmax(p))
        return self.classes[i], float(p[i])

    @staticmethod
    def fit(x: np.ndarray, labels: Sequence[str], keys: Sequence[str], real: Optional[Sequence[bool]] = None,
            l2: float = 1e-5, iters: int = 3000, lr: float = 8.0) -> "IntentClassifier":
        """Train on all rows but a held-out calibration set, fit the temperature on that set: 2/5 of the
        real phrasings when there are any (templates are easier than what people ask, and a temperature
        fitted on them is overconfident on real questions), else 1/5 of all rows (by a hash of the key)."""
        classes = sorted(set(labels))
        y = np.array([classes.index(c) for c in labels])
        h = np.array([_digest("calib:" + k) % 5 for k in keys])
        is_real = np.array(real if real is not None else [False] * len(keys), bool)
        calib = is_real & (h < 2) if is_real.sum() >= 20 else h == 0
        if calib.all() or not calib.any():
            calib = np.zeros(len(keys), bool)
        xt, yt = x[~calib], y[~calib]
        n, d = xt.shape
        k = len(classes)
        w = np.zeros((d, k), np.float64)
        b = np.zeros(k, np.float64)
        onehot = np.eye(k)[yt]
        # class weights: rare kinds count as much as common ones
        cw = len(yt) / (k * np.maximum(np.bincount(yt, minlength=k), 1))
        sw = cw[yt][:, None]
        for _ in range(iters):
            g = (_softmax(xt @ w + b) - onehot) * sw / n
            w -= lr * (xt.T @ g + l2 * w)
            b -= lr * g.sum(axis=0)
        model = IntentClassifier(classes, w.astype(np.float32), b.astype(np.float32), 1.0, int(n), int(calib.sum()))
        if calib.any():
            z = x[calib] @ model.weights + model.bias
            yc = y[calib]
            best = (np.inf, 1.0)
            for t in np.exp(np.linspace(np.log(0.05), np.log(5.0), 60)):
                p = _softmax(z / t)
                nll = float(-np.mean(np.log(p[np.arange(len(yc)), yc] + 1e-12)))
                best = min(best, (nll, float(t)))
            model.temperature = best[1]
        return model

    def save(self, path: Path, key: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, version=CACHE_VERSION, key=key, classes=np.array(self.classes), weights=self.weights,
                 bias=self.bias, temperature=self.temperature, n_train=self.n_train, n_calib=self.n_calib)
        tmp.replace(path)

    @staticmethod
    def load(path: Path, key: str) -> Optional["IntentClassifier"]:
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["version"]) != CACHE_VERSION or str(z["key"]) != key:
                    return None
                return IntentClassifier([str(c) for c in z["classes"]], z["weights"], z["bias"],
                                        float(z["temperature"]), int(z["n_train"]), int(z["n_calib"]))
        except (OSError, KeyError, ValueError):
            return None


def build(embed: Callable[[Sequence[str]], np.ndarray], prep: Callable[[str], str], model_name: str,
          cache_path: Optional[Path] = CACHE_PATH, data_dir: Path = DATA_DIR,
          openeqa_text: Path = OPENEQA_TEXT) -> Optional[IntentClassifier]:
    """The classifier from the labelled phrasings (cached), or None when there are none."""
    texts, labels, real = training_set(data_dir, openeqa_text)
    if len(set(labels)) < 2:
        return None
    cores = [prep(t) or t for t in texts]
    h = hashlib.sha256(model_name.encode())
    for c, lab in zip(cores, labels):
        h.update(f"{c}\t{lab}\n".encode())
    key = h.hexdigest()[:24]
    if cache_path is not None:
        hit = IntentClassifier.load(cache_path, key)
        if hit is not None:
            return hit
    x = np.asarray(embed(cores), dtype=np.float64)
    model = IntentClassifier.fit(x, labels, texts, real)
    if cache_path is not None:
        try:
            model.save(cache_path, key)
        except OSError:      # a read-only checkout: it is rebuilt next time (about a second)
            pass
    return model
