"""What every answer step shares: the memory (with a read counter), the query, now, rooms and places."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..common.protocols import Evidence, MemoryView, PlaceInfo, Sighting
from .config import PlannerConfig
from .query import Query

NS_PER_DAY = 86_400 * 1_000_000_000

_PALETTE = {
    "red": (0.8, 0.1, 0.1), "green": (0.1, 0.6, 0.2), "blue": (0.1, 0.2, 0.8), "yellow": (0.9, 0.85, 0.1),
    "orange": (0.95, 0.5, 0.05), "purple": (0.5, 0.15, 0.6), "pink": (0.95, 0.55, 0.7),
    "brown": (0.45, 0.28, 0.12), "black": (0.05, 0.05, 0.05), "white": (0.95, 0.95, 0.95),
    "grey": (0.5, 0.5, 0.5), "beige": (0.85, 0.78, 0.6), "cyan": (0.1, 0.75, 0.8),
}
_COLOR_ALIASES = {"gray": "grey", "silver": "grey", "gold": "yellow", "navy": "blue", "teal": "cyan",
                  "magenta": "pink"}


def color_name(rgb) -> Tuple[str, float]:
    """Nearest palette name of an RGB triple in [0, 1] and its distance."""
    v = np.asarray(rgb, dtype=float)
    best, dist = "", float("inf")
    for name, ref in _PALETTE.items():
        dd = float(np.linalg.norm(v - np.asarray(ref)))
        if dd < dist:
            best, dist = name, dd
    return best, dist


def canonical_color(word: str) -> str:
    return _COLOR_ALIASES.get(word, word)


_COMPASS = ("east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east")


def _from_origin(pos: np.ndarray) -> str:
    """ "3.2 m north-east of the map origin" (x east, y north); "at the map origin" within 0.25 m."""
    d = float(np.hypot(pos[0], pos[1]))
    if d < 0.25:
        return "at the map origin"
    heading = int(round(float(np.degrees(np.arctan2(pos[1], pos[0]))) / 45.0)) % 8
    return f"{d:.1f} m {_COMPASS[heading]} of the map origin"


class CountingMemory:
    """Wraps a MemoryView and counts the calls (the benchmark reports memory reads)."""

    def __init__(self, inner: MemoryView):
        self._inner = inner
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def counted(*args, **kwargs):
            self.reads += 1
            return attr(*args, **kwargs)
        return counted


@dataclass
class Option:
    """One candidate answer with its payload."""
    label: str
    text: str
    prob: float
    position_m: Optional[np.ndarray] = None
    place_id: int = -1
    room_id: int = -1
    count: int = -1
    time_ns: int = 0
    yes_no: Optional[bool] = None
    items: List[str] = field(default_factory=list)
    object_id: str = ""
    evidence: Evidence = field(default_factory=Evidence)
    # False: no observation of the target supports this answer (it was never seen and no look found it);
    # the answer is a prior's guess, so it is never ANSWERED and its probability is not calibrated
    grounded: bool = True


@dataclass
class Decision:
    """Candidate answers, most probable first, with the reasoning and evidence behind them."""
    options: List[Option]
    reason: str = ""
    evidence: Evidence = field(default_factory=Evidence)

    @property
    def best(self) -> Optional[Option]:
        return self.options[0] if self.options else None


class Ctx:
    def __init__(self, memory: CountingMemory, query: Query, now_ns: int, config: PlannerConfig, vocab=None,
                 stay_map=None):
        self.memory = memory
        self.query = query
        self.now_ns = now_ns
        self.cfg = config
        self.vocab = vocab
        self.stay_map = stay_map         # calibration.OnlinePlatt over P(still there), or None (the model's own)
        self._rooms: Optional[Dict[int, str]] = None
        self._places: Optional[Dict[int, PlaceInfo]] = None
        # recall.receptacle_positions' cache: (position, room id) of each sighting of the query's receptacle
        self._receptacles: Optional[List[Tuple[np.ndarray, int]]] = None
        # furniture_near's cache: (class, position) of every remembered piece of furniture (receptacle)
        self._furniture: Optional[List[Tuple[str, np.ndarray]]] = None
        self._color_tol: Optional[float] = None      # color_ok's tolerance (from the remembered sightings)
        self._room_at: Dict[Tuple[float, float, int], int] = {}   # room_at's cache: (x, y, stored room) -> room

    @property
    def rooms(self) -> Dict[int, str]:
        if self._rooms is None:
            self._rooms = dict(self.memory.rooms())
        return self._rooms

    @property
    def places(self) -> Dict[int, PlaceInfo]:
        if self._places is None:
            self._places = {p.place_id: p for p in self.memory.places()}
        return self._places

    def room_label(self, room_id: int) -> str:
        return self.rooms.get(room_id, "") if room_id >= 0 else ""

    def room_at(self, position_m: Optional[np.ndarray], stored_room_id: int) -> int:
        """The room an answer names for a thing at ``position_m`` (m, map frame): the room memory's room map
        puts that position in (``MemoryView.room_at``), so the text names the room of the position it reports;
        ``stored_room_id`` (the sighting's or the place's room) where memory's map holds no room there or there
        is no position. One memory read per position and question."""
        if position_m is None:
            return stored_room_id
        pos = np.asarray(position_m, dtype=float).reshape(-1)
        if pos.size < 2 or not np.all(np.isfinite(pos[:2])):
            return stored_room_id
        key = (round(float(pos[0]), 3), round(float(pos[1]), 3), int(stored_room_id))
        room = self._room_at.get(key)
        if room is None:
            room = int(self.memory.room_at(pos, int(stored_room_id)))
            room = self._room_at[key] = room if room >= 0 else int(stored_room_id)
        return room

    def in_position_room(self, s: Sighting) -> Sighting:
        """The sighting with the room of its position (``room_at``); its evidence is the same."""
        room = self.room_at(s.position_m, s.room_id)
        return s if room == s.room_id else replace(s, room_id=room)

    def room_ids(self, label: str) -> List[int]:
        return sorted(r for r, lab in self.rooms.items() if lab == label)

    def room_text(self, room_id: int) -> str:
        label = self.room_label(room_id)
        if not label or label == "unknown":
            return f"room {room_id}" if room_id >= 0 else "an unknown room"
        same = self.room_ids(label)
        return f"the {label}" if len(same) <= 1 else f"the {label} (room {room_id})"

    def where_text(self, room_id: int, place_id: int, position_m: Optional[np.ndarray] = None,
                   receptacle: str = "") -> str:
        """Where a thing is, in words. In a segmented room: "in the kitchen near place 3". Outside every room
        (no rooms segmented yet, or a position no room covers): other terms a person can follow: the
        furniture it is on or near, the place, and metres and compass direction from the map origin (where
        mapping started: the dock on most robots), e.g. "on the shoe rack, near place 5, 3.2 m north-east
        of the map origin". Map frame axes: x east, y north (REP 103)."""
        if room_id >= 0 and room_id in self.rooms:
            return f"in {self.room_text(room_id)}" + (f" near place {place_id}" if place_id >= 0 else "")
        parts: List[str] = []
        pos = None if position_m is None else np.asarray(position_m, dtype=float)
        if pos is not None and not np.all(np.isfinite(pos[:2])):
            pos = None
        furniture = self.canonical(receptacle) if receptacle else ""
        if furniture:
            parts.append(f"on the {furniture}")
        elif pos is not None:
            near = self.furniture_near(pos)
            if near:
                parts.append(f"near the {near}")
        if place_id >= 0:
            parts.append(f"near place {place_id}")
        if pos is not None:
            parts.append(_from_origin(pos))
        return ", ".join(parts) if parts else "somewhere I cannot place (no room, place or position)"

    def furniture_near(self, position_m: np.ndarray, radius_m: float = 1.5) -> str:
        """The class of the remembered furniture (a receptacle class) nearest to a position within
        ``radius_m`` (ground distance), "" if none; never the asked target itself."""
        if self._furniture is None:
            self._furniture = []
            if self.vocab is not None and hasattr(self.vocab, "is_receptacle"):
                for s in self.memory.objects_in(t_ns=self.now_ns):
                    if self.vocab.is_receptacle(s.class_name):
                        self._furniture.append((s.class_name, np.asarray(s.position_m, dtype=float)))
        pos = np.asarray(position_m, dtype=float)
        best, best_d = "", radius_m
        for cls, p in self._furniture:
            d = float(np.linalg.norm(p[:2] - pos[:2]))
            if cls != self.query.target and d <= best_d:
                best, best_d = cls, d
        return best

    def canonical(self, name: str) -> str:
        if self.vocab is not None and hasattr(self.vocab, "canonical"):
            return self.vocab.canonical(name)
        return name

    def class_move_rate(self, class_name: str) -> float:
        try:
            r = float(self.memory.class_move_rate_per_day(class_name))
        except Exception:  # memory without a rate for this class
            r = -1.0
        return r if r > 0 else self.cfg.belief.default_move_rate_per_day

    def sightings(self, before_ns: Optional[int] = None) -> List[Sighting]:
        """Tracks of the query's target (matching its colour if one was asked), newest first, each in the room
        of its position (``room_at``)."""
        q = self.query
        out = list(self.memory.last_seen(q.target, before_ns=before_ns if before_ns is not None else self.now_ns))
        if q.color and out:
            want = canonical_color(q.color)
            ref = np.asarray(_PALETTE.get(want, (0.5, 0.5, 0.5)))
            dist = [float(np.linalg.norm(np.asarray(s.color_rgb, dtype=float) - ref)) for s in out]
            best = min(dist)
            # the tracks whose colour is closest to the asked one (colour estimates are noisy)
            out = [s for s, d in zip(out, dist) if d <= best + 0.15 or color_name(s.color_rgb)[0] == want]
        out = [self.in_position_room(s) for s in out]
        out.sort(key=lambda s: -s.last_seen_ns)
        return out

    def color_ok(self, rgb) -> bool:
        """Whether a detection's colour fits the asked one (always, when none was asked): its palette name
        is the asked colour, or it is no farther from it than the remembered target's colour (+ 0.15, the
        same tolerance ``sightings`` uses). A look that finds a black shoe does not answer "where are my
        white shoes"."""
        q = self.query
        if not q.color:
            return True
        want = canonical_color(q.color)
        name, _ = color_name(rgb)
        if name == want:
            return True
        ref = np.asarray(_PALETTE.get(want, (0.5, 0.5, 0.5)))
        if self._color_tol is None:
            dist = [float(np.linalg.norm(np.asarray(s.color_rgb, dtype=float) - ref)) for s in self.sightings()]
            self._color_tol = (min(dist) if dist else 0.2) + 0.15
        return float(np.linalg.norm(np.asarray(rgb, dtype=float) - ref)) <= self._color_tol
