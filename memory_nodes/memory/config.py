"""Typed configuration of the memory core (sections of the memory node's parameters, config/memory.yaml)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict

from ..common.config import validate_sections
from ..common.errors import ConfigError

NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


@dataclass
class StoreConfig:
    """The store: SQLite (embedded, the default) or PostgreSQL (a server), and where keyframes go."""
    url: str = ""                        # "" or sqlite:///<path>: SQLite at ``path`` (keyframes in <path>.keyframes/);
    #                                      postgresql://user@host/db?schema=<name>: a PostgreSQL server (one
    #                                      schema per memory, keyframes in the database; repository/pg_store.py)
    path: str = "memory.db"              # keyframes go to <path>.keyframes/
    synchronous: str = "FULL"            # SQLite synchronous: FULL (durable on power loss) | NORMAL
    commit_every_frames: int = 15        # commit after this many ingested frames ...
    commit_every_s: float = 0.5          # ... or when input stamps advanced this much since the last commit
    fsync_keyframes: bool = True         # fsync keyframe files before the commit that references them
    cache_size_mb: int = 32
    open_check: str = "quick"            # pages checked at open, before anything is written: quick
    #                                      (PRAGMA quick_check) | full (integrity_check) | none
    open_check_max_mb: float = 256.0     # a larger SQLite store (database + WAL) is checked after it opened,
    #                                      by a background thread (repository/page_check.py); 0: always at open
    pool_size: int = 4                   # PostgreSQL: most pooled read connections of one store

    def validate(self) -> None:
        _check(self.open_check in ("quick", "full", "none"),
               f"store.open_check: quick|full|none, got {self.open_check!r}")
        _check(self.open_check_max_mb >= 0.0, "store.open_check_max_mb must be >= 0")
        _check(self.synchronous in ("FULL", "NORMAL", "EXTRA"),
               f"store.synchronous: FULL|NORMAL|EXTRA, got {self.synchronous!r}")
        _check(self.commit_every_frames >= 1, "store.commit_every_frames must be >= 1")
        _check(self.commit_every_s > 0.0, "store.commit_every_s must be > 0")
        _check(self.cache_size_mb >= 1, "store.cache_size_mb must be >= 1")
        _check(self.pool_size >= 1, "store.pool_size must be >= 1")
        _check(self.url == "" or self.url.startswith(("sqlite:///", "postgresql://", "postgres://")),
               f"store.url: sqlite:///<path> | postgresql://... | empty (SQLite at store.path), got {self.url!r}")

    @property
    def backend(self) -> str:
        """sqlite | postgresql"""
        return "postgresql" if self.url.startswith(("postgresql://", "postgres://")) else "sqlite"

    def sqlite_path(self) -> str:
        """The SQLite file: the URL's path (sqlite:///rel/path, sqlite:////abs/path), else ``path``."""
        return self.url[len("sqlite:///"):] if self.url.startswith("sqlite:///") else self.path


@dataclass
class AssociationConfig:
    """Identity: observations -> object tracks (optimal assignment on class, distance, colour, appearance)."""
    gate_m: float = 0.5                  # max centroid distance for a match ...
    gate_extent_factor: float = 0.5      # ... or this fraction of the track's box diagonal, if larger ...
    extent_gate_overlap: float = 0.5     # ... or this share of the detection's box inside the track's
                                         # merged extent (a part of a large object, seen from elsewhere)
    extent_trim_frac: float = 0.1        # merged extent: each face this quantile of the stay's boxes (a box
                                         # spilling into the background now and then does not grow it)
    near_class_similarity: float = 0.7   # classes of one vocabulary category at least this similar, or one a kind
                                         # of the other (dining table / table), are near: a detector flickering
                                         # between them votes in one track (embeddings put chair and dining table
                                         # at 0.50, table and desk at 0.51: too close to tell, so neither is near)
    near_class_overlap: float = 0.5      # ... when this share of the detection's box is inside the extent
    duplicate_centroid_frac: float = 0.35  # two detections of one frame, same or near classes, centroids closer
                                         # than this share of the smaller box's diagonal: one object; or ...
    duplicate_overlap: float = 0.6       # two detections of one frame, same or near classes, the smaller this
                                         # much inside the larger: one object (its second box is a class vote) ...
    duplicate_min_iou: float = 0.3       # ... near classes only if of comparable size (3-D IoU at least this);
    part_gap_m: float = 0.25             # boxes of one class this close, one of them at least
    part_min_extent_m: float = 1.0       # this large (diagonal), are parts of one large object (a table)
    merge_extent_overlap: float = 0.5    # two objects of same or near classes, never detected apart in one
                                         # frame, the smaller extent this much inside the larger: one object
    absorb_radius_m: float = 0.2         # a newly confirmed track this close to an object of another class ...
    absorb_hits_ratio: float = 2.0       # ... seen this many times more often, never in the same frame,
                                         # is a confused detection of it: absorbed, not a new object ...
    absorb_max_volume_ratio: float = 8.0  # ... only if their boxes are of comparable size (volumes within this
                                         # factor): a book on a chair is no confused chair
    cooccur_radius_m: float = 1.0        # tracks detected in one frame this close are known to be distinct
    min_class_similarity: float = 0.8    # classes less similar than this never match (kind-of: 0.85)
    max_color_distance: float = 0.3      # mean colours further apart (RGB distance / sqrt(3)) never match
    weight_distance: float = 1.0
    weight_class: float = 1.0
    weight_color: float = 1.0
    weight_appearance: float = 0.5
    weight_label: float = 0.3            # the detector's own label disagrees with the track's usual label
    max_cost: float = 2.0                # pairs costlier than this never match
    confirm_hits: int = 3                # sightings (in distinct frames) that confirm a track ...
    confirm_views: int = 2               # ... from this many distinct viewpoints (where views say where the
                                         # camera was; input without views is counted by frames)
    confirm_view_baseline_m: float = 0.3  # viewpoints this far apart ...
    confirm_view_rotation_rad: float = 0.3  # ... or turned this much are distinct
    confirm_frames_min_score: float = 0.8  # sightings this sure on average (mean score) confirm by frames alone
    tentative_ttl_s: float = 120.0       # a tentative track not confirmed within this is dropped (a view of
                                         # its spot without it drops it sooner)
    min_score: float = 0.2               # detections below this score are stored but not associated
    position_window: int = 30            # running mean over at most this many sightings of a stay
    stay_split_m: float = 0.3            # sustained offset beyond this (within the gate) starts a new stay
    stay_split_hits: int = 4             # ... after this many consecutive offset sightings ...
    move_margin_m: float = 0.1           # ... outside the old stay's merged extent grown by this (position
                                         # uncertainty; a large object seen in parts does not drift) ...
    move_empty_views: int = 2            # ... and the old spot seen empty (depth past it, nothing detected) in
                                         # this many views,
    move_views: int = 2                  # ... or the new position seen from this many distinct viewpoints
    move_views_min_shift: float = 1.0    # ... a shift under this x the merged extent's diagonal (a partial view
    move_views_small_shift: int = 3      # moves a big object's centroid alike from several viewpoints) needs
                                         # this many
    reid_max_cost: float = 0.5           # colour + appearance cost limit when re-identifying a moved object
    reid_max_color_distance: float = 0.2  # ... and its colour may differ at most this much
    coexist_window_s: float = 1800.0     # two tracks seen within this of each other are two objects

    def validate(self) -> None:
        _check(self.gate_m > 0.0, "association.gate_m must be > 0")
        _check(self.absorb_radius_m >= 0.0, "association.absorb_radius_m must be >= 0")
        _check(self.absorb_hits_ratio >= 1.0, "association.absorb_hits_ratio must be >= 1")
        _check(0.0 < self.max_color_distance <= 1.0, "association.max_color_distance must be in (0, 1]")
        _check(0.0 <= self.min_class_similarity <= 1.0, "association.min_class_similarity must be in [0, 1]")
        _check(self.confirm_hits >= 1, "association.confirm_hits must be >= 1")
        _check(self.tentative_ttl_s > 0.0, "association.tentative_ttl_s must be > 0")
        _check(self.position_window >= 1, "association.position_window must be >= 1")
        _check(self.max_cost > 0.0, "association.max_cost must be > 0")
        _check(self.stay_split_hits >= 1, "association.stay_split_hits must be >= 1")
        _check(self.coexist_window_s >= 0.0, "association.coexist_window_s must be >= 0")
        for name in ("extent_gate_overlap", "near_class_similarity", "near_class_overlap", "duplicate_centroid_frac",
                     "duplicate_overlap",
                     "duplicate_min_iou", "merge_extent_overlap"):
            v = getattr(self, name)
            _check(0.0 < v <= 1.0, f"association.{name} must be in (0, 1], got {v}")
        _check(self.absorb_max_volume_ratio >= 1.0, "association.absorb_max_volume_ratio must be >= 1")
        _check(0.0 <= self.extent_trim_frac < 0.5, "association.extent_trim_frac must be in [0, 0.5)")
        _check(self.confirm_views >= 1, "association.confirm_views must be >= 1")
        _check(self.confirm_view_baseline_m > 0.0 and self.confirm_view_rotation_rad > 0.0,
               "association.confirm_view_baseline_m / confirm_view_rotation_rad must be > 0")
        _check(self.move_margin_m >= 0.0, "association.move_margin_m must be >= 0")
        _check(self.part_gap_m >= 0.0 and self.part_min_extent_m > 0.0,
               "association.part_gap_m must be >= 0 and part_min_extent_m > 0")
        _check(self.move_empty_views >= 0, "association.move_empty_views must be >= 0")
        _check(self.move_views >= 1, "association.move_views must be >= 1")
        _check(self.move_views_min_shift >= 0, "association.move_views_min_shift must be >= 0")
        _check(self.move_views_small_shift >= 1, "association.move_views_small_shift must be >= 1")
        _check(0.0 <= self.confirm_frames_min_score <= 1.0, "association.confirm_frames_min_score must be in [0, 1]")


@dataclass
class AbsenceConfig:
    """Negative evidence from views: remembered location in the frustum, not occluded, not detected."""
    max_range_m: float = 4.0             # beyond this a miss says little
    min_range_m: float = 0.3
    image_margin_frac: float = 0.05      # projections this close to the border do not count
    occlusion_tolerance_m: float = 0.15  # depth nearer than (distance - tolerance - half extent) occludes
    window_px: int = 1                   # half-size of the depth window sampled around the projection
    missing_after_absences: int = 3      # absences (distinct views) since the last sighting -> missing, at least;
                                         # more while k absences are likely misses: P(miss)^k > max_false_missing_prob
    max_false_missing_prob: float = 0.01  # with P(miss) the object's own rate (proven misses, prior below);
    seen_through_margin_m: float = 0.1   # depth this far beyond an object's far side: its spot is seen empty
    distinct_view_baseline_m: float = 0.5  # other absences count once per viewpoint: views this far apart ...
    distinct_view_rotation_rad: float = 0.35  # ... or turned this much are independent ...
    distinct_view_interval_s: float = 60.0  # ... and so are views this long apart (another pass)
    miss_prior_views: float = 4.0        # weight (views) of the class's rate in an object's, and of
    #                                      detector_miss_prob in a class's (absences.miss_rate)
    min_extent_in_view_frac: float = 0.5  # an absence needs this share of the object's extent corners in the
                                         # view (a large object whose corner shows is not "seen")
    detector_miss_prob: float = 0.2      # P(not detected | there, visible): the likelihood of an absence
    unexplained_change_prob: float = 0.1  # prior floor on "it was moved" once absences contradict a sighting
    retract_disappeared_s: float = 7200.0  # seen again at the same spot within this: the event was a miss

    def validate(self) -> None:
        _check(self.max_range_m > self.min_range_m >= 0.0, "absence: need max_range_m > min_range_m >= 0")
        _check(0.0 <= self.image_margin_frac < 0.5, "absence.image_margin_frac must be in [0, 0.5)")
        _check(self.missing_after_absences >= 1, "absence.missing_after_absences must be >= 1")
        _check(0.0 < self.max_false_missing_prob < 1.0, "absence.max_false_missing_prob must be in (0, 1)")
        _check(self.miss_prior_views > 0.0, "absence.miss_prior_views must be > 0")
        _check(self.seen_through_margin_m >= 0.0, "absence.seen_through_margin_m must be >= 0")
        _check(self.distinct_view_baseline_m > 0.0 and self.distinct_view_rotation_rad > 0.0,
               "absence.distinct_view_baseline_m / distinct_view_rotation_rad must be > 0")
        _check(self.distinct_view_interval_s > 0.0, "absence.distinct_view_interval_s must be > 0")
        _check(0.0 <= self.min_extent_in_view_frac <= 1.0, "absence.min_extent_in_view_frac must be in [0, 1]")
        _check(0.0 < self.detector_miss_prob < 1.0, "absence.detector_miss_prob must be in (0, 1)")
        _check(0.0 <= self.unexplained_change_prob < 1.0, "absence.unexplained_change_prob must be in [0, 1)")
        _check(self.window_px >= 0, "absence.window_px must be >= 0")


@dataclass
class StalenessConfig:
    """Gamma(alpha, beta) prior on each class's Poisson move rate (per day), by vocabulary category; the
    class posterior (all its objects' moves and exposure) is the prior of each object, capped in weight."""
    prior_rate_per_day: Dict[str, float] = field(default_factory=lambda: {
        "small": 0.5, "food": 1.0, "plant": 0.02, "furniture": 0.02, "appliance": 0.005,
        "fixture": 0.001, "structure": 0.0005})
    prior_strength_days: float = 3.0     # beta of the category prior (pseudo-days of exposure)
    class_weight_cap_days: float = 30.0  # the class posterior weighs at most this many days in an object's prior

    def validate(self) -> None:
        _check(self.prior_strength_days > 0.0, "staleness.prior_strength_days must be > 0")
        _check(self.class_weight_cap_days > 0.0, "staleness.class_weight_cap_days must be > 0")
        for k, v in self.prior_rate_per_day.items():
            _check(v > 0.0, f"staleness.prior_rate_per_day[{k}] must be > 0")


@dataclass
class RetentionConfig:
    """Keyframe thinning with age, and consolidation of old raw observations (retention.py)."""
    keep_all_days: float = 7.0           # every keyframe younger than this is kept
    keep_per_place_per_day: int = 1      # older: plus this many per place and day
    run_every_s: float = 3600.0          # retention runs when input time advanced this much
    keep_raw_days: float = 0.0           # raw observations older than this are consolidated (0: never)
    raw_run_gap_s: float = 60.0          # a sighting run: one object's observations this close in time

    def validate(self) -> None:
        _check(self.keep_all_days >= 0.0, "retention.keep_all_days must be >= 0")
        _check(self.keep_per_place_per_day >= 0, "retention.keep_per_place_per_day must be >= 0")
        _check(self.run_every_s > 0.0, "retention.run_every_s must be > 0")
        _check(self.keep_raw_days >= 0.0, "retention.keep_raw_days must be >= 0 (0: keep every raw observation)")
        _check(self.raw_run_gap_s > 0.0, "retention.raw_run_gap_s must be > 0")


@dataclass
class EventConfig:
    appear_after_s: float = 600.0        # a new object counts as "appeared" if its place was known this long
    episode_gap_s: float = 1800.0        # input gaps longer than this separate episodes

    def validate(self) -> None:
        _check(self.appear_after_s >= 0.0, "events.appear_after_s must be >= 0")
        _check(self.episode_gap_s > 0.0, "events.episode_gap_s must be > 0")


@dataclass
class MemoryConfig:
    store: StoreConfig = field(default_factory=StoreConfig)
    association: AssociationConfig = field(default_factory=AssociationConfig)
    absence: AbsenceConfig = field(default_factory=AbsenceConfig)
    staleness: StalenessConfig = field(default_factory=StalenessConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    events: EventConfig = field(default_factory=EventConfig)

    def validate(self) -> None:
        validate_sections(self)
