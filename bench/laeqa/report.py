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
    head = ["agent", "acc", "sel.acc", "not sure", "path m", "path eff", "eff driven (share)", "Brier",
            "raw Brier", "base-rate Brier", "ECE", "conf std", "text/room mismatch", "mem reads", "ms/q"]
    head += [_SHORT[c] for c in CATEGORIES]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * len(head)) + "|")
    for a in agents:
        b = s["agents"][a]
        row = [a, _f(b["accuracy"], pct=True), _f(b["selective_accuracy"], pct=True), _f(b["not_sure_rate"], pct=True),
               _f(b["path_m"], 1), _f(b["path_efficiency"]),
               f"{_f(b.get('path_efficiency_driven'))} ({_f(b.get('driven_share'), pct=True)})",
               _f(b["brier"], 3), _f(b.get("raw_brier"), 3), _f(b.get("base_rate_brier"), 3), _f(b["ece"], 3),
               _f(b.get("confidence_std"), 3),
               f"{_f(b.get('text_room_mismatch_rate'), pct=True)} ({b.get('text_room_named_n', 0)})",
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
    rm = s.get("rooms") or {}
    if rm:
        lines.append(f"Rooms memory was given ({s['rooms_source']}): coverage {_f(rm.get('room_coverage'))} of the "
                     f"true floor, agreement {_f(rm.get('room_agreement'))} on the covered cells, labels "
                     f"{_f(rm.get('room_label_accuracy'), pct=True)} right.")
    if s.get("fitted"):
        lines.append(f"Fitted values applied: {s['fitted']}.")
    if wall_s is not None:
        lines.append(f"Wall time: {wall_s:.1f} s.")
    return "\n".join(lines)


BASELINES = ("memory_only", "latest_map", "explore_only")
_CATEGORY_FLOOR = {"present": 0.90, "past_present": 0.70, "past_present_future": 0.70}


def _line(ok: bool, name: str, text: str) -> str:
    return f"{'PASS' if ok else 'FAIL'} {name}: {text}"


def goals_check(s: Dict[str, Any]) -> List[str]:
    """The goals (issues 8 and 19), each with the figures and PASS/FAIL, for what the run has agents for.
    voi goes against the strongest baseline of each category (not the weaker memory baseline), and against
    absolute floors: overall >= 85 %, present >= 90 %, change and forecast >= 70 %, a path <= 2x the
    oracle's, path efficiency >= 0.7 over the questions where it drives, a raw probability that beats the
    base rate, no answer whose text names a room its position is not in, ECE <= 0.05, and confidences that
    spread (std >= 0.12)."""
    a = s["agents"]
    out: List[str] = []
    if "voi" not in a:
        return out
    v = a["voi"]
    base = [n for n in BASELINES if n in a]
    for cat in CATEGORIES:
        vc = v["by_category"].get(cat)
        if not vc or cat == "out_of_scope":
            continue
        rivals = [(a[n]["by_category"][cat]["accuracy"] or 0.0, n) for n in base if cat in a[n]["by_category"]]
        parts = [f"voi {_f(vc['accuracy'], pct=True)} (n={vc['n']})"]
        ok = True
        if rivals:
            best, who = max(rivals)
            parts.append(f"strongest baseline {who} {_f(best, pct=True)}")
            ok = (vc["accuracy"] or 0.0) >= best - 0.02
        floor = _CATEGORY_FLOOR.get(cat)
        if floor is not None:
            parts.append(f"goal >= {100 * floor:.0f}% and at least the strongest baseline within 2 points")
            ok = ok and (vc["accuracy"] or 0.0) >= floor
        else:
            parts.append("goal: at least the strongest baseline within 2 points")
        out.append(_line(ok, _SHORT[cat], ", ".join(parts)))
    out.append(_line((v["accuracy"] or 0.0) >= 0.85, "overall", f"voi {_f(v['accuracy'], pct=True)} (goal >= 85%)"))
    if "memory_only" in a and "latest_map" in a:
        m, lm = a["memory_only"]["accuracy"] or 0.0, a["latest_map"]["accuracy"] or 0.0
        out.append(_line(m >= lm + 0.05, "memory model", f"memory-only {_f(m, pct=True)} vs latest-map "
                         f"{_f(lm, pct=True)} (goal: >= 5 points better: staleness, absences, habits pay)"))
    if "oracle" in a:
        o = a["oracle"]["path_m"] or 0.0
        out.append(_line((v["path_m"] or 0.0) <= 2.0 * o + 1e-9, "path",
                         f"voi {_f(v['path_m'], 1)} m vs oracle {_f(o, 1)} m (goal <= 2x)"))
    ped = v.get("path_efficiency_driven")
    out.append(_line(ped is None or ped >= 0.7, "path efficiency where it drives",
                     f"voi {_f(ped)} over the {_f(v.get('driven_share'), pct=True)} of questions it drives "
                     f"(overall {_f(v['path_efficiency'])}; goal >= 0.7)"))
    if v.get("raw_brier") is not None and v.get("base_rate_brier") is not None:
        out.append(_line(v["raw_brier"] <= v["base_rate_brier"] - 0.02, "raw probability",
                         f"voi raw Brier {v['raw_brier']:.3f} vs always the base rate {v['base_rate_brier']:.3f} "
                         f"(goal: at least 0.02 below)"))
    out.append(_line((v.get("text_room_mismatch_rate") or 0.0) <= 0.0, "text names the position's room",
                     f"voi {_f(v.get('text_room_mismatch_rate'), pct=True)} mismatched of "
                     f"{v.get('text_room_named_n', 0)} answers naming a room (goal 0)"))
    if v["ece"] is not None:
        floor = v.get("ece_noise_floor")
        note = (f"; a perfectly calibrated agent would show {floor:.3f} from sampling noise alone with "
                f"{v.get('calibration_n')} answers" if floor is not None else "")
        out.append(_line(v["ece"] <= 0.05, "calibration", f"voi ECE {v['ece']:.3f} (goal <= 0.05{note})"))
    if v.get("confidence_std") is not None:
        out.append(_line(v["confidence_std"] >= 0.12, "confidence spread",
                         f"voi std {v['confidence_std']:.3f} (goal >= 0.12: confidences that say how sure)"))
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
