"""Messages -> the memory picture's types (memory_nodes.viz)."""
from __future__ import annotations

from typing import Callable, List, Optional

from memory_interfaces.msg import SceneGraph, SceneGraphNode

from memory_nodes.viz.memory_map import RememberedObject

from .basic import point_to_np, time_to_ns


def remembered_objects_from_msg(msg: SceneGraph, is_furniture: Optional[Callable[[str], bool]] = None
                                ) -> List[RememberedObject]:
    """Object-layer nodes of a SceneGraph; confidence is memory's P(still there) at the graph's stamp."""
    return [RememberedObject(n.semantic_label, point_to_np(n.position), float(n.confidence),
                             time_to_ns(n.last_observed),
                             furniture=bool(is_furniture(n.semantic_label)) if is_furniture else False)
            for n in msg.nodes if n.layer == SceneGraphNode.LAYER_OBJECTS]
