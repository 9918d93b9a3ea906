"""The four-room strip the belief tests share (FakeMemory worlds): rooms along x, seven places, a clock."""
from __future__ import annotations

H = 3600 * 10**9
NOW = 1715871600 * 10**9            # Thursday 2024-05-16 15:00 UTC
ROOMS = {0: "kitchen", 1: "living room", 2: "bedroom", 3: "office"}
PLACES = {0: (0, 0, 0), 1: (3, 0, 0), 2: (8, 0, 1), 3: (11, 0, 1), 4: (16, 0, 2), 5: (19, 0, 2), 6: (25, 0, 3)}


def room_of(x, y):
    return 0 if x < 5 else 1 if x < 13.5 else 2 if x < 22 else 3
