"""rosbag2 bags through ``rosbags`` (a maintained pure-Python reader/writer; no rosbag2 install needed).

    with open_bag("my_bag") as bag:                      # folder with metadata.yaml (+ .mcap or .db3)
        for m in bag.messages(topics=["/tf"]):           # BagMessage: topic, msgtype, log_time_ns, data
            ...
    with BagWriter("out_bag") as w:                      # rosbag2 layout: metadata.yaml + out_bag_0.mcap
        w.add_topic("/tf", "tf2_msgs/msg/TFMessage", latched=False)
        w.write("/tf", stamp_ns, cdr_bytes)              # or w.write_msg("/tf", stamp_ns, typed_message)

Messages stay raw CDR (what rclpy publishes with ``publish(bytes)`` and receives with ``raw=True``).
``typestore()`` gives the message classes and serializer of the running ROS distribution (``$ROS_DISTRO``;
the Kilted definitions otherwise), whose definitions go into the MCAP schemas, so readers that know no
message package (``ros2 bag info``, Foxglove, the ``mcap`` tools) can decode the bag. Latched topics
(/tf_static, ...) are written with TRANSIENT_LOCAL offered QoS, so ``ros2 bag play`` latches them too.
Errors: ``BagError`` (a folder that is no bag, an unknown storage, a topic written before it was added).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Final, Iterator, List, Optional, Sequence

from memory_nodes.common.errors import MemoryStackError

ROSBAG2_VERSION: Final = 8         # metadata.yaml version: Jazzy and later read it (ros2 bag info / play)


class BagError(MemoryStackError):
    """A bag that cannot be read or written."""


def typestore():
    """rosbags' typestore for $ROS_DISTRO (humble, jazzy, kilted, ...); Kilted's when unset or unknown."""
    from rosbags.typesys import Stores, get_typestore
    distro = os.environ.get("ROS_DISTRO", "kilted").lower()
    store = getattr(Stores, f"ROS2_{distro.upper()}", Stores.ROS2_KILTED)
    return get_typestore(store)


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str            # "sensor_msgs/msg/Image"
    log_time_ns: int        # when the recorder received it (rosbag2's timestamp)
    data: bytes             # CDR, as on the wire


@dataclass(frozen=True)
class TopicInfo:
    name: str
    msgtype: str
    count: int
    latched: bool           # offered TRANSIENT_LOCAL durability (e.g. /tf_static)


class Bag:
    """A rosbag2 folder open for reading (``open_bag``)."""

    def __init__(self, path: Path):
        from rosbags.rosbag2 import Reader
        self.path = Path(path)
        try:
            self._reader = Reader(self.path)
            self._reader.open()
        except Exception as e:  # noqa: BLE001 - rosbags raises several types; one cause for the user
            raise BagError(f"{self.path}: not a readable rosbag2 bag ({type(e).__name__}: {e})") from e
        self.typestore = typestore()

    @property
    def topics(self) -> Dict[str, TopicInfo]:
        out: Dict[str, TopicInfo] = {}
        for c in self._reader.connections:
            latched = any(_durability(q) == "transient_local" for q in (getattr(c.ext, "offered_qos_profiles", None)
                                                                       or []))
            prev = out.get(c.topic)
            count = c.msgcount + (prev.count if prev else 0)
            out[c.topic] = TopicInfo(c.topic, c.msgtype, count, latched or bool(prev and prev.latched))
        return out

    @property
    def storage(self) -> str:
        import yaml
        meta = yaml.safe_load((self.path / "metadata.yaml").read_text()) or {}
        return str(meta.get("rosbag2_bagfile_information", {}).get("storage_identifier", "?"))

    @property
    def start_ns(self) -> int:
        return int(self._reader.start_time)

    @property
    def end_ns(self) -> int:
        return int(self._reader.end_time)

    @property
    def message_count(self) -> int:
        return int(self._reader.message_count)

    def messages(self, topics: Optional[Sequence[str]] = None) -> Iterator[BagMessage]:
        """Every message (of ``topics``, default all) in log-time order."""
        conns = [c for c in self._reader.connections if topics is None or c.topic in topics]
        if topics is not None and not conns:
            return
        for c, t, data in self._reader.messages(connections=conns):
            yield BagMessage(c.topic, c.msgtype, int(t), bytes(data))

    def decode(self, m: BagMessage) -> Any:
        """The message as rosbags' dataclass (fields named as in the .msg; arrays as numpy)."""
        return self.typestore.deserialize_cdr(m.data, m.msgtype)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> "Bag":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _durability(q) -> str:
    d = getattr(q, "durability", None)
    return str(getattr(d, "name", d)).lower()


def open_bag(path) -> Bag:
    """Open a rosbag2 folder (metadata.yaml + .mcap or .db3 files)."""
    p = Path(path)
    if not p.is_dir() or not (p / "metadata.yaml").is_file():
        raise BagError(f"{p}: no rosbag2 bag there (a folder with metadata.yaml and .mcap or .db3 files)")
    return Bag(p)


class BagWriter:
    """A new rosbag2 bag (MCAP storage by default; ``storage="sqlite3"`` for .db3)."""

    def __init__(self, path, storage: str = "mcap"):
        from rosbags.rosbag2 import StoragePlugin, Writer
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path} exists: a bag is written into a new folder")
        plugins = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
        if storage not in plugins:
            raise BagError(f"storage must be one of {sorted(plugins)}, got {storage!r}")
        self.typestore = typestore()
        self._writer = Writer(self.path, version=ROSBAG2_VERSION, storage_plugin=plugins[storage])
        self._writer.open()
        self._conns: Dict[str, Any] = {}
        self.counts: Dict[str, int] = {}

    def add_topic(self, topic: str, msgtype: str, latched: bool = False, msgdef: Optional[str] = None) -> None:
        """Declare a topic before writing to it. ``msgdef``: the type's definition where the typestore does
        not know the type (it is then registered)."""
        if topic in self._conns:
            return
        if msgtype not in self.typestore.types:
            if not msgdef:
                raise BagError(f"{topic}: type {msgtype} is unknown and no definition was given")
            from rosbags.typesys import get_types_from_msg
            self.typestore.register(get_types_from_msg(msgdef, msgtype))
        qos = [_latched_qos()] if latched else []
        self._conns[topic] = self._writer.add_connection(topic, msgtype, typestore=self.typestore,
                                                         offered_qos_profiles=qos)
        self.counts[topic] = 0

    def write(self, topic: str, log_time_ns: int, data: bytes) -> None:
        conn = self._conns.get(topic)
        if conn is None:
            raise BagError(f"{topic}: add_topic() before write()")
        self._writer.write(conn, int(log_time_ns), data)
        self.counts[topic] += 1

    def write_msg(self, topic: str, log_time_ns: int, msg: Any) -> None:
        """Serialize a typestore message (``self.typestore.types[...]``) and write it."""
        conn = self._conns.get(topic)
        if conn is None:
            raise BagError(f"{topic}: add_topic() before write()")
        self.write(topic, log_time_ns, bytes(self.typestore.serialize_cdr(msg, conn.msgtype)))

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> "BagWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _latched_qos():
    """RELIABLE, TRANSIENT_LOCAL, depth 1: how /tf_static and other latched topics are offered."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
    zero = QosTime(0, 0)
    return Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, zero, zero,
               QosLiveliness.AUTOMATIC, zero, False)


def list_topics(path) -> List[TopicInfo]:
    with open_bag(path) as b:
        return sorted(b.topics.values(), key=lambda t: t.name)
