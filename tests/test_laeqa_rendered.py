"""bench.laeqa --rendered (issue 19 item 4): a home's memory built from rendered frames through the product's
perception pipeline. On a tiny home's patrol: the outputs are the pipeline's (lifted observations near the
true positions, keyframes, places, rooms cut from the rendered depth), the scorer's side tables line up with
them, the harness takes the mode from the config (and keys its cache on it) and memory built from it answers."""
from __future__ import annotations

import numpy as np
import pytest
from helpers.tiny_world import tiny_sim_config

from bench.laeqa.config import LaeqaConfig
from bench.laeqa.harness import build_memory, load_or_build_home
from bench.laeqa.home import assemble_home, simulate_home
from bench.laeqa.rendered import in_view_entities, perceive_home_rendered
from memory_nodes.vocab.vocabulary import default_vocabulary


@pytest.fixture(scope="module")
def vocab():
    return default_vocabulary()


@pytest.fixture(scope="module")
def rendered(vocab):
    cfg = LaeqaConfig()
    cfg.observation.model = "rendered"
    cfg.observation.frame_stride = 8
    sim = simulate_home(3, 1, tiny_sim_config())
    run = perceive_home_rendered(sim, 1, cfg.observation, progress=False)
    return cfg, sim, run


def test_outputs_are_the_pipelines_and_the_truth_lines_up(rendered):
    cfg, sim, run = rendered
    assert run.frames_used > 5 and len(run.outputs) == run.frames_used + 1 == len(run.detection_truth)
    assert run.observations == sum(len(o.observations) for o in run.outputs) > 0
    assert [len(t) for t in run.detection_truth] == [len(o.observations) for o in run.outputs]
    assert any(o.view is not None for o in run.outputs)                       # keyframes
    assert run.places is not None and run.places.graph(run.last_patrol_end_ns).places
    assert run.outputs[-1].rooms is not None and run.outputs[-1].rooms.rooms   # cut from the rendered depth
    # a true observation of a small object lies near its true position (the scorer table is the oracle's)
    log = sim.ground_truth(1)
    objects = {o.object_id for o in sim.world.objects}

    def err(obs, eid, t):
        true_xy = np.asarray(log.object_state(eid, t).position_m)[:2]
        return float(np.linalg.norm(np.asarray(obs.centroid_m)[:2] - true_xy))
    errs = [err(obs, eid, out.stamp_ns)
            for out, truth in zip(run.outputs, run.detection_truth)
            for obs, eid in zip(out.observations, truth) if eid in objects]
    assert len(errs) >= 5 and float(np.median(errs)) < 0.3, errs
    assert run.seen and all(isinstance(v, list) and v == sorted(v) for v in run.seen.values())


def test_in_view_entities_counts_mask_pixels():
    mask = np.zeros((10, 10), np.int32)
    mask[:3, :3] = 5                  # 9 px
    mask[5, 5] = 6                    # 1 px
    assert in_view_entities(mask, {5: "obj_a", 6: "obj_b"}, 4) == ["obj_a"]
    assert sorted(in_view_entities(mask, {5: "obj_a", 6: "obj_b"}, 1)) == ["obj_a", "obj_b"]


def test_the_harness_builds_a_rendered_home_that_memory_answers_from(rendered, vocab, tmp_path):
    cfg, sim, run = rendered
    home = assemble_home(sim, 1, run, vocab.canonical)
    mem = build_memory(home, None, vocab)
    assert mem.objects(), "memory confirmed no object from the rendered patrol"
    # the harness takes the mode from the config and caches it under a key of its own
    h1, cached1 = load_or_build_home(3, 1, tiny_sim_config(), cfg.observation, vocab, tmp_path)
    h2, cached2 = load_or_build_home(3, 1, tiny_sim_config(), cfg.observation, vocab, tmp_path)
    assert not cached1 and cached2 and h1.frames_used == h2.frames_used == run.frames_used
    emu = LaeqaConfig().observation
    emu.frame_stride = 8
    h3, cached3 = load_or_build_home(3, 1, tiny_sim_config(), emu, vocab, tmp_path)
    assert not cached3                                      # the emulator's run is another cache entry
    assert len(list(tmp_path.glob("perception_s3_d1_*.pkl"))) == 1   # older configs' entries are dropped
