"""Fuzzing the nodes' inputs with hypothesis (in-process: the node's own callbacks, no DDS, so it is fast).

Strategies are built from the rosidl types themselves (``SLOT_TYPES`` walked recursively: numbers with NaN,
inf and the type's extremes, strings with control characters and long ones, sequences of odd sizes, nested
messages), either whole messages or a valid message (a real synthetic frame) with a few fields replaced.
Targets: every topic the memory node subscribes (perception/frames, perception/places, perception/rooms) and
every service it serves (memory/recall, memory/forget, memory/get_scene_graph); every input of the
perception node (the camera topics through its synchronizer, the class table, /tf). The perception node's
output (what it would publish on perception/frames) goes into the memory node too.
Asserted: no exception escapes a callback, a service answers with one of its error codes (never UNKNOWN: that
is an exception the guard caught), and the store holds nothing invalid afterwards (bench.reliability's scan).

RELIABILITY_FUZZ_EXAMPLES (default 200) sets the examples per target; bench.reliability's full mode runs
this file with 10,000.
"""
from __future__ import annotations

import copy
import importlib
import math
import os
from typing import Any, Callable, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.ros

DOMAIN = 104
EXAMPLES = int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "200"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=EXAMPLES <= 1000,
                    suppress_health_check=list(HealthCheck))

# ------------------------------------------------------------------------------------- strategies
_INT_RANGE = {"int8": (-2 ** 7, 2 ** 7 - 1), "uint8": (0, 2 ** 8 - 1), "int16": (-2 ** 15, 2 ** 15 - 1),
              "uint16": (0, 2 ** 16 - 1), "int32": (-2 ** 31, 2 ** 31 - 1), "uint32": (0, 2 ** 32 - 1),
              "int64": (-2 ** 63, 2 ** 63 - 1), "uint64": (0, 2 ** 64 - 1), "char": (0, 255), "byte": (0, 255)}
_F32_MAX = 3.4028234e38
_SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-30, 1e30, -1e30, 1e6, -1.0]
_CONTROL = "".join(chr(c) for c in range(1, 32)) + "\x7f"
_SIZES = st.sampled_from([0, 0, 1, 1, 2, 3, 5, 7, 13, 64])          # sequences of odd sizes


def _floats(width: int) -> st.SearchStrategy:
    top = _F32_MAX if width == 32 else 1.7e308
    return st.one_of(st.floats(-1e4, 1e4, width=width), st.sampled_from(_SPECIAL + [top, -top]),
                     st.floats(width=width))


def _ints(name: str) -> st.SearchStrategy:
    lo, hi = _INT_RANGE[name]
    edges = sorted({v for v in (lo, hi, 0, 1, -1, 2 ** 31, 2 ** 62, -(2 ** 62), 2 ** 53 + 1) if lo <= v <= hi})
    return st.one_of(st.integers(-3, 1000).filter(lambda v: lo <= v <= hi), st.sampled_from(edges),
                     st.integers(lo, hi))


_TEXT = st.one_of(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=24),
                  st.text(st.sampled_from("mug chair kitchen_ 0" + _CONTROL), max_size=12),
                  st.sampled_from(["", " ", "mug", "x" * 257, "k" * 100_000, "mug\nDROP TABLE", "é" * 300]))


def _msg_class(t: Any) -> type:
    return getattr(importlib.import_module(".".join(t.namespaces)), t.name)


def value_strategy(t: Any, depth: int = 0) -> st.SearchStrategy:
    """A strategy for one field of rosidl type ``t`` (rosidl_parser.definition)."""
    from rosidl_parser import definition as d
    if isinstance(t, d.BasicType):
        n = t.typename
        if n in ("float", "double", "long double"):
            return _floats(32 if n == "float" else 64)
        if n == "boolean":
            return st.booleans()
        if n == "octet":
            return st.binary(min_size=1, max_size=1)
        return _ints(n)
    if isinstance(t, d.AbstractString):
        maxlen = getattr(t, "maximum_size", None)
        return _TEXT.map(lambda s: s[:maxlen]) if maxlen else _TEXT
    if isinstance(t, d.NamespacedType):
        return message_strategy(_msg_class(t), depth + 1)
    if isinstance(t, d.Array):
        return st.lists(value_strategy(t.value_type, depth), min_size=t.size, max_size=t.size)
    if isinstance(t, d.AbstractSequence):
        vt = t.value_type
        bound = t.maximum_size if isinstance(t, d.BoundedSequence) else None
        if isinstance(vt, d.BasicType) and vt.typename in ("uint8", "octet", "char"):
            big = st.sampled_from([0, 1, 3, 10, 1200, 2 ** 16 + 3])
            return big.flatmap(lambda n: st.binary(min_size=n, max_size=n)) if bound is None else \
                st.binary(max_size=bound)
        if isinstance(vt, d.NamespacedType) and depth >= 3:
            return st.just([])
        sizes = _SIZES if bound is None else st.integers(0, bound)
        if isinstance(vt, d.NamespacedType):
            sizes = st.integers(0, 3) if bound is None else st.integers(0, bound)
        return sizes.flatmap(lambda n: st.lists(value_strategy(vt, depth), min_size=n, max_size=n))
    raise TypeError(f"no strategy for rosidl type {t!r}")


def _fields(cls: type) -> List[Tuple[str, Any]]:
    return list(zip(cls.get_fields_and_field_types().keys(), cls.SLOT_TYPES))


def message_strategy(cls: type, depth: int = 0) -> st.SearchStrategy:
    """Whole messages of ``cls``, every field drawn."""
    if depth > 4:
        return st.builds(cls)
    fields = _fields(cls)

    @st.composite
    def build(draw: Callable) -> Any:
        m = cls()
        for name, t in fields:
            _assign(m, name, draw(value_strategy(t, depth)))
        return m
    return build()


def _assign(m: Any, name: str, value: Any) -> None:
    """Set a field; a value rclpy itself refuses (a float64 beyond float32, ...) keeps the field's default."""
    try:
        setattr(m, name, value)
    except (AssertionError, TypeError, ValueError, OverflowError):
        pass


def leaf_paths(m: Any, prefix: Tuple = ()) -> List[Tuple[Tuple, Any]]:
    """(path, rosidl type) of every field of message ``m``, nested messages and their sequences included."""
    from rosidl_parser import definition as d
    out: List[Tuple[Tuple, Any]] = []
    for name, t in _fields(type(m)):
        out.append((prefix + (name,), t))
        v = getattr(m, name)
        if isinstance(t, d.NamespacedType):
            out += leaf_paths(v, prefix + (name,))
        elif isinstance(t, d.AbstractSequence) and isinstance(t.value_type, d.NamespacedType):
            for i, e in enumerate(list(v)[:3]):
                out += leaf_paths(e, prefix + (name, i))
    return out


def _restamp(m: Any, dt_ns: int) -> Any:
    """A copy of ``m`` with every nested ``stamp`` (builtin_interfaces/Time) moved by dt_ns."""
    from builtin_interfaces.msg import Time
    m = copy.deepcopy(m)

    def walk(obj: Any) -> None:
        for name in obj.get_fields_and_field_types():
            v = getattr(obj, name)
            if isinstance(v, Time) and name == "stamp":
                v.sec, v.nanosec = divmod(v.sec * 10 ** 9 + v.nanosec + dt_ns, 10 ** 9)
            elif hasattr(v, "get_fields_and_field_types"):
                walk(v)
            elif isinstance(v, list) and v and hasattr(v[0], "get_fields_and_field_types"):
                for e in v:
                    walk(e)
    walk(m)
    return m


def _set_path(m: Any, path: Tuple, value: Any) -> None:
    obj = m
    for p in path[:-1]:
        if isinstance(p, int) and p >= len(obj):
            return                        # an earlier mutation shortened this sequence
        obj = obj[p] if isinstance(p, int) else getattr(obj, p)
    _assign(obj, path[-1], value)


def mutate(data: Any, base: Any, max_fields: int = 3) -> Any:
    """A copy of ``base`` with 1..max_fields of its fields (at any depth) replaced by drawn values."""
    m = copy.deepcopy(base)
    paths = leaf_paths(m)
    for _ in range(data.draw(st.integers(1, max_fields), label="fields")):
        path, t = data.draw(st.sampled_from(paths), label="path")
        _set_path(m, path, data.draw(value_strategy(t), label=".".join(map(str, path))))
    return m


def generated(data: Any, cls: type, bases: List[Any]) -> Any:
    """Half whole messages, half valid ones (from ``bases``) with a few fields replaced."""
    if not bases or data.draw(st.booleans(), label="whole"):
        return data.draw(message_strategy(cls), label=cls.__name__)
    return mutate(data, bases[data.draw(st.integers(0, len(bases) - 1), label="base")])


# ------------------------------------------------------------------------------------------ nodes
@pytest.fixture(scope="module")
def rclpy_context():
    import rclpy
    ctx = rclpy.context.Context()
    rclpy.init(context=ctx, domain_id=DOMAIN)
    yield ctx
    rclpy.try_shutdown(context=ctx)


@pytest.fixture(scope="module")
def memory(rclpy_context, tmp_path_factory):
    """The memory node in-process (configured, active, over a real store) and frames shifted to an hour ago."""
    from rclpy.parameter import Parameter

    from bench.reliability import _frames
    from memory_nodes.ros.memory_node import MemoryNode
    path = str(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    node = MemoryNode(context=rclpy_context, parameter_overrides=[
        Parameter("store.path", value=path), Parameter("node.min_free_mb", value=0.0),
        Parameter("vocab.allow_model", value=False)])
    assert node.trigger_configure() is not None and node.trigger_activate() is not None
    frames = _frames(EXAMPLES + 60, seed=21)
    shift = node.get_clock().now().nanoseconds - 3600 * 10 ** 9 - frames[0].stamp_ns
    for f in frames:
        f.stamp_ns += shift
        for o in f.observations:
            o.stamp_ns += shift
        if f.view is not None:
            f.view.stamp_ns += shift
    node.fuzz_frames, node.fuzz_path = frames, path
    yield node
    node.trigger_deactivate()
    node.trigger_cleanup()
    node.destroy_node()


def _no_escape(callback: Callable, *args: Any) -> Any:
    try:
        return callback(*args)
    except Exception as e:  # the point of the test: in an executor this kills the node
        pytest.fail(f"{getattr(callback, '__name__', callback)} let {type(e).__name__} escape: {e}")


# Store-scan findings this suite does not fail on:
# - "repeated observations": hypothesis replays an example while shrinking, and the replay differs from the first
#   run only in the fields this file restamps, so the core (which refuses an identical frame twice) stores the
#   drawn observations again under a drawn stamp: an artefact of the harness, not of the input.
# - KNOWN_GAPS (open, reported): xfail while they show, so the suite says so without failing; a fix turns them off.
_HARNESS = ("repeated observations",)
KNOWN_GAPS: Dict[str, str] = {}    # none open: the observation stamp is checked against its frame's (conversions)


def _store_is_clean(node: Any) -> None:
    from bench.reliability import _bad_rows
    node._commit_and_publish(force=True)
    _n, bad = _bad_rows(node.fuzz_path)
    bad = [b for b in bad if not any(h in b for h in _HARNESS)]
    known = sorted({why for b in bad for k, why in KNOWN_GAPS.items() if k in b})
    real = [b for b in bad if not any(k in b for k in KNOWN_GAPS)]
    assert not real, real[:10]
    if known:
        pytest.xfail("; ".join(known))


def test_memory_topics_survive_generated_messages(memory):
    from memory_interfaces.msg import FrameObservations, PlaceGraph, RoomSegmentation

    from memory_nodes.ros.conversions.perception import frame_to_msg, place_graph_to_msg, rooms_to_msg
    frames = memory.fuzz_frames
    places = [place_graph_to_msg(f.places, "map") for f in frames if f.places is not None][:5]
    rooms = [rooms_to_msg(f.rooms, "map") for f in frames if f.rooms is not None][:5]
    pool = [frame_to_msg(f, "map") for f in frames[:50]]
    feed = iter(frames[50:])
    counter = {"k": 0}

    def fresh() -> List[Any]:
        """A pool frame moved to a stamp of its own: a mutated copy of a stored frame at its old stamp would
        repeat its other observations there (the core refuses only an identical frame twice)."""
        counter["k"] += 1
        return [_restamp(m, counter["k"] * 1000) for m in pool]
    stamps: set = set()
    targets = ((memory._on_frame, FrameObservations, fresh), (memory._on_places, PlaceGraph, lambda: places),
               (memory._on_rooms, RoomSegmentation, lambda: rooms))

    @SETTINGS
    @given(data=st.data())
    def one(data: Any) -> None:
        callback, cls, bases = targets[data.draw(st.sampled_from([0, 0, 0, 1, 2]), label="topic")]
        msg = generated(data, cls, bases())
        if cls is FrameObservations:
            stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
            if stamp in stamps:               # hypothesis replays an example (shrinking) or drew a stamp again:
                return                        # a second frame at a stamp would repeat a pool frame's observations
            stamps.add(stamp)
        _no_escape(callback, msg)
        f = next(feed, None)              # a good frame between, as a stream has
        if f is not None:
            _no_escape(memory._on_frame, frame_to_msg(f, "map"))
    one()
    _store_is_clean(memory)
    assert memory.memory is not None and memory._frames_ingested > 0


def test_memory_services_answer_generated_requests_with_their_codes(memory):
    from memory_interfaces.srv import Forget, GetSceneGraph, Recall
    kinds = [v for k, v in vars(Recall.Request).items() if k.startswith("KIND_")]
    valid = Recall.Request(kind="last_seen", class_name="mug", room_id=-1, place_id=-1)
    targets = ((memory._on_recall, Recall, [valid] + [Recall.Request(kind=k, class_name="mug", room_id=-1,
                                                                     place_id=-1) for k in kinds]),
               (memory._on_forget, Forget, [Forget.Request(class_name="nothing-like-this", room_id=-1)]),
               (memory._on_get_scene_graph, GetSceneGraph, [GetSceneGraph.Request()]))

    @SETTINGS
    @given(data=st.data())
    def one(data: Any) -> None:
        handler, srv, bases = targets[data.draw(st.sampled_from([0, 0, 0, 1, 2]), label="service")]
        req = generated(data, srv.Request, bases)
        resp = _no_escape(handler, req, srv.Response())
        codes = {v: k for k, v in vars(srv.Response).items() if k.isupper() and isinstance(v, int)
                 and k not in ("SLOT_TYPES",)}
        assert resp is not None and resp.error_code in codes, resp
        assert resp.error_code != srv.Response.UNKNOWN, f"{srv.__name__}: {resp.error_msg} for {req}"
    one()
    _store_is_clean(memory)


@pytest.fixture(scope="module")
def perception(rclpy_context, tmp_path_factory):
    from memory_nodes.ros.perception_node import PerceptionNode
    node = PerceptionNode(context=rclpy_context)
    published: List[Any] = []
    node.pub_frames.publish = published.append           # its output goes to the memory node (see the test)
    node.fuzz_published = published
    yield node
    node.destroy_node()


def _camera_set(stamp_ns: int) -> List[Any]:
    """A valid color / depth / camera_info (/ instances) set, 40 x 30."""
    import numpy as np
    from sensor_msgs.msg import CameraInfo, Image
    sec, nsec = divmod(stamp_ns, 10 ** 9)

    def img(enc: str, step: int, data: bytes) -> Any:
        m = Image(height=30, width=40, encoding=enc, step=step, data=data)
        m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id = sec, nsec, "camera_optical"
        return m
    info = CameraInfo(height=30, width=40, k=[30.0, 0, 19.5, 0, 30.0, 14.5, 0, 0, 1])
    info.header = img("rgb8", 0, b"").header
    return [img("rgb8", 120, bytes(3600)), img("32FC1", 160, np.full(1200, 2.0, np.float32).tobytes()), info,
            img("16UC1", 80, bytes(2400))]


def test_perception_inputs_survive_generated_messages(perception, memory):
    from memory_interfaces.msg import InstanceClassTable
    from sensor_msgs.msg import CameraInfo, Image
    from tf2_msgs.msg import TFMessage
    node = perception
    n_topics = 4 if node.use_oracle else 3          # color, depth, camera_info (+ instances)
    types = [Image, Image, CameraInfo, Image][:n_topics]
    base_ns = node.get_clock().now().nanoseconds - 3600 * 10 ** 9
    counter = {"k": 0}
    on_tf = getattr(node.tf, "_on_tf", None)

    @SETTINGS
    @given(data=st.data())
    def one(data: Any) -> None:
        counter["k"] += 1
        good = _camera_set(base_ns + counter["k"] * 50_000_000)
        what = data.draw(st.sampled_from(["set", "set", "one", "class_table", "tf"]), label="input")
        if what == "class_table":
            _no_escape(node._on_class_table, generated(data, InstanceClassTable, []))
        elif what == "tf" and on_tf is not None:
            _no_escape(on_tf, generated(data, TFMessage, []), data.draw(st.booleans(), label="static"))
        else:
            bad = data.draw(st.integers(0, n_topics - 1), label="topic")
            msgs = list(good[:n_topics])
            msgs[bad] = generated(data, types[bad], [good[bad]])
            for i in (range(n_topics) if what == "set" else [bad]):
                _no_escape(node._on_input, i, msgs[i])
        _no_escape(node._retry_tf)
        _no_escape(node._check_inputs)
    one()
    for m in node.fuzz_published:               # what perception would publish goes into memory
        _no_escape(memory._on_frame, m)
    _store_is_clean(memory)


def test_perception_timer_callbacks_are_guarded(perception):
    """A held frame whose retry raises (here: not a synchronized set at all) is logged once under its cause,
    counted and dropped from the tf queue; the timer callbacks let nothing escape, the next tick is clean."""
    node = perception
    before = node._log_rejected.counts().get("callback_retry_tf", 0)
    node._tf_pending.clear()                 # sets the fuzz test left waiting for their tf (the node is shared)
    node._tf_pending.append(([object()], 0.0))
    _no_escape(node._retry_tf)
    assert node._tf_pending == []
    assert node._log_rejected.counts()["callback_retry_tf"] == before + 1
    _no_escape(node._retry_tf)
    _no_escape(node._check_inputs)
    assert node._log_rejected.counts()["callback_retry_tf"] == before + 1


def _ring_node(rclpy_context: Any, when_full: str) -> Tuple[Any, List[Any], int]:
    """A perception node whose resend ring holds 3 frames (resend.when_full ``when_full``), its frames
    captured instead of published, a class table and identity tf; and a stamp an hour ago to start from."""
    import numpy as np
    from rclpy.parameter import Parameter

    from memory_nodes.ros.perception_node import PerceptionNode
    node = PerceptionNode(context=rclpy_context, parameter_overrides=[
        Parameter("resend.max_frames", value=3), Parameter("detector.kind", value="oracle"),
        Parameter("resend.when_full", value=when_full)])
    published: List[Any] = []
    node.pub_frames.publish = published.append
    node.perception.set_class_table({1: "mug"})
    node.tf.buffer.set_transform("map", "camera_optical", np.eye(4), 0, static=True)
    node.tf.buffer.set_transform("map", "base_link", np.eye(4), 0, static=True)
    return node, published, node.get_clock().now().nanoseconds - 3600 * 10 ** 9


def test_perception_refuses_frames_while_memory_is_behind(rclpy_context):
    """No memory acknowledges (resend.when_full = refuse, the default): the resend ring keeps resend.max_frames
    frames; beyond, new frames are refused (rejected as memory_behind: acknowledged on frame_ack, not sent),
    one log line and counted on /diagnostics (a WARN); nothing kept is dropped; a memory heard from first gets
    what is kept, in order, and once its watermark clears the ring frames are sent again."""
    from builtin_interfaces.msg import Time
    from memory_interfaces.msg import IngestProgress

    from memory_nodes.ros.conversions.basic import ns_to_time, time_to_ns
    from memory_nodes.ros.diagnostics import WARN
    node, published, base_ns = _ring_node(rclpy_context, "refuse")
    try:
        acks: List[Time] = []
        node.pub_ack.publish = acks.append
        for k in range(5):
            assert node._process_set(_camera_set(base_ns + k * 10 ** 8)) is True
        assert [time_to_ns(m.header.stamp) for m in published] == [base_ns + k * 10 ** 8 for k in (0, 1, 2)]
        assert len(acks) == 5                                    # every frame answered on frame_ack
        assert node._log_rejected.counts() == {"memory_behind": 2} and node._log_resend.counts() == {}
        status = node._diagnose_frames()
        assert status.values["frames refused (memory behind)"] == 2 and status.values["unacknowledged held"] == 3
        assert status.values["frames dropped unacknowledged"] == 0
        assert status.level == WARN and "memory_behind" in status.message, status.message
        gid = {"publisher_gid": {"data": [7] * 16}}
        node._on_progress(IngestProgress(ingested_through=ns_to_time(base_ns)), gid)   # a memory, first heard
        assert [time_to_ns(m.header.stamp) for m in published[3:]] == [base_ns + k * 10 ** 8 for k in (0, 1, 2)]
        node._on_progress(IngestProgress(ingested_through=ns_to_time(base_ns + 2 * 10 ** 8)), gid)
        assert len(node._resend) == 0
        assert node._process_set(_camera_set(base_ns + 5 * 10 ** 8)) is True and len(published) == 7
    finally:
        node.destroy_node()


def test_perception_reports_frames_dropped_unacknowledged(rclpy_context):
    """resend.when_full = drop_oldest, no memory acknowledges: the resend ring keeps resend.max_frames frames;
    beyond, the oldest are dropped, said in one log line and counted on /diagnostics (a WARN); a memory heard
    from first gets what is kept, in order, and its watermark then clears the ring."""
    from memory_interfaces.msg import IngestProgress

    from memory_nodes.ros.conversions.basic import ns_to_time, time_to_ns
    from memory_nodes.ros.diagnostics import WARN
    node, published, base_ns = _ring_node(rclpy_context, "drop_oldest")
    try:
        for k in range(5):
            assert node._process_set(_camera_set(base_ns + k * 10 ** 8)) is True
        assert len(published) == 5, node._log_rejected.counts()
        assert node._log_resend.counts() == {"dropped_unacknowledged": 2}
        status = node._diagnose_frames()
        assert status.values["frames dropped unacknowledged"] == 2 and status.values["unacknowledged held"] == 3
        assert status.level == WARN and "dropped unacknowledged" in status.message, status.message
        gid = {"publisher_gid": {"data": [7] * 16}}
        node._on_progress(IngestProgress(ingested_through=ns_to_time(base_ns)), gid)   # a memory, first heard
        assert [time_to_ns(m.header.stamp) for m in published[5:]] == [base_ns + k * 10 ** 8 for k in (2, 3, 4)]
        node._on_progress(IngestProgress(ingested_through=ns_to_time(base_ns + 4 * 10 ** 8)), gid)
        assert len(node._resend) == 0 and node._diagnose_frames().values["frames resent"] == 3
        # Humble's rclpy has no MessageInfo: the watermark is the newest memory/ingested_through publisher's
        assert isinstance(node._memory_id(None), bytes) and node._memory_id(None) == node._memory_id({})
    finally:
        node.destroy_node()


def test_memory_refuses_a_resend_and_a_conflicting_frame(memory):
    """Over the node's callback: the same FrameObservations twice is stored once (duplicate_frame); a second
    frame at that stamp with one score changed is refused as conflicting_frame; each counted by cause."""
    import copy

    from memory_nodes.ros.conversions.perception import frame_to_msg
    f = copy.deepcopy(next(fr for fr in memory.fuzz_frames if fr.observations and fr.view is None))
    t = memory.get_clock().now().nanoseconds - 1800 * 10 ** 9
    f.stamp_ns = t
    for o in f.observations:
        o.stamp_ns = t
    msg = frame_to_msg(f, "map")
    before = dict(memory._log_bad.counts())
    memory._on_frame(msg)
    memory._commit_and_publish(force=True)
    stored = memory.memory.count_observations(t, t)
    assert stored > 0
    memory._on_frame(msg)
    near = copy.deepcopy(msg)
    near.observations[0].score = 0.5 if abs(near.observations[0].score - 0.5) > 0.01 else 0.7
    memory._on_frame(near)
    memory._commit_and_publish(force=True)
    after = memory._log_bad.counts()
    for cause in ("duplicate_frame", "conflicting_frame"):
        assert after.get(cause, 0) == before.get(cause, 0) + 1, (cause, after)
    assert memory.memory.count_observations(t, t) == stored


def test_an_object_id_of_unicode_digits_is_a_bad_request_not_a_crash(memory):
    """Found by the 10,000-example fuzz run: object_id '²' passed str.isdigit() and int() raised (UNKNOWN)."""
    from memory_interfaces.srv import Recall

    from memory_nodes.memory.records import parse_object_id
    assert parse_object_id("²") is None and parse_object_id("obj_¹²") is None
    assert parse_object_id("obj_000042") == 42 and parse_object_id("42") == 42
    req = Recall.Request(kind="staleness", object_id="²", class_name="mug", room_id=-1, place_id=-1)
    resp = _no_escape(memory._on_recall, req, Recall.Response())
    assert resp.error_code != Recall.Response.UNKNOWN, resp.error_msg
