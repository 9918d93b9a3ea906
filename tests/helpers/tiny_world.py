"""A small home (3 rooms, 14 objects) for tests that need the simulator's world fast."""
from __future__ import annotations

from sim.config import load_sim_config


def tiny_sim_config(seed: int = 3):
    cfg = load_sim_config(seed=seed)
    cfg.world.room_types = ["kitchen", "living_room", "bedroom"]
    cfg.world.num_objects = 14
    cfg.world.num_new_objects = 0
    return cfg
