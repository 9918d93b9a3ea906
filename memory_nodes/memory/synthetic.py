"""A fast synthetic household with a noisy detector, producing PerceptionOutput frames plus the ground
truth behind them (for tests and the memory benchmark; the simulator in sim/ is the realistic source).

Rooms in a row along +x, furniture tops with small objects on them; each day some objects move (by
class), a few vanish or appear; the robot patrols: at each stop it sweeps its yaw. The detector misses,
confuses look-alike classes, adds centroid noise and false positives. Depth images show the floor (and
the objects as small patches), so a remembered location that became empty reads as "visible, nothing
there". Observations carry no identity; ``Frame.truth`` (ground-truth object id per observation, -1 for a
false positive) is for scoring only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from ..common.geometry import base_R_optical, make_T, pose2d_T
from ..common.types import (
    CameraIntrinsics,
    ObjectObservation,
    PerceptionOutput,
    Place,
    PlaceGraph,
    Room,
    RoomSegmentation,
    View,
)
from .config import NS_PER_DAY, NS_PER_S

ROOM_LABELS = ("kitchen", "living room", "bedroom", "office", "bathroom", "kids room", "dining room", "hallway")
FURNITURE = {"kitchen": ("counter", "dining table"), "living room": ("coffee table", "tv stand"),
             "bedroom": ("nightstand", "dresser"), "office": ("desk", "bookshelf"),
             "bathroom": ("vanity", "towel shelf"), "kids room": ("kids table", "toy box"),
             "dining room": ("dining table", "bookshelf"), "hallway": ("entry table", "shoe rack")}
SMALL = ("mug", "cup", "book", "keys", "phone", "remote control", "laptop", "bowl", "plate", "bottle",
         "glasses", "wallet", "apple", "toy car", "notebook", "headphones", "tablet", "water bottle")
CONFUSABLE = {"mug": "cup", "cup": "mug", "book": "notebook", "notebook": "book", "phone": "remote control",
              "remote control": "phone", "plate": "bowl", "bowl": "plate", "tablet": "laptop", "laptop": "tablet",
              "bottle": "water bottle", "water bottle": "bottle"}
PALETTE = np.array([[0.8, 0.1, 0.1], [0.15, 0.65, 0.2], [0.15, 0.3, 0.85], [0.95, 0.85, 0.1],
                    [0.95, 0.95, 0.95], [0.08, 0.08, 0.08], [0.5, 0.5, 0.52], [0.95, 0.5, 0.1],
                    [0.5, 0.2, 0.65], [0.95, 0.55, 0.7], [0.5, 0.32, 0.15], [0.75, 0.76, 0.78]])


@dataclass
class SynthConfig:
    seed: int = 0
    n_rooms: int = 4
    room_size_m: float = 5.0
    objects_per_room: int = 6
    stops_per_room: int = 2
    yaw_steps: int = 24                  # frames per stop (a yaw sweep)
    frame_dt_s: float = 0.2
    view_every: int = 2                  # every n-th frame is also a View (keyframe)
    patrol_start_s: float = 10 * 3600.0  # time of day of the patrol
    p_move_per_day: float = 0.25         # each small object moves to another furniture top
    p_vanish_per_day: float = 0.01
    p_appear_per_day: float = 0.3        # a new object appears somewhere (per day)
    miss_prob: float = 0.15
    confusion_prob: float = 0.05
    false_positives_per_frame: float = 0.05
    noise_m: float = 0.03
    color_noise: float = 0.03
    depth_size: Tuple[int, int] = (80, 60)
    hfov_deg: float = 70.0
    max_detect_range_m: float = 4.5
    camera_height_m: float = 1.15
    camera_pitch_down_rad: float = 0.45
    jpeg_bytes: int = 0                  # >0: each view carries that many pseudo-JPEG bytes (keyframes)


@dataclass
class GTObject:
    gt_id: int
    class_name: str
    pos: np.ndarray
    color: np.ndarray
    size_m: float
    present: bool = True
    furniture: bool = False


@dataclass
class Frame:
    out: PerceptionOutput
    truth: List[int]                     # ground-truth id per observation (-1 = false positive)
    day: int


@dataclass
class ChangeTruth:
    kind: str                            # moved | disappeared | appeared
    gt_id: int
    day: int
    from_pos: Optional[np.ndarray]
    to_pos: Optional[np.ndarray]


class SyntheticHousehold:
    def __init__(self, cfg: Optional[SynthConfig] = None):
        self.cfg = cfg or SynthConfig()
        c = self.cfg
        self.rng = np.random.default_rng(c.seed)
        w, h = c.depth_size
        fx = (w / 2.0) / math.tan(math.radians(c.hfov_deg) / 2.0)
        self.intr = CameraIntrinsics(w, h, fx, fx, (w - 1) / 2.0, (h - 1) / 2.0)
        self.labels = [ROOM_LABELS[i % len(ROOM_LABELS)] for i in range(c.n_rooms)]
        self.objects: Dict[int, GTObject] = {}
        self.tops: List[Tuple[int, np.ndarray, float]] = []      # (room, centre, top z) furniture tops
        self.changes: List[ChangeTruth] = []
        self._next_id = 1
        S = c.room_size_m
        for r in range(c.n_rooms):
            for k, fcls in enumerate(FURNITURE[self.labels[r]]):
                centre = np.array([r * S + S * (0.3 + 0.4 * k), S * (0.25 + 0.5 * k), 0.0])
                top = 0.75 if k == 0 else 0.55
                fid = self._add(fcls, np.array([centre[0], centre[1], top / 2]), 0.8, furniture=True)
                self.tops.append((r, centre, top))
                _ = fid
        for _room in range(c.n_rooms):
            for _ in range(c.objects_per_room):
                self._add(SMALL[int(self.rng.integers(len(SMALL)))], self._random_spot(), 0.12)
        self.room_rects: List[Tuple[float, float, float, float]] = [
            (r * S, 0.0, (r + 1) * S, S) for r in range(c.n_rooms)]
        self.t_origin_ns = 0
        self._rays_c = self._make_rays()
        self.day_index = -1

    # -- world
    def _add(self, cls: str, pos: np.ndarray, size: float, furniture: bool = False) -> int:
        i = self._next_id
        self._next_id += 1
        self.objects[i] = GTObject(i, cls, pos.astype(float), PALETTE[int(self.rng.integers(len(PALETTE)))].copy(),
                                   size, True, furniture)
        return i

    def _random_spot(self) -> np.ndarray:
        _, centre, top = self.tops[int(self.rng.integers(len(self.tops)))]
        off = self.rng.uniform(-0.35, 0.35, 2)
        return np.array([centre[0] + off[0], centre[1] + off[1], top + 0.06])

    def change_rates(self, o) -> Tuple[float, float]:
        """(P(vanish), P(move)) per day for object ``o`` (a subclass may give classes their own rates)."""
        return self.cfg.p_vanish_per_day, self.cfg.p_move_per_day

    def appear_rate(self) -> float:
        """P(a new small object appears) per day."""
        return self.cfg.p_appear_per_day

    def apply_day_changes(self, day: int) -> None:
        if day == 0:
            return
        for o in list(self.objects.values()):
            if o.furniture or not o.present:
                continue
            u = self.rng.random()
            p_vanish, p_move = self.change_rates(o)
            if u < p_vanish:
                o.present = False
                self.changes.append(ChangeTruth("disappeared", o.gt_id, day, o.pos.copy(), None))
            elif u < p_vanish + p_move:
                new = self._random_spot()
                if np.linalg.norm(new - o.pos) > 1.0:
                    self.changes.append(ChangeTruth("moved", o.gt_id, day, o.pos.copy(), new.copy()))
                    o.pos = new
        if self.rng.random() < self.appear_rate():
            i = self._add(SMALL[int(self.rng.integers(len(SMALL)))], self._random_spot(), 0.12)
            self.changes.append(ChangeTruth("appeared", i, day, None, self.objects[i].pos.copy()))

    # -- static layers
    def place_graph(self, stamp_ns: int) -> PlaceGraph:
        places: List[Place] = []
        edges: List[Tuple[int, int]] = []
        prev = None
        for r, (x, y) in self._stops():
            pid = len(places)
            places.append(Place(pid, np.array([x, y, 0.0]), r, stamp_ns, stamp_ns))
            if prev is not None:
                edges.append((prev, pid))
            prev = pid
        return PlaceGraph(stamp_ns, places, edges)

    def rooms(self, stamp_ns: int) -> RoomSegmentation:
        c = self.cfg
        res = 0.1
        cols = int(round(c.n_rooms * c.room_size_m / res))
        rows = int(round(c.room_size_m / res))
        grid = np.zeros((rows, cols), np.int16)
        for r in range(c.n_rooms):
            grid[:, int(r * c.room_size_m / res):int((r + 1) * c.room_size_m / res)] = r
        rooms = [Room(r, self.labels[r], 0.9, np.array([(r + 0.5) * c.room_size_m, c.room_size_m / 2, 0.0]),
                      c.room_size_m ** 2) for r in range(c.n_rooms)]
        return RoomSegmentation(stamp_ns, rooms, grid, res, (0.0, 0.0))

    def _stops(self) -> List[Tuple[int, Tuple[float, float]]]:
        c = self.cfg
        out = []
        for r in range(c.n_rooms):
            for k in range(c.stops_per_room):
                f = (k + 1) / (c.stops_per_room + 1)
                out.append((r, (r * c.room_size_m + c.room_size_m * f, c.room_size_m * (0.35 + 0.3 * (k % 2)))))
        return out

    # -- camera
    def _camera_T(self, x: float, y: float, yaw: float) -> np.ndarray:
        c = self.cfg
        base = pose2d_T(x, y, yaw)
        pitch = c.camera_pitch_down_rad
        cp, sp = math.cos(pitch), math.sin(pitch)
        R_pitch = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])   # +pitch tilts x down
        return base @ make_T(R_pitch @ base_R_optical, (0.0, 0.0, c.camera_height_m))

    def _make_rays(self) -> np.ndarray:
        w, h = self.cfg.depth_size
        u, v = np.meshgrid(np.arange(w), np.arange(h))
        return np.stack([(u - self.intr.cx) / self.intr.fx, (v - self.intr.cy) / self.intr.fy,
                         np.ones_like(u, float)], -1)

    def _room_of(self, x: float, y: float) -> int:
        for i, (x0, y0, x1, y1) in enumerate(self.room_rects):
            if x0 <= x <= x1 and y0 <= y <= y1:
                return i
        return -1

    def _depth_image(self, T: np.ndarray) -> np.ndarray:
        """Depth (optical z) of the floor and of the walls of the camera's room, for every pixel."""
        rays_m = self._rays_c @ T[:3, :3].T                # ray parameter = optical z (rays_c z = 1)
        o = T[:3, 3]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(rays_m[..., 2] < -1e-6, -o[2] / rays_m[..., 2], np.inf)
            r = self._room_of(o[0], o[1])
            if r >= 0:
                x0, y0, x1, y1 = self.room_rects[r]
                for axis, lo, hi in ((0, x0, x1), (1, y0, y1)):
                    d = rays_m[..., axis]
                    tw = np.where(d > 1e-9, (hi - o[axis]) / d, np.where(d < -1e-9, (lo - o[axis]) / d, np.inf))
                    t = np.minimum(t, tw)
        return np.minimum(t, 8.0).astype(np.float32)

    # -- patrol
    def day(self, day: int) -> Iterator[Frame]:
        """Apply the day's changes, then yield the patrol's frames in time order."""
        c = self.cfg
        self.apply_day_changes(day)
        t0 = self.t_origin_ns + day * NS_PER_DAY + int(c.patrol_start_s * NS_PER_S)
        dt = int(c.frame_dt_s * NS_PER_S)
        k = 0
        stops = self._stops()
        for si, (room, (x, y)) in enumerate(stops):
            for j in range(c.yaw_steps):
                yaw = 2 * math.pi * j / c.yaw_steps
                stamp = t0 + k * dt
                frame = self._frame(stamp, si, room, x, y, yaw, k, day)
                if k == 0:
                    frame.out.places = self.place_graph(stamp)
                    frame.out.rooms = self.rooms(stamp)
                yield frame
                k += 1

    def _frame(self, stamp: int, place: int, room: int, x: float, y: float, yaw: float, k: int, day: int) -> Frame:
        c = self.cfg
        rng = self.rng
        T = self._camera_T(x, y, yaw)
        cam_T = np.linalg.inv(T)
        depth = self._depth_image(T)
        walls = depth.copy()
        obs: List[ObjectObservation] = []
        truth: List[int] = []
        view_id = f"v{stamp}" if k % c.view_every == 0 else ""
        w, h = c.depth_size
        present = [o for o in self.objects.values() if o.present]
        if present:
            # which objects can be in the image, all at once (with a margin); each candidate's numbers are
            # then computed as ever, and the detector's draws stay per object in the same order (one
            # random stream: the same frames, bit for bit, only faster)
            P = np.array([o.pos for o in present], float)
            pc_all = P @ cam_T[:3, :3].T + cam_T[:3, 3]
            z = pc_all[:, 2]
            front = z > 0.3 - 1e-6
            zs = np.where(front, z, 1.0)
            u_all = self.intr.fx * pc_all[:, 0] / zs + self.intr.cx
            v_all = self.intr.fy * pc_all[:, 1] / zs + self.intr.cy
            eps = 1e-6
            cand = np.flatnonzero(front & (u_all >= -eps) & (u_all < w + eps) & (v_all >= -eps)
                                  & (v_all < h + eps)).tolist()
        else:
            cand = []
        miss_p, conf_p, noise = c.miss_prob, c.confusion_prob, c.noise_m
        R, tr = cam_T[:3, :3], cam_T[:3, 3]
        for k in cand:
            o = present[k]
            pc = R @ o.pos + tr
            if pc[2] <= 0.3:
                continue
            u = self.intr.fx * pc[0] / pc[2] + self.intr.cx
            v = self.intr.fy * pc[1] / pc[2] + self.intr.cy
            if not (0 <= u < w and 0 <= v < h):
                continue
            pz = float(pc[2])
            ui, vi = int(u), int(v)
            if walls[vi, ui] < pz - 0.1:
                continue                                   # behind a wall of this room
            dist = float(np.linalg.norm(pc))
            r = max(1, int(round(self.intr.fx * o.size_m / 2 / pz)))
            patch = depth[max(0, vi - r):vi + r + 1, max(0, ui - r):ui + r + 1]
            np.minimum(patch, pz, out=patch)
            if dist > c.max_detect_range_m or rng.random() < miss_p:
                continue
            cls = o.class_name
            if cls in CONFUSABLE and rng.random() < conf_p:
                cls = CONFUSABLE[cls]
            cen = o.pos + rng.normal(0.0, noise, 3)
            half = o.size_m / 2
            score = min(max(float(rng.normal(0.85, 0.08)), 0.3), 1.0)
            obs.append(ObjectObservation(stamp, cls, score, cen, cen - half, cen + half, 200,
                                         tuple(np.clip(o.color + rng.normal(0, c.color_noise, 3), 0, 1)),
                                         None, dist, view_id, place))
            truth.append(o.gt_id)
        for _ in range(rng.poisson(c.false_positives_per_frame)):
            d = rng.uniform(1.0, 3.5)
            ang = yaw + rng.uniform(-0.5, 0.5)
            cen = np.array([x + d * math.cos(ang), y + d * math.sin(ang), rng.uniform(0.4, 1.0)])
            obs.append(ObjectObservation(stamp, SMALL[int(rng.integers(len(SMALL)))],
                                         float(np.clip(rng.normal(0.45, 0.1), 0.2, 0.9)), cen, cen - 0.05,
                                         cen + 0.05, 50, tuple(PALETTE[int(rng.integers(len(PALETTE)))]),
                                         None, d, view_id, place))
            truth.append(-1)
        view = None
        if view_id:
            jpeg = b""
            if c.jpeg_bytes > 0:
                jpeg = b"\xff\xd8" + stamp.to_bytes(8, "little") + rng.bytes(max(0, c.jpeg_bytes - 12)) + b"\xff\xd9"
            view = View(view_id, stamp, T, self.intr, depth, jpeg, place, sorted({o.class_name for o in obs}))
        return Frame(PerceptionOutput(stamp, obs, view, place), truth, day)


@dataclass
class IdentityScore:
    id_switches: int = 0
    gt_objects: int = 0
    missed_objects: int = 0              # ground-truth objects detected but never confirmed as a track
    false_objects: int = 0               # confirmed tracks born of false positives only
    detections: int = 0
    lookalike_switches: int = 0          # switches to a track that carries a look-alike (same class and
                                         # colour) object: no observation could tell the two apart


def score_identity(mem, assignments: List[Tuple[int, int, int]],
                   world: Optional["SyntheticHousehold"] = None) -> IdentityScore:
    """ID switches over (stamp, gt id, track id at ingest) triples, with merges followed to today's ids.

    A switch: consecutive sightings of one ground-truth object carried by different confirmed tracks.
    With ``world``, switches where a look-alike (same canonical class, colours within 0.05) took the
    object's place are also counted apart: the track it left went on with the look-alike, or the track
    it moved to had carried the look-alike."""
    sc = IdentityScore()
    last: Dict[int, int] = {}
    by_track: Dict[int, Dict[int, int]] = {}
    carriers: Dict[int, List[Tuple[int, int]]] = {}       # track -> [(stamp, gt)] in time order
    switches: List[Tuple[int, int, int, int]] = []        # (stamp, gt, from track, to track)
    seen_gt = set()
    for stamp, gt, tid in sorted(assignments):
        tid = mem.resolve_track_id(tid)
        if not mem.is_confirmed(tid):
            if gt >= 0:
                seen_gt.add(gt)
            continue
        by_track.setdefault(tid, {}).setdefault(gt, 0)
        by_track[tid][gt] += 1
        if gt < 0:
            continue
        seen_gt.add(gt)
        sc.detections += 1
        if gt in last and last[gt] != tid:
            sc.id_switches += 1
            switches.append((stamp, gt, last[gt], tid))
        last[gt] = tid
        carriers.setdefault(tid, []).append((stamp, gt))
    sc.gt_objects = len(seen_gt)
    sc.missed_objects = len(seen_gt - set(last))
    for votes in by_track.values():
        if max(votes.items(), key=lambda kv: kv[1])[0] < 0:
            sc.false_objects += 1
    if world is not None:
        for stamp, gt, a, b in switches:
            before_b = [g for t, g in carriers.get(b, []) if t < stamp and g != gt]
            after_a = [g for t, g in carriers.get(a, []) if t > stamp and g != gt]
            twins = (before_b[-1:] if before_b else []) + (after_a[:1] if after_a else [])
            if any(_lookalike(mem, world, gt, o) for o in twins):
                sc.lookalike_switches += 1
    return sc


def run_days(mem, world: SyntheticHousehold, days: int, first_day: int = 0,
             assignments: Optional[List[Tuple[int, int, int]]] = None) -> int:
    """Ingest ``days`` patrol days; collect (stamp, gt, track) triples into ``assignments``; return frames."""
    n = 0
    for d in range(first_day, first_day + days):
        for f in world.day(d):
            mem.ingest(f.out)
            n += 1
            if assignments is not None and mem.last_assignment:
                # last_assignment lists associated observations in input order; align with truth
                valid = [i for i, o in enumerate(f.out.observations) if o.score >= mem.config.association.min_score]
                for (_obs_id, tid), i in zip(mem.last_assignment, valid):
                    assignments.append((f.out.stamp_ns, f.truth[i], tid))
    mem.commit()
    return n


def _lookalike(mem, world: "SyntheticHousehold", a: int, b: int) -> bool:
    oa, ob = world.objects.get(a), world.objects.get(b)
    if oa is None or ob is None:
        return False
    same_class = mem.vocab.canonical(oa.class_name) == mem.vocab.canonical(ob.class_name)
    return same_class and float(np.linalg.norm(oa.color - ob.color)) < 0.05


@dataclass
class ChangeScore:
    true_moves: int = 0
    found_moves: int = 0                 # true moves with a "moved" event of the right object that day
    reported_moves: int = 0
    false_moves: int = 0                 # "moved" events with no true move of that object that day
    true_disappeared: int = 0
    found_disappeared: int = 0


def track_of_gt(mem, assignments: List[Tuple[int, int, int]]) -> Dict[int, int]:
    """Ground-truth id -> the (current, confirmed) track that carried most of its sightings."""
    votes: Dict[int, Dict[int, int]] = {}
    for _, gt, tid in assignments:
        if gt < 0:
            continue
        tid = mem.resolve_track_id(tid)
        if mem.is_confirmed(tid):
            votes.setdefault(gt, {}).setdefault(tid, 0)
            votes[gt][tid] += 1
    return {gt: max(v.items(), key=lambda kv: kv[1])[0] for gt, v in votes.items()}


def score_changes(mem, world: SyntheticHousehold, assignments: List[Tuple[int, int, int]]) -> ChangeScore:
    from .records import parse_object_id
    sc = ChangeScore()
    g2t = track_of_gt(mem, assignments)
    t2g: Dict[int, int] = {}
    for g, tid in g2t.items():
        t2g.setdefault(tid, g)
    events = mem.changes()
    t0 = world.t_origin_ns
    moved = {(parse_object_id(e.object_id), (e.stamp_ns - t0) // NS_PER_DAY) for e in events if e.kind == "moved"}
    gone = {(parse_object_id(e.object_id), (e.stamp_ns - t0) // NS_PER_DAY) for e in events if e.kind == "disappeared"}
    true_moves = set()
    for c in world.changes:
        if c.kind == "moved":
            sc.true_moves += 1
            t = g2t.get(c.gt_id)
            true_moves.add((t, c.day))
            if (t, c.day) in moved:
                sc.found_moves += 1
        elif c.kind == "disappeared":
            sc.true_disappeared += 1
            t = g2t.get(c.gt_id)
            if any(tt == t and d >= c.day for tt, d in gone):
                sc.found_disappeared += 1
    sc.reported_moves = len(moved)
    sc.false_moves = len(moved - true_moves)
    return sc
