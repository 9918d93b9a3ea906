"""The pip runner interprets the same YAML launch description `ros2 launch` reads, node for node."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT, ros_env, wait_until

from memory_nodes.ros.launcher import LaunchError, Stack, describe


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "t.launch.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def _ros_args(cmd):
    return cmd[cmd.index("--ros-args") + 1:]


def test_main_launch_file_names_every_node_with_its_params(tmp_path):
    specs = {s.name: s for s in describe(REPO_ROOT / "launch" / "memory_stack.launch.yaml",
                                         {"namespace": "robot1", "log_level": "debug"}, tmp_path)}
    assert set(specs) == {"sim", "perception", "memory", "planner", "lifecycle_manager"}
    for name, s in specs.items():
        args = _ros_args(s.command)
        assert f"__node:={name}" in args and "__ns:=/robot1" in args
        assert args[args.index("--log-level") + 1] == "debug"
        files = [args[i + 1] for i, a in enumerate(args) if a == "--params-file"]
        assert all(Path(f).is_file() for f in files)
        if name != "lifecycle_manager":
            assert any(f.endswith(f"/config/{name}.yaml") for f in files), (name, files)
            assert files.index(next(f for f in files if f.endswith("site.yaml"))) > 0  # overrides come later
    no_sim = {s.name for s in describe(REPO_ROOT / "launch" / "memory_stack.launch.yaml", {"with_sim": "false"},
                                       tmp_path)}
    assert "sim" not in no_sim and "memory" in no_sim


def test_substitutions_conditions_remaps_and_inline_params(tmp_path):
    f = _write(tmp_path, """
        launch:
        - arg: {name: ns, default: "a"}
        - arg: {name: flag, default: "false"}
        - let: {name: topic, value: "cam_$(var ns)"}
        - node:
            pkg: memory_ros
            exec: planner_node
            name: p1
            namespace: "$(var ns)"
            remap: [{from: "ask", to: "$(var topic)/ask"}]
            param: [{name: budget_m, value: "2.5"}, {name: names, value: ["x", "y"]}]
        - node: {pkg: memory_ros, exec: planner_node, name: p2, if: "$(var flag)"}
        - node: {pkg: memory_ros, exec: planner_node, name: p3, unless: "$(var flag)"}
        - group:
            namespace: grp
            actions:
            - node: {pkg: memory_ros, exec: planner_node, name: p4, namespace: inner}
    """)
    specs = describe(f, {"ns": "b"}, tmp_path)
    assert [s.name for s in specs] == ["p1", "p3", "p4"]
    args = _ros_args(specs[0].command)
    assert "ask:=cam_b/ask" in args and "__ns:=/b" in args
    pfile = args[args.index("--params-file") + 1]
    assert yaml.safe_load(Path(pfile).read_text()) == {"/**": {"ros__parameters": {"budget_m": 2.5,
                                                                                  "names": ["x", "y"]}}}
    assert "__ns:=/grp/inner" in _ros_args(specs[2].command)
    assert [s.name for s in describe(f, {"flag": "true"}, tmp_path)] == ["p1", "p2", "p4"]


def test_eval_choices_and_log_lines(tmp_path):
    """$(eval) of literals (conditional expressions too, as ros2 launch's Python eval has them), an
    argument's `choice` list, and `log` lines; the pip runner resolves them as ros2 launch does."""
    from memory_nodes.ros.launcher import describe_all
    f = _write(tmp_path, """
        launch:
        - arg: {name: sim, default: "true", choice: [{value: "true"}, {value: "false"}]}
        - arg: {name: kind, default: "$(eval \\"'a b' if '$(var sim)' == 'true' else 'c'\\")",
                choice: [{value: "a b"}, {value: c}]}
        - let: {name: both, value: "$(eval \\"'$(var kind)' == 'c' and not $(var sim)\\")"}
        - log: {message: "kind $(var kind), both $(var both)"}
        - node: {pkg: memory_ros, exec: planner_node, name: p, param: [{name: k, value: "$(var kind)"}],
                 if: "$(eval '$(var sim) == true')"}
    """)
    d = describe_all(f, {}, tmp_path)
    assert d.arguments == {"sim": "true", "kind": "a b"} and d.messages == ["kind a b, both false"]
    assert [s.name for s in d.nodes] == ["p"] and d.nodes[0].parameters == {"k": "a b"}
    d = describe_all(f, {"sim": "false"}, tmp_path)
    assert d.arguments["kind"] == "c" and d.messages == ["kind c, both true"] and d.nodes == []
    for bad, needle in (({"sim": "yes"}, "sim:=yes is not one of ['true', 'false']"),
                        ({"kind": "d"}, "kind:=d is not one of")):
        with pytest.raises(LaunchError, match=needle.replace("[", r"\[").replace("]", r"\]")):
            describe_all(f, bad, tmp_path)
    g = _write(tmp_path, """
        launch:
        - let: {name: x, value: "$(eval __import__)"}
    """)
    with pytest.raises(LaunchError, match="literals"):
        describe_all(g, {}, tmp_path)


@pytest.mark.parametrize("text,overrides,needle", [
    ("launch:\n- node: {pkg: memory_ros, exec: nope}\n", {}, "nope"),
    ("launch:\n- include: {file: x}\n", {}, "include"),
    ("launch:\n- arg: {name: a}\n", {}, "'a'"),
    ("launch:\n- arg: {name: a, default: '1'}\n", {"b": "2"}, "unknown launch argument"),
    ("launch:\n- node: {pkg: memory_ros, exec: sim_node, param: [{from: /no/such.yaml}]}\n", {}, "not found"),
    ("nodes: []\n", {}, "launch"),
])
def test_bad_descriptions_are_clear_errors(tmp_path, text, overrides, needle):
    with pytest.raises(LaunchError) as e:
        describe(_write(tmp_path, text), overrides, tmp_path)
    assert needle in str(e.value)


@pytest.mark.ros
def test_runner_starts_nodes_and_lifecycle_manager_activates_them(tmp_path):
    log = tmp_path / "transitions.txt"
    helper = REPO_ROOT / "tests" / "helpers" / "dummy_lifecycle_node.py"
    f = _write(tmp_path, """
        launch:
        - arg: {name: namespace, default: "t"}
        - node: {pkg: memory_ros, exec: lifecycle_manager, name: lifecycle_manager, namespace: "$(var namespace)",
                 param: [{name: node_names, value: ["dummy"]}, {name: autostart, value: true}]}
    """)
    stack = Stack.from_file(f, env=ros_env(5), echo=False, log_dir=tmp_path / "logs")
    import subprocess
    dummy = subprocess.Popen([sys.executable, str(helper), "--ros-args", "-r", "__ns:=/t", "-p",
                              f"log_file:={log}"], env=ros_env(5))
    try:
        stack.start()
        wait_until(lambda: log.exists() and log.read_text().split() == ["configure", "activate"], 60,
                   what="dummy configured and activated")
        mlog = tmp_path / "logs" / "lifecycle_manager.log"   # the manager logs once activate has replied
        wait_until(lambda: mlog.exists() and "managed nodes active: dummy" in mlog.read_text(), 30,
                   what="the lifecycle manager's 'managed nodes active' line")
        assert stack.poll()["lifecycle_manager"] is None  # still running
    finally:
        codes = stack.stop()
        dummy.terminate()
        try:
            dummy.wait(10)
        except subprocess.TimeoutExpired:   # the helper node, not the system under test: seen once under load
            dummy.kill()
            dummy.wait(10)
    assert codes["lifecycle_manager"] is not None
    assert "managed nodes active: dummy" in (tmp_path / "logs" / "lifecycle_manager.log").read_text()


_NODE_BEHIND_A_PARENT = """
import subprocess, sys, time
child = subprocess.Popen(sys.argv[1:])
print(child.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.ros
def test_a_node_exits_when_its_parent_is_killed(tmp_path):
    """What started a node dies by SIGKILL (ros2 launch killed hard): the node follows within seconds
    (PR_SET_PDEATHSIG). On its way: a params file keyed by the bare node name under a namespace gets the
    node's warning, and use_sim_time with no /clock its ERROR."""
    import os
    import signal
    import subprocess
    bare = tmp_path / "bare.yaml"
    bare.write_text("memory:\n  ros__parameters:\n    association: {weight_color: 0.25}\n")
    log = tmp_path / "memory.log"
    node = [sys.executable, "-c", "import sys; from memory_nodes.ros.memory_node import main; sys.exit(main())",
            "--ros-args", "-r", "__ns:=/robot1", "--params-file", str(bare), "-p", "use_sim_time:=true",
            "-p", f"data_dir:={tmp_path / 'data'}"]
    with log.open("w") as out:
        parent = subprocess.Popen([sys.executable, "-c", _NODE_BEHIND_A_PARENT, *node], env=ros_env(6),
                                  stdout=subprocess.PIPE, stderr=out, text=True)
    node_pid = int(parent.stdout.readline())
    try:
        wait_until(lambda: "nothing publishes /clock" in log.read_text(), 60, what="the /clock ERROR")
        text = log.read_text()
        assert "no parameter file has a section for /robot1/memory" in text and "/**/memory" in text
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)

        def gone() -> bool:
            try:
                os.kill(node_pid, 0)
            except ProcessLookupError:
                return True
            try:   # a zombie reaped by nobody yet counts as gone
                return Path(f"/proc/{node_pid}/stat").read_text().split(") ")[1].startswith("Z")
            except OSError:
                return True
        wait_until(gone, 10, what="the node to exit after its parent was killed")
    finally:
        for pid in (parent.pid, node_pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.ros
def test_sigterm_to_the_pip_runner_stops_every_node(tmp_path):
    """SIGTERM to `memory-stack` ends every node as Ctrl-C does (the memory node commits its store)."""
    import os
    import signal
    import subprocess
    f = _write(tmp_path, f"""
        launch:
        - node: {{pkg: memory_ros, exec: memory_node, name: memory, namespace: t,
                 param: [{{name: data_dir, value: "{tmp_path / 'data'}"}}]}}
        - node: {{pkg: memory_ros, exec: lifecycle_manager, name: lifecycle_manager, namespace: t,
                 param: [{{name: node_names, value: ["memory"]}}]}}
    """)
    log = tmp_path / "stack.log"
    with log.open("w") as out:
        runner = subprocess.Popen([sys.executable, "-m", "memory_nodes.ros.launcher", str(f)], env=ros_env(7),
                                  stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    try:
        wait_until(lambda: "managed nodes active: memory" in log.read_text(), 150, what="memory active")
        pids = [int(p) for p in subprocess.run(["pgrep", "-P", str(runner.pid)], capture_output=True,
                                               text=True).stdout.split()]
        assert len(pids) == 2
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(30) == 0, log.read_text()[-3000:]
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        store, wal = tmp_path / "data" / "memory.db", tmp_path / "data" / "memory.db-wal"
        assert store.is_file() and not wal.exists()      # closed: SQLite checkpoints and removes its WAL
    finally:
        if runner.poll() is None:
            runner.kill()
