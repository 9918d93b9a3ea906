"""The simulator's camera noise is computed in place (sim/simulator.py _add_noise) for speed: it must give
the very frames of the plain formula it replaced (same draws, same float32 operations), so every seeded
run, cached benchmark home and recorded bag stays what it was."""
from __future__ import annotations

import numpy as np

from sim import Simulator
from sim.simulator import _NOISE_SEED_TAG


def _plain(sim, rgb, depth, t_ns):
    cam = sim.config.camera
    rng = np.random.default_rng([sim.seed, _NOISE_SEED_TAG, int(t_ns) & 0x7FFFFFFFFFFFFFFF])
    z = depth.astype(np.float32, copy=True)
    sigma = (cam.depth_noise_base_m + cam.depth_noise_quadratic * z * z).astype(np.float32)
    z += sigma * rng.standard_normal(z.shape, dtype=np.float32)
    bad = (depth < cam.min_range_m) | (depth > cam.max_range_m)
    if cam.depth_dropout_prob > 0:
        bad |= rng.random(z.shape, dtype=np.float32) < cam.depth_dropout_prob
    z[bad] = np.nan
    if cam.rgb_noise_std > 0:
        n = rng.standard_normal(rgb.shape, dtype=np.float32) * np.float32(cam.rgb_noise_std)
        rgb = np.clip(rgb.astype(np.float32) + n, 0, 255).astype(np.uint8)
    return rgb, z


def test_in_place_noise_is_the_plain_formula_bit_for_bit():
    sim = Simulator(seed=3)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    rgb[0, :5] = (0, 255, 128)                              # clipping at both ends
    depth = (rng.random((48, 64)) * 12).astype(np.float32)  # some beyond max range, some too near
    for t in (0, 123_456_789, 2**62 + 5):
        a_rgb, a_z = sim._add_noise(rgb.copy(), depth.copy(), t)
        b_rgb, b_z = _plain(sim, rgb.copy(), depth.copy(), t)
        assert a_rgb.dtype == np.uint8 and np.array_equal(a_rgb, b_rgb)
        assert a_z.dtype == np.float32 and np.array_equal(a_z, b_z, equal_nan=True)
        assert np.isnan(a_z).any() and np.isfinite(a_z).any()
