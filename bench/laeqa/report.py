"""The markdown table and the accuracy-vs-path plot of a run summary."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from .agents import AGENTS
from .config import CATEGORIES

_SHORT = {"present": "present", "past": "past", "multi_past": "multi-past", "past_present": "past-pres",
          "past_present_future": "forecast", "out_of_scope": "out-of-scope"}


def _f(v: Optional[float], digits: int = 2, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.0f}%" if pct else f"{v:.{digits}f}"


def markdown_table(s: Dict[str, Any], wall_s: Optional[float] = None) -> str:
    agents = [a for a in AGENTS if a in s["agents"]]
    lines: List[str] = []
    homes = ", ".join(str(h) for h in s["seeds"])
    lines.append(f"LA-EQA benchmark: {s['questions']} questions, homes [{homes}], {s['days']} day(s) of patrol, "
                 f"observation model: {s['observation_model']} (rooms: {s['rooms_source']}), "
                 f"budget {s['budget_m']:.0f} m")
    lines.append("")
    head = ["agent", "acc", "sel.acc", "not sure", "path m", "path eff", "Brier", "ECE", "mem reads", "ms/q"]
    head += [_SHORT[c] for c in CATEGORIES]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * len(head)) + "|")
    for a in agents:
        b = s["agents"][a]
        row = [a, _f(b["accuracy"], pct=True), _f(b["selective_accuracy"], pct=True), _f(b["not_sure_rate"], pct=True),
               _f(b["path_m"], 1), _f(b["path_efficiency"]), _f(b["brier"], 3), _f(b["ece"], 3),
               _f(b["memory_reads_mean"], 1), _f(b["wall_ms_mean"], 1)]
        for c in CATEGORIES:
            cb = b["by_category"].get(c)
            row.append(f"{_f(cb['accuracy'], pct=True)} ({cb['n']})" if cb else "-")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    p = s["parse"]
    lines.append(f"Parse accuracy: dev pool {_f(p.get('dev'), pct=True)} (n={p.get('dev_n')}), "
                 f"test pool {_f(p.get('test'), pct=True)} (n={p.get('test_n')}); "
                 f"{s['unsupported_kind_questions']} question(s) of kinds no planner kind covers (scored as asked). "
                 f"Memory-only latency p95: {_f(s['memory_only_latency_p95_ms'], 1)} ms.")
    if s.get("fitted"):
        lines.append(f"Fitted values applied: {s['fitted']}.")
    if wall_s is not None:
        lines.append(f"Wall time: {wall_s:.1f} s.")
    return "\n".join(lines)


def goals_check(s: Dict[str, Any]) -> List[str]:
    """The issue's goals, each with the figures and PASS/FAIL (only what the run has the agents for)."""
    a = s["agents"]
    out = []
    if "voi" in a and "memory_only" in a:
        v, m = a["voi"]["by_category"].get("present"), a["memory_only"]["by_category"].get("present")
        if v and m:
            d = v["accuracy"] - m["accuracy"]
            out.append(f"{'PASS' if d >= 0.2 else 'FAIL'} present: voi {_f(v['accuracy'], pct=True)} vs memory-only "
                       f"{_f(m['accuracy'], pct=True)} (+{100 * d:.0f} points, goal >= 20)")
    if "voi" in a and "explore_only" in a:
        v, e = a["voi"], a["explore_only"]
        ok = v["accuracy"] >= e["accuracy"] - 0.02
        out.append(f"{'PASS' if ok else 'FAIL'} accuracy: voi {_f(v['accuracy'], pct=True)} vs explore-only "
                   f"{_f(e['accuracy'], pct=True)} (goal: at least as good)")
        if e["path_m"]:
            ok = v["path_m"] <= 0.5 * e["path_m"]
            out.append(f"{'PASS' if ok else 'FAIL'} path: voi {_f(v['path_m'], 1)} m vs explore-only "
                       f"{_f(e['path_m'], 1)} m (goal <= half)")
        ok = (v["path_efficiency"] or 0) >= 0.8
        out.append(f"{'PASS' if ok else 'FAIL'} path efficiency: voi {_f(v['path_efficiency'])} (goal >= 0.8)")
    if "voi" in a and a["voi"]["ece"] is not None:
        e = a["voi"]["ece"]
        floor = a["voi"].get("ece_noise_floor")
        note = (f"; a perfectly calibrated agent would show {floor:.3f} from sampling noise alone with "
                f"{a['voi'].get('calibration_n')} answers" if floor is not None else "")
        out.append(f"{'PASS' if e <= 0.05 else 'FAIL'} calibration: voi ECE {e:.3f} (goal <= 0.05{note})")
    return out


def plot(s: Dict[str, Any], path: Path) -> Optional[Path]:
    """Accuracy against mean path length, one point per agent (matplotlib, Agg)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=110)
    for a in AGENTS:
        b = s["agents"].get(a)
        if not b or b["accuracy"] is None:
            continue
        ax.scatter([b["path_m"] or 0.0], [100 * b["accuracy"]], s=60)
        ax.annotate(a, (b["path_m"] or 0.0, 100 * b["accuracy"]), textcoords="offset points", xytext=(6, 4))
    ax.set_xlabel("mean path per question (m)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"LA-EQA: {s['questions']} questions, {len(s['seeds'])} home(s) x {s['days']} day(s)")
    ax.grid(alpha=0.3)
    ax.set_ylim(0, 105)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
