"""Typed config: one vocabulary between YAML, ROS parameters and core dataclasses; bad values fail fast."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import pytest
import yaml
from conftest import REPO_ROOT

from memory_nodes.common.config import config_from_dict, flatten, load_node_params, unflatten
from memory_nodes.common.errors import ConfigError


@dataclass
class Inner:
    rate_hz: float = 5.0
    names: List[str] = field(default_factory=lambda: ["a"])

    def validate(self):
        if self.rate_hz <= 0:
            raise ConfigError("inner.rate_hz must be > 0")


@dataclass
class Outer:
    width_px: int = 320
    enabled: bool = True
    label: Optional[str] = None
    inner: Inner = field(default_factory=Inner)


def test_defaults_values_and_nesting():
    c = config_from_dict(Outer, {"width_px": 640, "inner": {"rate_hz": 2, "names": ["x", "y"]}})
    assert c.width_px == 640 and c.inner.rate_hz == 2.0 and isinstance(c.inner.rate_hz, float)
    assert c.inner.names == ["x", "y"] and c.enabled is True and c.label is None


@pytest.mark.parametrize("data,needle", [
    ({"width_px": "640"}, "width_px"),
    ({"width_px": 1.5}, "width_px"),
    ({"enabled": "yes"}, "enabled"),
    ({"inner": {"rate_hz": -1}}, "rate_hz"),
    ({"widht_px": 3}, "unknown key"),
    ({"inner": {"names": "x"}}, "names"),
])
def test_bad_values_fail_fast_naming_the_key(data, needle):
    with pytest.raises(ConfigError) as e:
        config_from_dict(Outer, data)
    assert needle in str(e.value)


def test_flatten_matches_ros_parameter_names():
    d = {"a": {"b": 1, "c": {"d": "x"}}, "e": 2.0}
    assert flatten(d) == {"a.b": 1, "a.c.d": "x", "e": 2.0}
    assert unflatten(flatten(d)) == d


def test_node_params_merge_wildcard_and_node_sections(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump({"/**": {"ros__parameters": {"frames": {"map": "map"}, "x": 1}},
                                 "memory": {"ros__parameters": {"x": 2}}}))
    assert load_node_params(p, "memory") == {"frames": {"map": "map"}, "x": 2}
    with pytest.raises(ConfigError):
        load_node_params(tmp_path / "missing.yaml", "memory")


def test_every_config_file_is_a_ros_params_file():
    files = sorted((REPO_ROOT / "config").glob("*.yaml"))
    assert files, "config/*.yaml missing"
    for f in files:
        data = yaml.safe_load(f.read_text())
        assert isinstance(data, dict) and data, f
        for key, block in data.items():
            assert isinstance(block, dict) and "ros__parameters" in block, f"{f.name}: {key} lacks ros__parameters"
