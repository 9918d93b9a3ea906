"""Retention: thin old keyframes, never the evidence.

Keyframes older than ``keep_all_days`` are thinned, except those cited by an event or by the first or
last sighting of a stay, plus ``keep_per_place_per_day`` per place and day. Thinned files are deleted
after the next commit (the repository queues it); observations themselves are never thinned.
"""
from __future__ import annotations

from typing import Dict, Set, Tuple

from .config import NS_PER_DAY, RetentionConfig
from .repository import Repository
from .state import MemoryState


def apply_retention(cfg: RetentionConfig, state: MemoryState, repo: Repository, now_ns: int) -> int:
    """Thin what is due at ``now_ns``; returns how many keyframes were thinned."""
    state.last_retention_ns = now_ns
    if not repo.writable:
        return 0
    cutoff = now_ns - int(cfg.keep_all_days * NS_PER_DAY)
    done = repo.retention_done_ns()
    if cutoff <= done:
        return 0
    protected: Set[str] = set()
    for e in state.events:
        protected.update(e.evidence.keyframe_refs)
    protected |= repo.stay_keyframes()
    for t in state.tracks.values():
        for s in t.stays:
            protected.add(s.first_kf)
            protected.add(s.last_kf)
    kept_per: Dict[Tuple[int, int], int] = {}
    thin = []
    for ref, stamp, place in repo.keyframes_between(done, cutoff):
        key = (place, stamp // NS_PER_DAY)
        if ref in protected:
            continue
        if kept_per.get(key, 0) < cfg.keep_per_place_per_day:
            kept_per[key] = kept_per.get(key, 0) + 1
            continue
        thin.append(ref)
    repo.thin_keyframes(thin, cutoff)
    return len(thin)
