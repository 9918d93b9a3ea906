"""Evidence <-> memory_interfaces/Evidence: shared by memory's recall replies and the planner's answers."""
from __future__ import annotations

from memory_interfaces.msg import Evidence as EvidenceMsg

from memory_nodes.common.protocols import Evidence

from .basic import ns_to_time, time_to_ns


def evidence_to_msg(ev: Evidence) -> EvidenceMsg:
    m = EvidenceMsg()
    m.object_ids = [str(x) for x in ev.object_ids]
    m.observation_ids = [int(x) for x in ev.observation_ids]
    m.place_ids = [int(x) for x in ev.place_ids]
    m.stamps = [ns_to_time(int(t)) for t in ev.stamps_ns]
    m.keyframe_refs = [str(r) for r in ev.keyframe_refs]
    return m


def evidence_from_msg(m: EvidenceMsg) -> Evidence:
    return Evidence(list(m.object_ids), [int(x) for x in m.observation_ids], [int(x) for x in m.place_ids],
                    [time_to_ns(t) for t in m.stamps], list(m.keyframe_refs))
