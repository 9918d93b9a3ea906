"""memory core (no rclpy): place-centric, time-indexed scene-graph memory.

    from memory_nodes.memory import MemoryCore, MemoryConfig
    mem = MemoryCore.open("memory.db")            # or MemoryCore.in_memory()
    for out in perception_outputs:                # memory_nodes.common.types.PerceptionOutput
        through = mem.ingest(out)                 # int when a batch was committed, else None
    mem.commit()
    mem.last_seen("coffee cup")                   # -> [Sighting] (MemoryView protocol)
    what_if = mem.fork()                          # copy-on-write, never persisted
"""
from .config import (
                     AbsenceConfig,
                     AssociationConfig,
                     EventConfig,
                     MemoryConfig,
                     RetentionConfig,
                     StalenessConfig,
                     StoreConfig,
)
from .core import ForgetResult, MemoryCore, ObservationRecord
from .records import object_id_str, parse_object_id
from .repository import APPLICATION_ID, SCHEMA_VERSION, Store, keyframe_ref

__all__ = ["AbsenceConfig", "AssociationConfig", "EventConfig", "MemoryConfig", "RetentionConfig",
           "StalenessConfig", "StoreConfig", "ForgetResult", "MemoryCore", "ObservationRecord",
           "object_id_str", "parse_object_id", "APPLICATION_ID", "SCHEMA_VERSION", "Store", "keyframe_ref"]
