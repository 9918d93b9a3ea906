"""Typed planner configuration (section names match config/planner.yaml under ``planner_node``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..common.config import validate_sections
from ..common.errors import ConfigError
from .parse import ParserConfig


@dataclass
class UtilityConfig:
    """Utility of a reply: +1 correct, -c_wrong wrong, 0 NOT_SURE."""
    c_wrong: float = 1.0                 # cost of a wrong answer (utility units)
    look_cost: float = 0.002             # utility a look costs even without driving (0 = pure VOI)
    lambda_per_m: float = 0.003          # utility per metre driven

    def validate(self) -> None:
        if self.c_wrong < 0 or self.look_cost < 0 or self.lambda_per_m < 0:
            raise ConfigError("utility: c_wrong, look_cost and lambda_per_m must be >= 0")


@dataclass
class DetectorConfig:
    """Observation model of one look (a yaw sweep) at a location."""
    miss_rate: float = 0.15              # P(not detected | present and visible)
    false_positive_rate: float = 0.02    # P(detected | absent, location visible)
    visibility_max: float = 0.95         # visibility of a location right next to the viewpoint
    visibility_sigma_m: float = 2.5      # Gaussian fall-off of visibility with distance
    max_range_m: float = 5.0             # beyond this a location is not seen
    cross_room_visibility: float = 0.1   # factor for a location in another room than the viewpoint
    min_visibility: float = 0.05         # below this a location does not count as seen
    match_radius_m: float = 0.8          # a detection this close to a hypothesis confirms it
    occlusion_tolerance_m: float = 0.3   # depth may be this much shorter than the point and still see it
    min_range_m: float = 0.1             # nearer than this (along the optical axis) is not seen
    image_margin_frac: float = 0.0       # projections this close to the image border do not count
    window_px: int = 0                   # half-size of the depth window sampled (0: the pixel itself)

    def validate(self) -> None:
        for n in ("miss_rate", "false_positive_rate", "visibility_max", "cross_room_visibility", "min_visibility"):
            v = getattr(self, n)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"detector.{n} must be in [0, 1], got {v}")
        if self.miss_rate + self.false_positive_rate >= 1.0:
            raise ConfigError("detector: miss_rate + false_positive_rate must be < 1")
        if self.visibility_sigma_m <= 0 or self.max_range_m <= 0 or self.match_radius_m <= 0:
            raise ConfigError("detector: visibility_sigma_m, max_range_m, match_radius_m must be > 0")
        if not 0.0 <= self.min_range_m < self.max_range_m:
            raise ConfigError("detector: need 0 <= min_range_m < max_range_m")
        if not 0.0 <= self.image_margin_frac < 0.5 or self.window_px < 0:
            raise ConfigError("detector: image_margin_frac must be in [0, 0.5) and window_px >= 0")


@dataclass
class BeliefConfig:
    """How memory becomes a belief over present-tense answers."""
    use_staleness: bool = True           # False: remembered objects are still there (latest-map baseline)
    use_absences: bool = True            # apply absence records after the last sighting
    absences_in_staleness: bool = True   # memory's p_still_there already counts absences (memory core does)
    use_habits: bool = True              # moved mass goes to places the class used to be
    habit_weight: float = 0.6            # share of the moved mass given by habits (rest: rooms prior, uniform)
    room_prior_weight: float = 0.2       # share given to rooms where the class usually is (vocabulary)
    p_gone_if_moved: float = 0.1         # P(not findable anywhere | moved away)
    p_absent_if_never_seen: float = 0.5  # P(not in the home | never seen)
    unseen_instance_rate: float = 0.2    # expected unseen extra instances per room (count / exists)
    # Beta pseudo-counts of where a moved thing went (same room / another room) before memory saw any move of
    # its class (present.same_room_share); both 0 = no same-room term (moved mass follows the place prior)
    same_room_prior_same: float = 1.0
    same_room_prior_other: float = 1.0
    past_span_confidence: float = 0.92   # P(correct) of a stored sighting that covers the asked time
    default_move_rate_per_day: float = 0.5
    receptacle_radius_m: float = 1.0     # "on the table": within this horizontal distance of it
    set_answer_min_f1: float = 0.5      # a set answer (what changed) is right when its F1 reaches this
    # "on how many days did you see X in Y" (recall.days_seen), per day of the window: P(wrong) of a day with
    # a stored sighting there (a false or confused detection), and of a day the robot spent in Y (X missed
    # all that visit, or seen there though it had gone); a day it never was in Y is settled
    days_seen_sighting_error: float = 0.02
    days_seen_visit_error: float = 0.08
    days_seen_view_half_angle_rad: float = 0.6   # a pose "looked at" a spot within this of its optical axis
    # "what changed in Y": P(a thing a look just saw in Y where memory held none of its class then is a real
    # change) -- the detection may be false or confused
    look_change_confidence: float = 0.8

    def validate(self) -> None:
        for n in ("habit_weight", "room_prior_weight", "p_gone_if_moved", "p_absent_if_never_seen",
                  "past_span_confidence", "unseen_instance_rate", "set_answer_min_f1",
                  "days_seen_sighting_error", "days_seen_visit_error", "look_change_confidence"):
            v = getattr(self, n)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"belief.{n} must be in [0, 1], got {v}")
        if min(self.same_room_prior_same, self.same_room_prior_other) < 0:
            raise ConfigError("belief: same_room_prior_same and same_room_prior_other are pseudo-counts >= 0")
        if self.habit_weight + self.room_prior_weight > 1.0:
            raise ConfigError("belief: habit_weight + room_prior_weight must be <= 1")


@dataclass
class ExploreConfig:
    max_looks: int = 12                  # looks per question at most
    max_viewpoints: int = 60             # candidate viewpoints scored per step (nearest / most useful)
    path_margin: float = 0.0             # plan within remaining_budget / (1 + margin) (nav overshoot)
    revisit: bool = False                # may look again from a viewpoint already looked from
    answer_granularity: str = "room"     # where-answers are judged by "room" or "place"
    # "voi": go to argmax VOI, stop when the best VOI <= 0 (issue 7's rule; greedy, so a higher lambda
    # usually but not provably shortens the path). "rate": go to argmax gain / (path_m + rate_offset_m),
    # stop when that viewpoint's VOI <= 0: the order does not depend on lambda, so a higher lambda stops
    # the same sequence earlier and provably never lengthens the path.
    selection: str = "voi"
    rate_offset_m: float = 2.0           # metres a look is worth in the "rate" order (keeps "look here" finite)
    # When no single look is worth it (myopic VOI <= 0) but the target is not yet found, also value a
    # search tour of up to this many looks (answer when found); go to its first stop if that pays. 0 = off.
    tour_lookahead: int = 6
    # Also when a single look pays, go to the tour's first stop if the tour is worth more: one look's VOI
    # is zero for a look that can only confirm the best answer (confirming changes no decision), so a
    # myopic planner drives far to check an unlikely alternative before the near look that, finding the
    # target, would make that drive worthless. False: the tour only when no single look pays.
    tour_when_look_pays: bool = True
    # Before the first drive, look from where the robot stands (no path): the visibility model is a guess
    # (a room boundary between here and a hypothesis cuts it to cross_room_visibility), the look's depth
    # is not; what it sees may make the drive worthless.
    look_here_first: bool = True
    # Before driving to the chosen viewpoint, look first from the nearest viewpoint on the way (its paths
    # from here and on add at most on_the_way_slack_m) whose gain beats the look's cost and the detour's.
    stop_on_the_way: bool = True
    on_the_way_slack_m: float = 1.0

    def validate(self) -> None:
        if self.max_looks < 0 or self.max_viewpoints < 1 or self.path_margin < 0:
            raise ConfigError("explore: max_looks >= 0, max_viewpoints >= 1, path_margin >= 0")
        if self.tour_lookahead < 0:
            raise ConfigError("explore.tour_lookahead must be >= 0")
        if self.on_the_way_slack_m < 0:
            raise ConfigError("explore.on_the_way_slack_m must be >= 0")
        if self.selection not in ("voi", "rate"):
            raise ConfigError("explore.selection must be 'voi' or 'rate'")
        if self.rate_offset_m <= 0:
            raise ConfigError("explore.rate_offset_m must be > 0")
        if self.answer_granularity not in ("room", "place"):
            raise ConfigError("explore.answer_granularity must be 'room' or 'place'")


@dataclass
class PoseHistoryConfig:
    """Questions about the robot's own travel, answered from memory's pose trail by the rules of
    common/trajectory.py (gap rule, where at t, visits, time in a room)."""
    tolerance_s: float = 120.0           # "where were you at t": a pose at most this far from t answers it
    max_gap_s: float = 60.0              # poses further apart are a gap without a record, never counted (keep it
                                         # above perception's views.max_interval_s, a keyframe every 10 s at least)
    max_poses: int = 50000               # poses one question reads at most (a window holding more: its latest)
    confidence: float = 0.95             # P(right room) of a pose inside a room (the room cut's own error)
    min_stay_s: float = 60.0             # "on your way to X": a room it spent at least this long in is where the
                                         # trip began; rooms of shorter runs were passed through
    trip_horizon_s: float = 21600.0      # a trip is looked for within this long before its last pose in X (6 h)

    def validate(self) -> None:
        if self.tolerance_s <= 0 or self.max_gap_s <= 0:
            raise ConfigError("pose_history: tolerance_s and max_gap_s must be > 0")
        if self.min_stay_s <= 0 or self.trip_horizon_s <= self.min_stay_s:
            raise ConfigError("pose_history: min_stay_s must be > 0 and trip_horizon_s > min_stay_s")
        if self.max_poses < 1:
            raise ConfigError("pose_history.max_poses must be >= 1")
        if not 0.0 < self.confidence <= 1.0:
            raise ConfigError(f"pose_history.confidence must be in (0, 1], got {self.confidence}")


@dataclass
class ChatConfig:
    """Optional OpenAI-compatible chat endpoint that parses questions (off by default)."""
    enabled: bool = False
    url: str = ""                        # e.g. http://127.0.0.1:8080/v1/chat/completions
    model: str = ""
    timeout_s: float = 5.0
    api_key_env: str = ""                # name of an environment variable holding a key, if any
    fallback_to_rules: bool = True       # when the endpoint fails or returns an invalid query

    def validate(self) -> None:
        if self.enabled and not self.url:
            raise ConfigError("chat.url is required when chat.enabled")
        if self.timeout_s <= 0:
            raise ConfigError("chat.timeout_s must be > 0")


@dataclass
class NodeConfig:
    """ROS side of the planner node (section ``node``): frames, waits, how a look is done."""
    map_frame: str = "map"
    base_frame: str = "base_link"
    default_timeout_s: float = 120.0     # an Ask / AskActive without a time-out gets this one
    service_timeout_s: float = 5.0       # one memory/* service call
    nav_timeout_s: float = 120.0         # one NavigateToPose goal
    server_wait_s: float = 2.0           # wait this long for a service / action server to appear
    ingest_timeout_s: float = 5.0        # after a look: wait for memory/ingested_through to pass it
    look_yaws: int = 4                   # a look = this many headings at the spot (1 = no turning)
    look_settle_s: float = 0.5           # after the last heading, wait this long for perception/frames to move
    look_lag_timeout_s: float = 10.0     # ... and while they keep coming but lag, up to this long in all
    path_detour_factor: float = 1.3      # path cost = place-graph path, else straight line * this
    max_recall_results: int = 0          # 0 = no limit
    calibration_file: str = ""           # JSON with a fitted calibrator (e.g. bench/laeqa_data/fitted.json); "" = none

    def validate(self) -> None:
        for n in ("default_timeout_s", "service_timeout_s", "nav_timeout_s", "server_wait_s", "ingest_timeout_s"):
            if getattr(self, n) <= 0:
                raise ConfigError(f"node.{n} must be > 0")
        if (self.look_yaws < 1 or self.look_settle_s < 0 or self.path_detour_factor < 1.0
                or self.look_lag_timeout_s < 0):
            raise ConfigError("node: look_yaws >= 1, look_settle_s >= 0, look_lag_timeout_s >= 0, "
                              "path_detour_factor >= 1")


@dataclass
class PlannerConfig:
    utility: UtilityConfig = field(default_factory=UtilityConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    belief: BeliefConfig = field(default_factory=BeliefConfig)
    explore: ExploreConfig = field(default_factory=ExploreConfig)
    parser: ParserConfig = field(default_factory=ParserConfig)
    pose_history: PoseHistoryConfig = field(default_factory=PoseHistoryConfig)
    chat: ChatConfig = field(default_factory=ChatConfig)
    node: NodeConfig = field(default_factory=NodeConfig)

    def validate(self) -> None:
        validate_sections(self)


# Sections of config/planner.yaml that only the ROS node reads (memory_nodes/ros/planner_node.py: service
# admission); the core's config leaves them to it and still rejects every other unknown key.
NODE_ONLY_SECTIONS = ("services",)


def load_planner_config(path, node_name: str = "planner") -> PlannerConfig:
    """The planner's typed config from a ROS params file (``/**/<node_name>: ros__parameters:``), without the
    node-only sections (``NODE_ONLY_SECTIONS``)."""
    from ..common.config import config_from_dict, load_node_params
    params = {k: v for k, v in load_node_params(path, node_name).items() if k not in NODE_ONLY_SECTIONS}
    return config_from_dict(PlannerConfig, params)
