"""One list of recall kinds: the KIND_* constants of Recall.srv are what memory serves, what the planner
node asks for, and what the README documents."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _kinds():
    srv = (ROOT / "ros2_ws/src/memory_interfaces/srv/Recall.srv").read_text()
    return dict(re.findall(r'^string (KIND_\w+)="(\w+)"', srv, flags=re.M))


def test_srv_lists_the_kinds_and_the_generated_type_has_them():
    kinds = _kinds()
    assert len(kinds) >= 10 and len(set(kinds.values())) == len(kinds)
    from memory_interfaces.srv import Recall
    for name, value in kinds.items():
        assert getattr(Recall.Request, name) == value


def test_memory_serves_every_kind_and_the_planner_asks_only_for_kinds():
    memory_src = (ROOT / "memory_nodes/ros/memory_node.py").read_text()
    planner_src = (ROOT / "memory_nodes/ros/planner_node.py").read_text()
    kinds = _kinds()
    served = set(re.findall(r"\bR\.(KIND_\w+)\s*:", memory_src))
    assert served == set(kinds), f"memory's dispatch differs from Recall.srv: {served ^ set(kinds)}"
    asked = set(re.findall(r"_KIND\.(KIND_\w+)", planner_src))
    assert asked and asked <= set(kinds)
    # no kind spelled as a string literal in the nodes: the constants are the one list
    for value in kinds.values():
        assert f'"{value}"' not in memory_src.replace(f'="{value}"', ""), value
        assert f'_recall("{value}"' not in planner_src


def test_readme_documents_every_kind():
    readme = (ROOT / "README.md").read_text()
    para = readme[readme.index("Recall kinds"):]
    para = para[:para.index("\n\n")]
    for value in _kinds().values():
        assert f"`{value}`" in para, value
