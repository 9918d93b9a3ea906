"""Retention: thin old keyframes and consolidate old raw observations, never the evidence.

Keyframes older than ``keep_all_days`` are thinned, except those cited by an event or by the first or
last sighting of a stay, plus ``keep_per_place_per_day`` per place and day. Thinned files are deleted
after the next commit (the repository queues it).

Raw observations older than ``keep_raw_days`` (0: never) are consolidated, a slice of input time per
run (at most ``_MAX_SLICE_NS``, so a store that turns it on catches up without one long transaction):

    per-track stays      already kept (stays, in RAM and in the store): where each object was, when
    per-place snapshots  ``place_days``: per place, day and object, the first / last sighting and how many
                         raw observations were summarised
    raw rows kept        those cited anywhere (the first / last sighting of every stay, every event's
                         evidence) and the first and last of every sighting run (one object's
                         observations less than ``raw_run_gap_s`` apart: one look at it)
    raw rows deleted     the rest, and observations never associated with an object (weak detections,
                         dropped tentative tracks), which no answer cites; kept rows lose their appearance
                         vector (most of a row's bytes; re-identification uses the track's own)

So every answer memory gives stays the same: "where was X at t / on day D" and "what is at place P" come
from the stays; "when did you last see X (before t)" is the last kept observation at or before t, which is
the same row as before unless t falls inside a sighting run (then the run's first sighting: at most
``raw_run_gap_s`` per gap earlier). What is lost is the raw detail inside a run (each frame's box, score,
appearance), which nothing reads back. Consolidated rows go in the ingest's next commit.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

from .config import NS_PER_DAY, NS_PER_S, RetentionConfig
from .repository import Repository
from .state import MemoryState

_MAX_SLICE_NS = 6 * 3600 * NS_PER_S      # input time consolidated per run at most


def apply_retention(cfg: RetentionConfig, state: MemoryState, repo: Repository, now_ns: int) -> int:
    """Thin (and consolidate) what is due at ``now_ns``; returns how many keyframes were thinned."""
    state.last_retention_ns = now_ns
    if not repo.writable:
        return 0
    if cfg.keep_raw_days > 0:
        consolidate_observations(cfg, state, repo, now_ns)
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


def consolidate_observations(cfg: RetentionConfig, state: MemoryState, repo: Repository, now_ns: int,
                             until_ns: Optional[int] = None) -> int:
    """Consolidate the raw observations of the next slice older than ``keep_raw_days`` (or up to
    ``until_ns``); returns how many raw rows go. See the module doc for what is kept."""
    if not repo.writable:
        return 0
    cutoff = now_ns - int(cfg.keep_raw_days * NS_PER_DAY) if until_ns is None else until_ns
    done = repo.consolidated_through_ns()
    if done < 0:
        oldest = repo.oldest_observation_ns()
        if oldest < 0:
            return 0
        done = oldest - 1
    if cutoff <= done:
        return 0
    end = min(cutoff, done + _MAX_SLICE_NS)
    gap = int(cfg.raw_run_gap_s * NS_PER_S)
    cited: Set[int] = repo.stay_observations_between(done, end)
    for t in state.tracks.values():
        for s in t.stays:
            if s.end_ns > done and s.start_ns <= end:
                cited.add(s.first_obs)
                cited.add(s.last_obs)
    for e in state.events:
        cited.update(int(o) for o in e.evidence.observation_ids)
    rows = repo.observation_slice(done, end)
    delete: List[int] = []
    snaps: Dict[Tuple[int, int, int], List[int]] = {}
    n = len(rows)
    for i, (oid, track, stamp, place) in enumerate(rows):
        if track is None:
            if oid not in cited:
                delete.append(oid)
            continue
        key = (place, stamp // NS_PER_DAY, track)
        snap = snaps.get(key)
        if snap is None:
            snaps[key] = [stamp, stamp, 1]
        else:
            snap[0], snap[1], snap[2] = min(snap[0], stamp), max(snap[1], stamp), snap[2] + 1
        prev_same = i > 0 and rows[i - 1][1] == track
        next_same = i + 1 < n and rows[i + 1][1] == track
        run_start = not prev_same or stamp - rows[i - 1][2] > gap
        run_end = not next_same or rows[i + 1][2] - stamp > gap
        if not (run_start or run_end or oid in cited):
            delete.append(oid)
    repo.consolidate(delete, [(p, d, tr, a, b, k) for (p, d, tr), (a, b, k) in snaps.items()], done, end)
    state.counts["observations"] = max(0, state.counts["observations"] - len(delete))
    return len(delete)
