"""Top-down picture of a world at a given day: rooms, doors, furniture, objects by class, the robot's patrol.

    python -m sim.topdown --seed 0 --day 2 --out topdown.png [--time 10:00] [--config config/sim.yaml]

Objects are drawn where the ground truth has them at the given time of day (default: the patrol start);
the day's patrol path is overlaid, with its stops.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Optional

from .config import load_sim_config
from .simulator import Simulator


def _parse_time_of_day(s: str) -> float:
    parts = [float(p) for p in s.split(":")]
    while len(parts) < 3:
        parts.append(0.0)
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def render_topdown(sim: Simulator, day: int, out: str | Path, time_of_day_s: Optional[float] = None,
                   dpi: int = 110) -> Path:
    """Write the PNG; returns its path. Needs matplotlib (imported lazily, Agg backend)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon, Rectangle

    from .render.geometry import FLOOR_RGB

    w = sim.world
    cal = sim.calendar
    tod = sim.config.patrol.start_time_of_day_s if time_of_day_s is None else time_of_day_s
    t = cal.stamp_ns(day, tod)
    states = sim.object_states(t)
    plan = sim.patrol_plan(day)
    W, H = w.size_xy_m
    fig, ax = plt.subplots(figsize=(max(6.0, W * 0.75), max(4.5, H * 0.75)))
    for r in w.rooms:
        ax.add_patch(Polygon(r.polygon_xy_m, closed=True, facecolor=FLOOR_RGB.get(r.room_type, (0.7, 0.7, 0.7)),
                             alpha=0.35, edgecolor="none"))
        cx, cy = r.center_xy_m
        ax.text(cx, r.max_xy_m[1] - 0.35, f"{r.name} ({r.room_id})", ha="center", va="top", fontsize=8,
                color="0.2", weight="bold")
    for wb in w.walls:
        ax.add_patch(Rectangle((wb.center_m[0] - wb.half_m[0], wb.center_m[1] - wb.half_m[1]),
                               2 * wb.half_m[0], 2 * wb.half_m[1], facecolor="0.25", edgecolor="none"))
    for d in w.doors:
        if d.room_b == -1:
            ax.plot([d.center_xy_m[0]] * 2, [d.center_xy_m[1] - d.width_m / 2, d.center_xy_m[1] + d.width_m / 2],
                    color=(0.55, 0.35, 0.2), lw=4)
    fposes = sim.furniture_poses(t)
    for f in w.furniture:
        x, y, yaw = fposes[f.furniture_id]
        hw, hd = f.width_m / 2, f.depth_m / 2
        c, s = math.cos(yaw), math.sin(yaw)
        pts = [(x + c * lx - s * ly, y + s * lx + c * ly) for lx, ly in ((-hw, -hd), (hw, -hd), (hw, hd), (-hw, hd))]
        ax.add_patch(Polygon(pts, closed=True, facecolor=f.rgb, edgecolor="0.3", lw=0.6,
                             alpha=0.9 if f.receptacle else 0.6))
        ax.text(x, y, f.class_name.replace("_", "\n"), ha="center", va="center", fontsize=5, color="0.1")
    cmap = plt.get_cmap("tab20")
    classes = w.object_classes()
    colour_of = {c: cmap(i % 20) for i, c in enumerate(classes)}
    markers = "o^sDvP*Xh<>"
    seen = set()
    for o in w.objects:
        st = states[o.object_id]
        if not st.present:
            continue
        k = classes.index(o.class_name)
        ax.scatter([st.position_m[0]], [st.position_m[1]], s=22, color=colour_of[o.class_name],
                   marker=markers[k // 20 % len(markers)], edgecolors="k", linewidths=0.4, zorder=5,
                   label=o.class_name if o.class_name not in seen else None)
        seen.add(o.class_name)
    path = plan.trajectory.path_xy()
    if path:
        xs, ys = zip(*path)
        ax.plot(xs, ys, "-", color="crimson", lw=1.4, alpha=0.8, zorder=6, label="patrol path")
        ax.scatter([s[0] for s in plan.stops], [s[1] for s in plan.stops], marker="x", color="crimson", s=40,
                   zorder=7, label="patrol stops")
    dx, dy, dyaw = w.dock_pose
    ax.annotate("", xy=(dx + 0.5 * math.cos(dyaw), dy + 0.5 * math.sin(dyaw)), xytext=(dx, dy),
                arrowprops=dict(arrowstyle="->", color="k", lw=1.5), zorder=8)
    ax.text(dx, dy - 0.3, "dock", fontsize=7, ha="center")
    ax.set_xlim(-0.3, W + 0.3)
    ax.set_ylim(-0.3, H + 0.3)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    hh, mm = int(tod // 3600), int(tod // 60 % 60)
    ax.set_title(f"seed {w.seed}, day {day}: {cal.weekday_name(day)} {cal.date(day).isoformat()} {hh:02d}:{mm:02d}"
                 f" - {sum(1 for s in states.values() if s.present)} objects, patrol covers "
                 f"{plan.covered_area_fraction:.0%} of the home", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6, ncol=1, frameon=False)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Top-down PNG of a simulated home at a given day.")
    ap.add_argument("--seed", type=int, default=None, help="world seed (default: config world.seed)")
    ap.add_argument("--day", type=int, default=0)
    ap.add_argument("--time", default=None, help="time of day HH[:MM[:SS]] (default: patrol start)")
    ap.add_argument("--config", default=None, help="params file (default: config/sim.yaml)")
    ap.add_argument("--out", default="topdown.png")
    a = ap.parse_args(argv)
    sim = Simulator(load_sim_config(a.config, seed=a.seed))
    tod = _parse_time_of_day(a.time) if a.time else None
    out = render_topdown(sim, a.day, a.out, tod)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
