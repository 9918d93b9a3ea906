"""The layered scene graph (Spark-DSG vocabulary) built on networkx from the memory's records.

Node ids: "room_<id>" (layer 4), "place_<id>" (layer 3), "obj_<id>" (layer 2). Node attributes: layer,
semantic_label, position (3,) m, bbox_min / bbox_max (objects), first_observed_ns, last_observed_ns,
confidence (P(still there) for objects, label confidence for rooms). Edges carry first_observed_ns,
last_observed_ns and interlayer (room -> place, place -> object; place - place is intralayer).
"""
from __future__ import annotations

from typing import Optional, Protocol

from .records import Stay, Track, object_id_str
from .state import MemoryState


class StayBelief(Protocol):
    """What the graph needs of the queries: which stay held at a time, and P(still there)."""
    def stay_at(self, t: Track, t_ns: Optional[int]) -> Optional[Stay]: ...

    def p_stay_still_there(self, t: Track, s: Stay, t_ns: int) -> float: ...


LAYER_OBJECTS = 2
LAYER_PLACES = 3
LAYER_ROOMS = 4


def _base_layers(g, ms: MemoryState, t_ns: Optional[int]) -> None:
    for rid, r in ms.rooms.items():
        if t_ns is not None and r.first_ns > t_ns:
            continue
        g.add_node(f"room_{rid}", layer=LAYER_ROOMS, semantic_label=r.label, position=r.centroid.copy(),
                   first_observed_ns=r.first_ns, last_observed_ns=r.last_ns, confidence=r.confidence)
    for pid, p in ms.places.items():
        if t_ns is not None and p.first_ns > t_ns:
            continue
        g.add_node(f"place_{pid}", layer=LAYER_PLACES, semantic_label="place", position=p.pos.copy(),
                   first_observed_ns=p.first_ns, last_observed_ns=p.last_ns, confidence=1.0)
        rid = p.room_id
        if ms.room_map is not None:
            r2 = ms.room_map.room_at(float(p.pos[0]), float(p.pos[1]))
            rid = r2 if r2 >= 0 else rid
        if g.has_node(f"room_{rid}"):
            g.add_edge(f"room_{rid}", f"place_{pid}", interlayer=True, first_observed_ns=p.first_ns,
                       last_observed_ns=p.last_ns)
    for (a, b), (first, last) in ms.edges.items():
        if t_ns is not None and first > t_ns:
            continue
        if g.has_node(f"place_{a}") and g.has_node(f"place_{b}"):
            g.add_edge(f"place_{a}", f"place_{b}", interlayer=False, first_observed_ns=first,
                       last_observed_ns=last)


def _parent_of(g, stay) -> Optional[str]:
    if stay.place_id >= 0 and g.has_node(f"place_{stay.place_id}"):
        return f"place_{stay.place_id}"
    if stay.room_id >= 0 and g.has_node(f"room_{stay.room_id}"):
        return f"room_{stay.room_id}"
    return None


def _object_node(g, belief: StayBelief, t: Track, stay: Stay, at_ns: int) -> str:
    nid = object_id_str(t.id)
    off = stay.pos - t.pos
    g.add_node(nid, layer=LAYER_OBJECTS, semantic_label=t.class_name, position=stay.pos.copy(),
               bbox_min=t.bbox_min + off, bbox_max=t.bbox_max + off, first_observed_ns=t.first_seen_ns,
               last_observed_ns=min(t.last_seen_ns, max(stay.end_ns, at_ns)) if at_ns >= 0 else t.last_seen_ns,
               confidence=belief.p_stay_still_there(t, stay, at_ns))
    return nid


def graph_at(ms: MemoryState, belief: StayBelief, t_ns: Optional[int]):
    """The world as remembered at t_ns (now if None): each object at its believed position then."""
    import networkx as nx
    g = nx.DiGraph(stamp_ns=ms.now_ns if t_ns is None else t_ns)
    _base_layers(g, ms, t_ns)
    at = ms.now_ns if t_ns is None else t_ns
    for t in ms.tracks.values():
        if not t.confirmed:
            continue
        stay = belief.stay_at(t, t_ns)
        if stay is None:
            continue
        nid = _object_node(g, belief, t, stay, at)
        parent = _parent_of(g, stay)
        if parent is not None:
            g.add_edge(parent, nid, interlayer=True, first_observed_ns=stay.start_ns, last_observed_ns=stay.end_ns)
    return g


def temporal_graph(ms: MemoryState, belief: StayBelief):
    """Everything remembered: one place -> object edge (key = stay id) per stay, with its time span."""
    import networkx as nx
    g = nx.MultiDiGraph()
    _base_layers(g, ms, None)
    for t in ms.tracks.values():
        if not t.confirmed:
            continue
        nid = _object_node(g, belief, t, t.stay, ms.now_ns)
        for s in t.stays:
            parent = _parent_of(g, s)
            if parent is not None:
                g.add_edge(parent, nid, key=s.id, interlayer=True, first_observed_ns=s.start_ns,
                           last_observed_ns=s.end_ns, position=s.pos.copy())
    return g


def episode_graph(ms: MemoryState, belief: StayBelief, start_ns: int, end_ns: int):
    """The world instance of one episode: objects seen during [start_ns, end_ns], where they were at
    its end, with edges spanning their stays clipped to the episode."""
    import networkx as nx
    g = nx.DiGraph(stamp_ns=end_ns, episode=(start_ns, end_ns))
    _base_layers(g, ms, end_ns)
    for t in ms.tracks.values():
        if not t.confirmed:
            continue
        seen = [s for s in t.stays if s.end_ns >= start_ns and s.start_ns <= end_ns]
        if not seen:
            continue
        stay = seen[-1]
        nid = _object_node(g, belief, t, stay, end_ns)
        g.nodes[nid]["last_observed_ns"] = min(stay.end_ns, end_ns)
        parent = _parent_of(g, stay)
        if parent is not None:
            g.add_edge(parent, nid, interlayer=True, first_observed_ns=max(stay.start_ns, start_ns),
                       last_observed_ns=min(stay.end_ns, end_ns))
    return g
