"""One benchmark run: build the homes, generate the questions, let every agent answer, score, summarise."""
from __future__ import annotations

import dataclasses
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from memory_nodes.common.config import config_from_dict, load_node_params
from memory_nodes.common.errors import ConfigError

from .agents import AGENTS, ExploreOnlyAgent, OracleAgent, PlannerAgent, planner_variant
from .config import CATEGORIES, REPO_ROOT, LaeqaConfig
from .harness import HomeContext, build_memory, load_or_build_home
from .metrics import finite_or_none, mean, path_efficiency, percentile, summarize
from .phrasing import load_pool
from .questions import Question, category_quotas, generate
from .score import CANNOT_PARSE, NOT_SURE, Reply, score, text_room_agrees

NS_PER_H = 3_600_000_000_000


@dataclass
class Record:
    """One (agent, question) outcome."""
    agent: str
    question: Question
    reply: Reply
    correct: bool
    guess_correct: bool
    efficiency: float = 1.0
    text_room_ok: Optional[bool] = None          # the room the text names holds the reply's position (None: n/a)


@dataclass
class RunResult:
    seeds: List[int]
    days: int
    questions: List[Question]
    records: List[Record]
    parse_ok: Dict[str, Optional[bool]]          # qid -> parse matched the reference (None: no reference)
    timings_s: Dict[str, float] = field(default_factory=dict)
    homes: List[Dict[str, Any]] = field(default_factory=list)


def _node_section(name_candidates: Sequence[str], filename: str, cls) -> Any:
    """A core config from config/<filename> if present (only the dataclass's own sections), else defaults."""
    path = REPO_ROOT / "config" / filename
    if not path.is_file():
        return cls()
    known = {f.name for f in dataclasses.fields(cls)}
    for node in name_candidates:
        params = load_node_params(path, node)
        if params:
            return config_from_dict(cls, {k: v for k, v in params.items() if k in known})
    return cls()


def load_stack_configs():
    """(PlannerConfig, MemoryConfig, SimConfig) as the repo's config files set them."""
    from memory_nodes.memory import MemoryConfig
    from memory_nodes.planner.config import PlannerConfig
    from sim.config import load_sim_config
    return (_node_section(("planner_node", "planner"), "planner.yaml", PlannerConfig),
            _node_section(("memory_node", "memory"), "memory.yaml", MemoryConfig),
            load_sim_config())


def apply_overrides(cfg: Any, overrides: Dict[str, Any]) -> Any:
    """Set ``section.name`` keys (fitted values) on a nested config dataclass."""
    for key, value in overrides.items():
        obj = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            obj = getattr(obj, p)
        if not hasattr(obj, parts[-1]):
            raise ConfigError(f"fitted override {key!r}: no such planner setting")
        setattr(obj, parts[-1], type(getattr(obj, parts[-1]))(value))
    cfg.validate()
    return cfg


def run_benchmark(cfg: LaeqaConfig, seeds: Sequence[int], days: int, n_questions: int, vocab,
                  agents: Sequence[str] = AGENTS, calibrator=None, progress=None,
                  cache_dir: Optional[Path] = None, min_out_of_scope: int = 0) -> RunResult:
    """Run the agents on ``n_questions`` questions spread over homes ``seeds`` after ``days`` days."""
    planner_cfg, memory_cfg, sim_cfg = load_stack_configs()
    if cfg.fitted.planner_overrides:
        planner_cfg = apply_overrides(planner_cfg, cfg.fitted.planner_overrides)
    pools = {"dev": load_pool("dev"), "test": load_pool("test")}
    sc = cfg.scoring
    tol = {"last_seen": int(sc.last_seen_tolerance_h * NS_PER_H), "since": int(sc.since_tolerance_h * NS_PER_H),
           "forecast": int(sc.forecast_tolerance_h * NS_PER_H)}
    budget = cfg.agents.budget_m
    made = {
        "memory_only": lambda: PlannerAgent("memory_only", planner_variant(planner_cfg, "memory_only"), vocab, 0.0,
                                            calibrator),
        "latest_map": lambda: PlannerAgent("latest_map", planner_variant(planner_cfg, "latest_map"), vocab, 0.0,
                                           calibrator),
        "voi": lambda: PlannerAgent("voi", planner_variant(planner_cfg, "voi"), vocab, budget, calibrator),
        "oracle": lambda: OracleAgent(),
    }
    agent_objs: Dict[str, Any] = {a: made[a]() for a in agents if a in made}
    if "explore_only" in agents:
        parser = agent_objs["voi"].planner if "voi" in agent_objs else \
            PlannerAgent("parser", planner_cfg, vocab, 0.0).planner
        agent_objs["explore_only"] = ExploreOnlyAgent(parser, budget)
    order = [a for a in AGENTS if a in agent_objs]
    # questions per home (the out-of-scope floor applies to the whole run)
    per_home = [n_questions // len(seeds) + (1 if i < n_questions % len(seeds) else 0) for i in range(len(seeds))]
    total_quota = category_quotas(n_questions, cfg.generator.category_weights, min_out_of_scope)
    quotas = _split_quotas(total_quota, per_home)
    timings: Dict[str, float] = defaultdict(float)
    questions: List[Question] = []
    records: List[Record] = []
    parse_ok: Dict[str, Optional[bool]] = {}
    homes_info: List[Dict[str, Any]] = []
    for seed, n_home, quota in zip(seeds, per_home, quotas):
        t0 = time.perf_counter()
        home, cached = load_or_build_home(seed, days, sim_cfg, cfg.observation, vocab, cache_dir)
        t1 = time.perf_counter()
        mem = build_memory(home, memory_cfg, vocab)
        t2 = time.perf_counter()
        hc = HomeContext(home, mem, _vm(home, cfg), cfg.observation, build_s=t1 - t0, ingest_s=t2 - t1,
                         cached=cached)
        timings["build_homes_s"] += t1 - t0
        timings["build_memory_s"] += t2 - t1
        qs = generate(home.truth, n_home, days - 1, home.first_patrol_ns, pools, cfg.generator, tol, seed,
                      quotas=quota, last_patrol_end_ns=home.last_patrol_end_ns)
        questions += qs
        timings["generate_s"] += time.perf_counter() - t2
        homes_info.append({"seed": seed, "days": days, "frames_used": home.frames_used,
                           "observations": home.observations, "perception_cached": cached,
                           "memory": mem.stats(), "questions": len(qs), "rooms": room_figures(home)})
        for qi, q in enumerate(qs):
            oracle_path = None
            for name in order:
                ta = time.perf_counter()
                r = agent_objs[name].answer(q, hc, qi)
                timings[f"agent_{name}_s"] += time.perf_counter() - ta
                ok, g = score(r, q, home.sim.world, home.truth.canon, cfg.scoring.set_min_f1)
                if name == "oracle":
                    oracle_path = r.path_m
                records.append(Record(name, q, r, ok, g, text_room_ok=text_room_agrees(r, home.sim.world)))
                if name == "voi" or (name == "memory_only" and q.qid not in parse_ok):
                    parse_ok[q.qid] = r.parse_ok
            for rec in records[-len(order):]:
                rec.efficiency = path_efficiency(oracle_path if oracle_path is not None else 0.0, rec.reply.path_m)
            if progress:
                progress(q, records[-len(order):])
    return RunResult(list(seeds), days, questions, records, parse_ok, dict(timings), homes_info)


def room_figures(home) -> Dict[str, Optional[float]]:
    """The rooms memory was given (the last segmentation of the patrols) against the true layout, as
    bench.perception scores them: coverage (share of the true floor that has a room) beside agreement
    (on the covered cells only) and label accuracy. Empty when no segmentation was fed."""
    seg = next((o.rooms for o in reversed(home.outputs) if o.rooms is not None), None)
    if seg is None:
        return {}
    from bench.perception import room_scores
    sc = room_scores(home.sim, seg)
    return {k: finite_or_none(sc.get(k)) for k in ("room_coverage", "room_agreement", "room_label_accuracy")}


def _vm(home, cfg: LaeqaConfig):
    from .observe import VisibilityModel
    sc = home.sim.config
    return VisibilityModel(home.sim.world, sc.robot, sc.camera, cfg.observation)


def _split_quotas(total: Dict[str, int], per_home: Sequence[int]) -> List[Dict[str, int]]:
    """Deal the run's category quotas out to the homes (round robin, each home gets its share)."""
    out = [dict.fromkeys(CATEGORIES, 0) for _ in per_home]
    left = list(per_home)
    h = 0
    for cat in CATEGORIES:
        for _ in range(total.get(cat, 0)):
            for _ in range(len(per_home)):
                if left[h] > 0:
                    break
                h = (h + 1) % len(per_home)
            out[h][cat] += 1
            left[h] -= 1
            h = (h + 1) % len(per_home)
    return out


# ----------------------------------------------------------------------------------------------------
# summary
# ----------------------------------------------------------------------------------------------------
def summarize_run(res: RunResult, cfg: LaeqaConfig) -> Dict[str, Any]:
    by_agent: Dict[str, List[Record]] = defaultdict(list)
    for r in res.records:
        by_agent[r.agent].append(r)
    nb = cfg.scoring.ece_bins
    agents: Dict[str, Any] = {}
    for name in AGENTS:
        recs = by_agent.get(name)
        if not recs:
            continue
        block = _block(recs, nb)
        cats = {}
        for cat in CATEGORIES:
            rs = [r for r in recs if r.question.category == cat]
            if rs:
                b = _block(rs, nb)
                cats[cat] = {k: b[k] for k in ("accuracy", "n", "not_sure_rate", "path_m", "path_efficiency",
                                               "path_efficiency_driven", "driven_share", "raw_brier",
                                               "base_rate_brier", "brier")}
        block["by_category"] = cats
        pools = {}
        for pool in ("dev", "test"):
            rs = [r for r in recs if r.question.pool == pool]
            if rs:
                pools[pool] = {"accuracy": finite_or_none(sum(r.correct for r in rs) / len(rs)), "n": len(rs)}
        block["by_pool"] = pools
        kinds = {}
        for k in sorted({r.question.kind for r in recs}):
            rs = [r for r in recs if r.question.kind == k]
            kinds[k] = {"accuracy": finite_or_none(sum(r.correct for r in rs) / len(rs)), "n": len(rs)}
        block["by_kind"] = kinds
        block["memory_reads_mean"] = finite_or_none(mean([r.reply.memory_reads for r in recs]), 2)
        walls = [r.reply.wall_s * 1000.0 for r in recs]
        block["wall_ms_mean"] = finite_or_none(mean(walls), 2)
        block["wall_ms_p95"] = finite_or_none(percentile(walls, 95), 2)
        block["looks_mean"] = finite_or_none(mean([r.reply.looks for r in recs]), 2)
        block["confidence_histogram"] = _histogram([r.reply.probability for r in recs
                                                    if r.reply.probability is not None], nb)
        agents[name] = block
    parse = {}
    for pool in ("dev", "test"):
        vals = [v for q in res.questions if q.pool == pool for v in [res.parse_ok.get(q.qid)] if v is not None]
        parse[pool] = finite_or_none(sum(vals) / len(vals)) if vals else None
        parse[f"{pool}_n"] = len(vals)
    unsupported = [q for q in res.questions if not q.expected.get("kinds")]
    mo = [r for r in by_agent.get("memory_only", [])]
    lat = [r.reply.wall_s * 1000.0 for r in mo if r.reply.status != CANNOT_PARSE]
    rooms = [h["rooms"] for h in res.homes if h.get("rooms")]
    out = {
        "agents": agents,
        "rooms": {k: finite_or_none(mean([r[k] for r in rooms if r.get(k) is not None]))
                  for k in ("room_coverage", "room_agreement", "room_label_accuracy")} if rooms else {},
        "parse": parse,
        "memory_only_latency_p95_ms": finite_or_none(percentile(lat, 95), 2),
        "questions": len(res.questions),
        "questions_by_category": {c: sum(1 for q in res.questions if q.category == c) for c in CATEGORIES},
        "unsupported_kind_questions": len(unsupported),
        "homes": res.homes,
        "seeds": res.seeds,
        "days": res.days,
        "observation_model": cfg.observation.model,
        # rendered: the pipeline cuts its rooms from the rendered depth (observation.rooms_source is the emulator's)
        "rooms_source": "perception" if cfg.observation.model == "rendered" else cfg.observation.rooms_source,
        "budget_m": cfg.agents.budget_m,
        "timings_s": {k: round(v, 3) for k, v in res.timings_s.items()},
    }
    return out


def _block(recs: List[Record], n_bins: int) -> Dict[str, Any]:
    return summarize([r.correct for r in recs], [r.guess_correct for r in recs],
                     [r.reply.probability for r in recs], [r.reply.status == NOT_SURE for r in recs],
                     [r.reply.path_m for r in recs], [r.efficiency for r in recs], n_bins,
                     raw_probs=[r.reply.raw_probability for r in recs],
                     text_room_ok=[r.text_room_ok for r in recs])


def _histogram(probs: Sequence[float], n_bins: int) -> List[int]:
    """Counts of stated probabilities in ``n_bins`` equal bins of [0, 1] (as the ECE bins them)."""
    out = [0] * n_bins
    for p in probs:
        out[min(n_bins - 1, max(0, math.ceil(min(1.0, max(0.0, p)) * n_bins) - 1))] += 1
    return out
