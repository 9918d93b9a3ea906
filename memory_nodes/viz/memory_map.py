"""Top-down PNG of the memory: rooms, places and their edges, remembered objects (fresh vs stale), and the
route driven for each active question."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from memory_nodes.common.types import PlaceGraph, RoomSegmentation


@dataclass
class RememberedObject:
    label: str
    position_m: np.ndarray          # (3,)
    p_still_there: float            # [0, 1]; fresh >= stale_below
    last_seen_ns: int = 0
    furniture: bool = False         # drawn as grey squares, not judged fresh or stale


@dataclass
class Route:
    label: str                      # e.g. the question
    xy_m: np.ndarray                # (N, 2) positions driven, in order


@dataclass
class MapPicture:
    rooms: Optional[RoomSegmentation] = None
    places: Optional[PlaceGraph] = None
    objects: List[RememberedObject] = field(default_factory=list)
    routes: List[Route] = field(default_factory=list)
    title: str = ""
    stale_below: float = 0.5


def render_memory_map(pic: MapPicture, out_path: str | Path, dpi: int = 110) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 7.5))
    if pic.rooms is not None and pic.rooms.room_map.size:
        rm = pic.rooms.room_map
        res = pic.rooms.resolution_m
        ox, oy = pic.rooms.origin_xy_m
        extent = (ox, ox + rm.shape[1] * res, oy, oy + rm.shape[0] * res)
        masked = np.ma.masked_less(rm.astype(float), 0)
        ax.imshow(masked, origin="lower", extent=extent, cmap="Pastel1", alpha=0.85, interpolation="nearest")
        for r in pic.rooms.rooms:
            ax.text(r.centroid_m[0], r.centroid_m[1], f"{r.label}\n({r.label_confidence:.2f})", ha="center",
                    va="center", fontsize=8, color="0.25", alpha=0.9)
    if pic.places is not None and pic.places.places:
        pos = {p.place_id: p.position_m for p in pic.places.places}
        for a, b in pic.places.edges:
            if a in pos and b in pos:
                ax.plot([pos[a][0], pos[b][0]], [pos[a][1], pos[b][1]], color="0.6", lw=0.8, zorder=2)
        xy = np.array([p.position_m[:2] for p in pic.places.places])
        ax.scatter(xy[:, 0], xy[:, 1], s=14, c="0.35", zorder=3, label="places")
    furniture = [o for o in pic.objects if o.furniture]
    if furniture:
        xy = np.array([o.position_m[:2] for o in furniture])
        ax.scatter(xy[:, 0], xy[:, 1], s=22, c="0.55", marker="s", zorder=3, label="furniture")
        for o in furniture:
            ax.annotate(o.label, (o.position_m[0], o.position_m[1]), fontsize=5, xytext=(2, -6),
                        textcoords="offset points", color="0.45", zorder=3)
    small = [o for o in pic.objects if not o.furniture]
    if small:
        fresh = [o for o in small if o.p_still_there >= pic.stale_below]
        stale = [o for o in small if o.p_still_there < pic.stale_below]
        for group, colour, marker, name in ((fresh, "tab:green", "o", "objects (fresh)"),
                                            (stale, "tab:red", "x", "objects (stale)")):
            if group:
                xy = np.array([o.position_m[:2] for o in group])
                ax.scatter(xy[:, 0], xy[:, 1], s=28, c=colour, marker=marker, zorder=4, label=name)
                for o in group:
                    ax.annotate(o.label, (o.position_m[0], o.position_m[1]), fontsize=6, xytext=(3, 3),
                                textcoords="offset points", color=colour, zorder=5)
    colours = ["tab:blue", "tab:purple", "tab:orange", "tab:cyan", "tab:brown", "tab:pink"]
    for i, route in enumerate(pic.routes):
        if len(route.xy_m) >= 1:
            c = colours[i % len(colours)]
            xy = route.xy_m
            ax.plot(xy[:, 0], xy[:, 1], color=c, lw=2.2, zorder=6, label=f"route: {route.label}"[:60])
            ax.scatter([xy[0, 0]], [xy[0, 1]], marker="s", c=c, s=40, zorder=7)
            ax.scatter([xy[-1, 0]], [xy[-1, 1]], marker="*", c=c, s=90, zorder=7)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m, map)")
    ax.set_ylabel("y (m, map)")
    if pic.title:
        ax.set_title(pic.title, fontsize=10)
    ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def routes_from_poses(label: str, poses_xy: Sequence[Tuple[float, float]], min_step_m: float = 0.05) -> Route:
    """Thin a stream of (x, y) poses into a route polyline."""
    pts: List[Tuple[float, float]] = []
    for x, y in poses_xy:
        if not pts or (x - pts[-1][0]) ** 2 + (y - pts[-1][1]) ** 2 >= min_step_m ** 2:
            pts.append((float(x), float(y)))
    return Route(label, np.array(pts, dtype=float).reshape(-1, 2))
