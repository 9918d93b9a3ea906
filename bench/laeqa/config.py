"""Typed configuration of the LA-EQA benchmark, read from config/laeqa.yaml (``laeqa: ros__parameters:``).

Sections: ``run`` (what to run: homes, days, questions), ``generator`` (the question mix and ask moments),
``scoring`` (tolerances, calibration bins), ``observation`` (the visibility-based observation model),
``agents`` (budgets of the exploring agents) and ``fitted`` (values fitted on the dev seeds only).
Units are in the names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from memory_nodes.common.config import config_from_dict, load_node_params
from memory_nodes.common.errors import ConfigError

NODE_NAME = "laeqa"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "laeqa.yaml"
DATA_DIR = REPO_ROOT / "bench" / "laeqa_data"

CATEGORIES = ("present", "past", "multi_past", "past_present", "past_present_future", "out_of_scope")


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise ConfigError(what)


@dataclass
class RunConfig:
    """What one run covers. ``full`` and ``quick`` are the two sizes of `python -m bench.laeqa`."""
    dev_seeds: List[int] = field(default_factory=lambda: [101, 102, 103])   # homes whose numbers may be fitted on
    test_seeds: List[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])  # default homes of a full run
    quick_seed: int = 13                     # the home of --quick (a fresh test seed: nothing is fitted or tuned on it)
    full_days: int = 7                       # days of patrol before the questions (full run)
    full_questions: int = 200                # in all, split evenly over the homes
    quick_days: int = 2
    quick_questions: int = 48
    cache_dir: str = "data/laeqa_cache"          # memory snapshots per (seed, day, config hash); "" = no disk cache
    plot: bool = True                        # write the accuracy-vs-path PNG with --out

    def validate(self) -> None:
        _check(self.full_days >= 1 and self.quick_days >= 1, "run.*_days must be >= 1")
        _check(self.full_questions >= 1 and self.quick_questions >= 1, "run.*_questions must be >= 1")
        _check(bool(self.test_seeds), "run.test_seeds must not be empty")
        overlap = set(self.dev_seeds) & (set(self.test_seeds) | {self.quick_seed})
        _check(not overlap, f"run: seeds {sorted(overlap)} are both dev and test seeds")


@dataclass
class GeneratorConfig:
    """The question mix (weights per category, normalised) and the moments questions are asked at."""
    category_weights: Dict[str, float] = field(default_factory=lambda: {
        "present": 0.36, "past": 0.18, "multi_past": 0.1, "past_present": 0.12, "past_present_future": 0.08,
        "out_of_scope": 0.16})
    min_out_of_scope_full: int = 50          # the full run carries at least this many out-of-scope questions
    # h of the last patrol day (>= 24: the next morning, before its patrol); never before the patrol ended
    ask_hours: List[float] = field(default_factory=lambda: [13.0, 16.5, 19.0, 21.5, 31.5])
    test_pool_fraction: float = 0.5          # share of questions phrased from the test pool
    typo_rate: float = 0.25                  # share of test-pool questions that get a typo
    habit_min_share: float = 0.6             # a "usually" question only when one room holds this share of time
    forecast_horizon_h: float = 30.0         # forecasts look this far past the question
    moved_min_distance_m: float = 0.5        # "did X move": displacement that counts as a move
    present_changed_fraction: float = 0.5    # share of present-state questions about something that changed
                                             # since the robot last looked at it (the rest: drawn uniformly)

    def validate(self) -> None:
        for k, v in self.category_weights.items():
            _check(k in CATEGORIES, f"generator.category_weights: unknown category {k!r}")
            _check(v >= 0.0, f"generator.category_weights.{k} must be >= 0")
        _check(sum(self.category_weights.values()) > 0, "generator.category_weights: all zero")
        _check(all(0.0 <= h < 34.0 for h in self.ask_hours) and self.ask_hours,
               "generator.ask_hours in [0, 34) (>= 24: the next morning before the patrol at 10:00)")
        _check(0.0 <= self.test_pool_fraction <= 1.0, "generator.test_pool_fraction in [0, 1]")
        _check(0.0 <= self.typo_rate <= 1.0, "generator.typo_rate in [0, 1]")
        _check(0.5 <= self.habit_min_share <= 1.0, "generator.habit_min_share in [0.5, 1]")
        _check(self.forecast_horizon_h > 0, "generator.forecast_horizon_h > 0")
        _check(0.0 <= self.present_changed_fraction <= 1.0, "generator.present_changed_fraction in [0, 1]")


@dataclass
class ScoringConfig:
    last_seen_tolerance_h: float = 0.5       # |answer - truth| for "when did you last see X"
    since_tolerance_h: float = 1.0           # margin around [arrival, first sighting possible] for "since when"
    forecast_tolerance_h: float = 3.0        # "when will X next be in Y"
    set_min_f1: float = 0.5                  # set answers ("what is on Y", "what changed") count as right above this
    ece_bins: int = 10
    selective_min_probability: float = 0.0   # selective accuracy: answered (not NOT_SURE) above this

    def validate(self) -> None:
        _check(self.last_seen_tolerance_h > 0 and self.since_tolerance_h >= 0 and self.forecast_tolerance_h > 0,
               "scoring tolerances must be > 0")
        _check(0.0 < self.set_min_f1 <= 1.0, "scoring.set_min_f1 in (0, 1]")
        _check(self.ece_bins >= 1, "scoring.ece_bins >= 1")


@dataclass
class ObservationConfig:
    """The visibility-based observation model (instead of rendering every frame): an object is seen when
    its centre is in the camera frustum, within range and not occluded by walls or furniture; then it is
    missed / confused at the noisy oracle's rates (measured against the rendered pipeline, see README)."""
    model: str = "visibility"               # visibility (the emulator) | rendered (MuJoCo frames through the
                                            # product's perception pipeline: bench/laeqa/rendered.py, --rendered)
    frame_stride: int = 1                   # use every N-th patrol frame (1 = the camera rate)
    max_range_m: float = 6.0
    miss_prob_base: float = 0.03
    miss_prob_per_m: float = 0.04
    miss_free_distance_m: float = 1.5
    miss_prob_occlusion: float = 0.5
    miss_prob_small: float = 0.4
    small_area_px: float = 400.0            # at 640x480
    confusion_prob: float = 0.08
    confusion_pairs: List[str] = field(default_factory=lambda: [
        "mug:cup", "book:notebook", "remote_control:phone", "bowl:plate", "water_bottle:bottle", "tablet:laptop"])
    # fitted so the model's miss rates match the rendered pipeline's (python -m bench.laeqa.rates, dev seeds)
    object_miss_extra: float = 0.0          # added to a small object's miss probability
    furniture_hidden_weight: float = 1.0    # furniture cut off by the image border is missed less than occluded
    false_positive_rate: float = 0.05       # per frame (Poisson mean), as perception's oracle
    position_noise_m: float = 0.03
    view_width_px: int = 40                 # the keyframe depth image memory gets (absences)
    view_height_px: int = 30
    view_every_n_frames: int = 5            # one keyframe (View) per this many used frames
    rooms_source: str = "layout"            # layout: true room extents, labels from perception's labeler;
                                            # perception: perception's segmentation of the model's depth
    grid_every_n_frames: int = 1            # depth every n-th time the product would feed the grid
    room_grid_resolution_m: float = 0.1    # perception's room grid, coarser than its 5 cm default: the
                                            # model's depth has far fewer pixels than rendered frames
    look_yaw_steps: int = 8                 # look(): a yaw sweep in this many headings
    seed: int = 0

    def validate(self) -> None:
        _check(self.model in ("visibility", "rendered"), "observation.model must be 'visibility' or 'rendered'")
        _check(self.frame_stride >= 1 and self.view_every_n_frames >= 1, "observation strides >= 1")
        for name in ("miss_prob_base", "miss_prob_per_m", "miss_prob_occlusion", "miss_prob_small",
                     "confusion_prob"):
            v = getattr(self, name)
            _check(0.0 <= v <= 1.0, f"observation.{name} in [0, 1]")
        _check(self.max_range_m > 0 and self.small_area_px > 0, "observation ranges > 0")
        _check(self.view_width_px >= 4 and self.view_height_px >= 3, "observation.view size too small")
        _check(self.look_yaw_steps >= 1, "observation.look_yaw_steps >= 1")
        _check(self.rooms_source in ("layout", "perception"), "observation.rooms_source: layout | perception")
        for pair in self.confusion_pairs:
            _check(pair.count(":") == 1 and all(pair.split(":")), f"observation.confusion_pairs: bad entry {pair!r}")
        _check(0.0 <= self.object_miss_extra <= 1.0 and 0.0 <= self.furniture_hidden_weight <= 1.0,
               "observation.object_miss_extra / furniture_hidden_weight in [0, 1]")


@dataclass
class AgentsConfig:
    budget_m: float = 60.0                  # path budget of every exploring agent (voi, explore_only)
    run: List[str] = field(default_factory=lambda: ["memory_only", "explore_only", "latest_map", "voi", "oracle"])

    def validate(self) -> None:
        _check(self.budget_m > 0, "agents.budget_m > 0")
        known = {"memory_only", "explore_only", "latest_map", "voi", "oracle"}
        for a in self.run:
            _check(a in known, f"agents.run: unknown agent {a!r}")


@dataclass
class FittedConfig:
    """Fitted on the dev seeds by `python -m bench.laeqa --fit` (never on test seeds). Empty = defaults."""
    planner_overrides: Dict[str, Any] = field(default_factory=dict)   # planner config keys (e.g. lambda)
    fitted_on_seeds: List[int] = field(default_factory=list)


@dataclass
class LaeqaConfig:
    run: RunConfig = field(default_factory=RunConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    observation: ObservationConfig = field(default_factory=ObservationConfig)
    agents: AgentsConfig = field(default_factory=AgentsConfig)
    fitted: FittedConfig = field(default_factory=FittedConfig)

    def validate(self) -> None:
        bad = set(self.fitted.fitted_on_seeds) - set(self.run.dev_seeds)
        _check(not bad, f"fitted.fitted_on_seeds {sorted(bad)} are not dev seeds")


def laeqa_config_from_params(params: Mapping[str, Any]) -> LaeqaConfig:
    return config_from_dict(LaeqaConfig, params)


def load_laeqa_config(path: Optional[str | Path] = None) -> LaeqaConfig:
    return laeqa_config_from_params(load_node_params(path or DEFAULT_CONFIG_PATH, NODE_NAME))
