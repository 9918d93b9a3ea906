"""The planner's answer: status, the answer itself (text + structured fields), calibrated probability,
the top alternatives, the evidence behind it, and what answering cost (path, looks, memory reads)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..common.protocols import Evidence
from .query import Query

ANSWERED = "ANSWERED"
NOT_SURE = "NOT_SURE"
CANNOT_PARSE = "CANNOT_PARSE"
STATUSES = (ANSWERED, NOT_SURE, CANNOT_PARSE)

# Why the answering loop stopped.
STOP_NO_VALUE = "no_value"          # best VOI <= 0
STOP_BUDGET = "budget"              # nothing worth it within the remaining budget
STOP_CANCELLED = "cancelled"        # cancelled or timed out (should_stop returned True)
STOP_MAX_LOOKS = "max_looks"
STOP_MEMORY_ONLY = "memory_only"    # budget 0
STOP_PAST = "past"                  # looking now cannot change the answer
STOP_NAV_FAILED = "navigation_failed"


@dataclass
class Candidate:
    """One possible answer with its probability under the final belief."""
    text: str
    probability: float
    place_id: int = -1
    room_id: int = -1
    position_m: Optional[np.ndarray] = None   # (3,) map frame


@dataclass
class Answer:
    status: str
    query_kind: str
    reason: str = ""
    answer: str = ""                          # the answer as a sentence
    position_m: Optional[np.ndarray] = None   # (3,) map frame
    place_id: int = -1
    room_id: int = -1
    room_label: str = ""
    count: int = -1
    time_ns: int = 0                          # 0 = not a time
    yes_no: Optional[bool] = None
    items: List[str] = field(default_factory=list)   # classes (what_on / what_changed / which_first)
    object_id: str = ""
    best_guess: str = ""
    probability: float = 0.0                  # calibrated P(correct)
    raw_probability: float = 0.0              # before calibration
    top_answers: List[Candidate] = field(default_factory=list)
    evidence: Evidence = field(default_factory=Evidence)
    path_m: float = 0.0
    looks: int = 0
    memory_reads: int = 0
    stop_reason: str = ""
    visited_place_ids: List[int] = field(default_factory=list)
    query: Optional[Query] = None
    error: str = ""                           # e.g. navigation failure text (the answer is still valid)

    @property
    def answered(self) -> bool:
        return self.status == ANSWERED
