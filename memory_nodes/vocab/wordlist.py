"""English words with corpus frequencies, for telling a typo from a real word.

The list is symspellpy's ``frequency_dictionary_en_82_765.txt`` (82,765 English words with counts, MIT
licence, shipped inside the symspellpy wheel; installed by the setup, never downloaded at run time). A word
is "known" when the list has it with at least ``min_count`` occurrences; the parser corrects only words
that are not known, so "after", "while", "soon" or "close" are never rewritten into class names.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Dict, Optional

_LOCK = threading.Lock()
_WORDS: Optional[Dict[str, int]] = None
_FILE = "frequency_dictionary_en_82_765.txt"


def _path() -> Optional[Path]:
    try:
        import symspellpy
    except ImportError:   # the list is optional: without it every word is treated as unknown
        return None
    p = Path(symspellpy.__file__).resolve().parent / _FILE
    return p if p.is_file() else None


def english_words() -> Dict[str, int]:
    """word -> corpus count (empty when symspellpy is not installed). Read once, lazily."""
    global _WORDS
    with _LOCK:
        if _WORDS is None:
            words: Dict[str, int] = {}
            p = _path()
            if p is not None:
                with p.open(encoding="utf-8") as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) == 2 and parts[1].isdecimal():
                            words[parts[0]] = int(parts[1])
            _WORDS = words
        return _WORDS


def is_english_word(word: str, min_count: int = 20_000) -> bool:
    """True when ``word`` (lower case) is a real English word seen at least ``min_count`` times."""
    return english_words().get(word, 0) >= min_count


def available() -> bool:
    return bool(english_words())
