"""Bring-up, pure and fast: rcl's params-file matching, the launcher's warnings, include / set_remap /
set_parameter as launch_ros scopes them, the robot profile's remaps per camera, the DDS profile variable."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

from memory_nodes.common.config import load_node_params, node_fqn, node_key_matches
from memory_nodes.ros.launcher import describe, describe_all
from memory_nodes.ros.params import params_files, unmatched_params_files

ROBOT = REPO_ROOT / "launch" / "robot.launch.yaml"
STACK = REPO_ROOT / "launch" / "memory_stack.launch.yaml"
CONFIG = {"config_dir": str(REPO_ROOT / "config")}


@pytest.mark.parametrize("key,fqn,applies", [
    ("/**", "/planner", True), ("/**", "/a/b/planner", True),
    ("/**/planner", "/planner", True), ("/**/planner", "/robot1/planner", True),
    ("/**/planner", "/a/b/planner", True), ("/**/planner", "/robot1/planner2", False),
    ("planner", "/planner", True), ("planner", "/robot1/planner", False),
    ("/planner", "/planner", True), ("/robot1/planner", "/robot1/planner", True),
    ("/robot1/planner", "/planner", False), ("/*/planner", "/robot1/planner", True),
    ("/*/planner", "/planner", False), ("/*/planner", "/a/b/planner", False),
    ("/robot1/*", "/robot1/memory", True), ("/*", "/memory", True), ("/*", "/robot1/memory", False),
    ("/robot1/**", "/robot1/a/memory", True), ("plan.ner", "/planXner", False), ("", "/planner", False),
])
def test_params_file_keys_match_nodes_as_rcl_does(key, fqn, applies):
    assert node_key_matches(key, fqn) is applies


def test_node_fqn():
    assert node_fqn("planner") == "/planner" and node_fqn("planner", "robot1") == "/robot1/planner"
    assert node_fqn("planner", "/a/b/") == "/a/b/planner"


def test_load_node_params_merges_matching_sections_in_file_order(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump({
        "/**": {"ros__parameters": {"a": {"x": 1, "y": 1}, "z": 0}},
        "/**/planner": {"ros__parameters": {"a": {"x": 2}}},
        "planner": {"ros__parameters": {"z": 3}},
        "/robot1/planner": {"ros__parameters": {"z": 4}},
        "/**/memory": {"ros__parameters": {"z": 9}}}, sort_keys=False))
    assert load_node_params(p, "planner", "") == {"a": {"x": 2, "y": 1}, "z": 3}
    assert load_node_params(p, "planner", "robot1") == {"a": {"x": 2, "y": 1}, "z": 4}
    assert load_node_params(p, "planner") == {"a": {"x": 2, "y": 1}, "z": 4}   # no namespace given: any /ns/planner


def test_every_node_config_applies_under_any_namespace():
    for node in ("sim", "perception", "memory", "planner"):
        data = yaml.safe_load((REPO_ROOT / "config" / f"{node}.yaml").read_text())
        assert list(data) == [f"/**/{node}"], node
        assert load_node_params(REPO_ROOT / "config" / f"{node}.yaml", node, "robot1") \
            == load_node_params(REPO_ROOT / "config" / f"{node}.yaml", node, "") != {}
    data = yaml.safe_load((REPO_ROOT / "config" / "planner.yaml").read_text())
    assert load_node_params(REPO_ROOT / "config" / "planner.yaml", "planner", "robot1")["utility"]["lambda_per_m"] \
        == data["/**/planner"]["ros__parameters"]["utility"]["lambda_per_m"]


def test_the_planner_node_drives_with_the_lambda_its_calibration_was_fitted_with():
    """config/planner_calibration.json (the node's calibration) is the LA-EQA fit; the fit chose lambda
    with it, and the calibration holds only for answers made at that cost of driving."""
    fitted = json.loads((REPO_ROOT / "config" / "planner_calibration.json").read_text())
    yaml_lambda = load_node_params(REPO_ROOT / "config" / "planner.yaml", "planner", "")["utility"]["lambda_per_m"]
    assert yaml_lambda == pytest.approx(fitted["planner_overrides"]["utility.lambda_per_m"])


def _launch(tmp_path: Path, text: str, name: str = "t.launch.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_launcher_warns_about_params_files_that_apply_to_no_node(tmp_path):
    bare = tmp_path / "bare.yaml"
    bare.write_text("planner:\n  ros__parameters: {x: 1}\n")
    other = tmp_path / "other.yaml"          # a site file about the memory node only: fine for the planner
    other.write_text("/**/memory:\n  ros__parameters: {x: 1}\n")
    mixed = tmp_path / "mixed.yaml"          # one section misses the planner (namespace), one hits memory
    mixed.write_text("/robot2/planner:\n  ros__parameters: {x: 1}\n/**/memory:\n  ros__parameters: {x: 1}\n")
    every = tmp_path / "every.yaml"
    every.write_text("/**:\n  ros__parameters: {x: 1}\n")
    f = _launch(tmp_path, f"""
        launch:
        - arg: {{name: namespace, default: ""}}
        - node: {{pkg: memory_ros, exec: planner_node, name: planner, namespace: "$(var namespace)",
                 param: [{{from: {bare}}}, {{from: {every}}}, {{from: {other}}}, {{from: {mixed}}}]}}
        - node: {{pkg: memory_ros, exec: memory_node, name: memory, namespace: "$(var namespace)",
                 param: [{{from: {every}}}, {{from: {other}}}]}}
    """)
    assert describe_all(f, {}, tmp_path).warnings == [
        f"WARNING node /planner: no section of {mixed} (/robot2/planner, /**/memory) applies to it, so none of "
        "its values do; key it /**/planner (any namespace) or /planner"]
    w = describe_all(f, {"namespace": "robot1"}, tmp_path).warnings
    assert len(w) == 2 and w[0].startswith(f"WARNING parameter file {bare}: its sections (planner) apply to no node")
    assert "/robot1/planner, /robot1/memory" in w[0] and w[1].startswith("WARNING node /robot1/planner: ")
    out = subprocess.run([sys.executable, "-m", "memory_nodes.ros.launcher", str(f), "namespace:=robot1", "--print"],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert out.returncode == 0 and out.stderr.count("[launch] WARNING") == 2, out.stderr


def test_stack_and_robot_launch_files_have_no_warnings(tmp_path):
    for path, args in ((STACK, {"namespace": "robot1"}), (STACK, {}), (ROBOT, {"namespace": "robot1"}), (ROBOT, {})):
        assert describe_all(path, {**CONFIG, **args}, tmp_path).warnings == [], (path, args)


def test_node_warns_when_no_params_file_names_it(tmp_path):
    bare = tmp_path / "bare.yaml"
    bare.write_text("planner:\n  ros__parameters: {x: 1}\n/**:\n  ros__parameters: {y: 1}\n")
    args = ["prog", "--ros-args", "-r", "__ns:=/robot1", "--params-file", str(bare), "--", "--params-file", "no"]
    assert params_files(args) == [str(bare)]
    assert unmatched_params_files([str(bare)], "/planner") is None
    why = unmatched_params_files([str(bare)], "/robot1/planner")
    assert why is not None and "/robot1/planner" in why and "/**/planner" in why and "(planner)" in why
    assert unmatched_params_files([], "/robot1/planner") is None
    # only /** sections (the launchers' inline values) or sections about other nodes: nothing is missed
    inline = tmp_path / "inline.yaml"
    inline.write_text("/**:\n  ros__parameters: {node_names: [memory]}\n")
    others = tmp_path / "others.yaml"
    others.write_text("memory:\n  ros__parameters: {x: 1}\n")
    assert unmatched_params_files([str(inline), str(others)], "/robot1/lifecycle_manager") is None
    assert unmatched_params_files([str(REPO_ROOT / "config" / "planner.yaml")], "/robot1/planner") is None


def test_include_set_remap_and_set_parameter_scope_as_launch_ros(tmp_path):
    _launch(tmp_path, """
        launch:
        - arg: {name: ns, default: "inner_default"}
        - arg: {name: only_inner, default: "x"}
        - node: {pkg: memory_ros, exec: planner_node, name: a, namespace: "$(var ns)",
                 remap: [{from: img, to: own}], param: [{name: p, value: "2"}]}
    """, "inner.launch.yaml")
    outer = _launch(tmp_path, """
        launch:
        - arg: {name: ns, default: "outer"}
        - group:
            actions:
            - set_remap: {from: img, to: remapped}
            - set_parameter: {name: p, value: "1"}
            - set_parameter: {name: q, value: "1"}
            - push-ros-namespace: {namespace: robot}
            - include: {file: "$(dirname)/inner.launch.yaml", arg: [{name: only_inner, value: "y"}]}
        - node: {pkg: memory_ros, exec: planner_node, name: b}
        - include: {file: "$(dirname)/inner.launch.yaml", arg: [{name: ns, value: "given"}]}
    """)
    a, b, a2 = describe(outer, {"ns": "cli"}, tmp_path)
    ros = a.command[a.command.index("--ros-args") + 1:]
    assert a.namespace == "/robot/cli"          # the command-line value reaches the included file's arg
    remaps = [ros[i + 1] for i, x in enumerate(ros) if x == "-r"]
    assert remaps.index("img:=remapped") < remaps.index("img:=own")       # set_remap first: it wins in rcl
    files = [ros[i + 1] for i, x in enumerate(ros) if x == "--params-file"]
    first, last = (yaml.safe_load(Path(f).read_text())["/**"]["ros__parameters"] for f in (files[0], files[-1]))
    assert first == {"p": 1, "q": 1} and last == {"p": 2}                 # the node's own value wins
    assert a.parameters == {"p": 2, "q": 1}
    assert not any("remapped" in c for c in b.command) and b.parameters == {} and b.namespace == ""   # scoped
    assert a2.namespace == "/given"              # an include's arg value sets the including scope's value


@pytest.mark.parametrize("camera,args,expected", [
    ("realsense", {}, ("camera/camera/color/image_raw", "camera/camera/aligned_depth_to_color/image_raw",
                       "camera/camera/color/camera_info")),
    ("orbbec", {}, ("camera/color/image_raw", "camera/depth/image_raw", "camera/color/camera_info")),
    ("generic", {"color_topic": "/head/rgb", "depth_topic": "head/depth_registered",
                 "camera_info_topic": "/head/rgb/info"}, ("/head/rgb", "head/depth_registered", "/head/rgb/info")),
])
@pytest.mark.parametrize("namespace", ["", "robot1"])
def test_robot_profile_remaps_the_cameras_topics(tmp_path, camera, args, expected, namespace):
    overrides = {**CONFIG, "camera": camera, "namespace": namespace, **args}
    out = subprocess.run([sys.executable, "-m", "memory_nodes.ros.launcher", str(ROBOT), "--print",
                          *[f"{k}:={v}" for k, v in overrides.items()]],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    nodes = {n["name"]: n for n in json.loads(out.stdout)}
    assert set(nodes) == {"perception", "memory", "planner", "lifecycle_manager"}       # no simulator
    per = nodes["perception"]
    ros = per["command"][per["command"].index("--ros-args") + 1:]
    remaps = [ros[i + 1] for i, x in enumerate(ros) if x == "-r"]
    for src, dst in zip(("camera/color/image_raw", "camera/depth/image_raw", "camera/color/camera_info"), expected):
        assert f"{src}:={dst}" in remaps
    assert ("__ns:=/robot1" in remaps) is bool(namespace) and per["namespace"] == ("/robot1" if namespace else "")
    assert not any(r.startswith("/tf") for r in remaps)
    assert per["parameters"]["detector.kind"] == "onnx" and per["parameters"]["use_sim_time"] is False
    assert per["parameters"]["frames.camera_frame"] == "" and nodes["planner"]["parameters"]["node.map_frame"] == "map"
    assert "WARNING" not in out.stderr


def test_robot_profile_frames_and_namespaced_tf(tmp_path):
    d = describe_all(ROBOT, {**CONFIG, "namespace": "robot1", "namespaced_tf": "true", "map_frame": "world",
                             "base_frame": "base_footprint", "camera_frame": "head_optical"}, tmp_path)
    per = next(n for n in d.nodes if n.name == "perception")
    assert "/tf:=tf" in per.command and "/tf_static:=tf_static" in per.command
    assert per.parameters["frames.map_frame"] == "world" and per.parameters["frames.base_frame"] == "base_footprint"
    assert per.parameters["frames.camera_frame"] == "head_optical"
    planner = next(n for n in d.nodes if n.name == "planner")
    assert planner.parameters["node.map_frame"] == "world" and planner.parameters["node.base_frame"] == "base_footprint"


@pytest.mark.parametrize("distro,legacy", [("humble", True), ("iron", True), ("jazzy", True), ("kilted", False),
                                           ("rolling", False), ("", False)])
def test_dds_profile_variable_per_distribution(tmp_path, monkeypatch, distro, legacy):
    monkeypatch.setenv("ROS_DISTRO", distro)
    for n in describe(STACK, CONFIG, tmp_path):
        assert n.env["FASTDDS_DEFAULT_PROFILES_FILE"].endswith("fastdds_large_shm.xml")
        assert ("FASTRTPS_DEFAULT_PROFILES_FILE" in n.env) is legacy, n.name


def test_use_sim_time_follows_with_sim(tmp_path):
    for with_sim, expected in (("true", True), ("false", False)):
        nodes = describe(STACK, {**CONFIG, "with_sim": with_sim}, tmp_path)
        assert {n.name: n.parameters.get("use_sim_time") for n in nodes if n.name != "sim"} == dict.fromkeys(
            ("perception", "memory", "planner", "lifecycle_manager"), expected)
    nodes = describe(STACK, {**CONFIG, "with_sim": "false", "use_sim_time": "true"}, tmp_path)
    assert all(n.parameters.get("use_sim_time") is True for n in nodes)
