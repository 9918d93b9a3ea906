"""Pip-only fallback renderer: analytic ray casting of the same primitives the MuJoCo model has.

Chosen automatically when no GL platform works (no EGL/OSMesa libraries and no root). Needs nothing but
numpy. Each primitive is tested only against the rays inside its projected bounding rectangle, with a
z-buffer; shading is Lambert with a head light plus ambient, close to the MuJoCo look. Depth and instance
ids are exact. Slower than MuJoCo (tens of ms per 320x240 frame) but identical geometry.
"""
from __future__ import annotations

import math
from typing import List, Tuple

import numpy as np

from memory_nodes.common.types import CameraIntrinsics

from ..world import World
from .geometry import Body, world_bodies

_NEAR_M = 0.05


class _P:
    """A primitive placed in the map frame."""
    __slots__ = ("kind", "size", "center", "R", "rgb", "inst")

    def __init__(self, kind, size, center, R, rgb, inst):
        self.kind, self.size, self.center, self.R, self.rgb, self.inst = kind, size, center, R, rgb, inst


def _Rz(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class NumpyRenderer:
    backend = "numpy"

    def __init__(self, world: World, intrinsics: CameraIntrinsics):
        self.world = world
        self.intrinsics = intrinsics
        self.bodies: List[Body] = world_bodies(world)
        K = intrinsics
        u, v = np.meshgrid(np.arange(K.width, dtype=np.float64), np.arange(K.height, dtype=np.float64))
        self._rays_cam = np.stack([(u - K.cx) / K.fx, (v - K.cy) / K.fy, np.ones_like(u)], -1)  # z = 1

    def _placed(self, scene) -> List[_P]:
        out: List[_P] = []
        for b in self.bodies:
            x, y, z, yaw = b.pose
            if b.dynamic:
                if b.key in scene.objects:
                    p = scene.objects[b.key]
                    if p is None:
                        continue
                    x, y, z, yaw = p
                elif b.key in scene.furniture:
                    x, y, yaw = scene.furniture[b.key]
                    z = 0.0
            Rb = _Rz(yaw)
            tb = np.array([x, y, z])
            for p in b.prims:
                out.append(_P(p.kind, p.size, Rb @ np.asarray(p.pos) + tb, Rb @ _Rz(p.yaw_rad),
                              np.asarray(p.rgb, dtype=np.float32), p.instance_id))
        return out

    @staticmethod
    def _half_extents(p: _P) -> np.ndarray:
        if p.kind == "box":
            return np.asarray(p.size)
        if p.kind == "cylinder":
            return np.array([p.size[0], p.size[0], p.size[1]])
        return np.array([p.size[0]] * 3)

    def render(self, map_T_camera: np.ndarray, scene) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        K = self.intrinsics
        H, W = K.height, K.width
        R_wc = map_T_camera[:3, :3]
        o_w = map_T_camera[:3, 3]
        R_cw = R_wc.T
        zbuf = np.full((H, W), np.inf)
        inst = np.zeros((H, W), dtype=np.int32)
        col = np.zeros((H, W, 3), dtype=np.float32)
        shade = np.zeros((H, W), dtype=np.float32)
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
        for p in self._placed(scene):
            he = self._half_extents(p)
            corners_w = p.center + (signs * he) @ p.R.T
            cc = (corners_w - o_w) @ R_cw.T
            if np.all(cc[:, 2] < _NEAR_M):
                continue
            if np.any(cc[:, 2] < _NEAR_M):
                u0, u1, v0, v1 = 0, W, 0, H
            else:
                us = K.fx * cc[:, 0] / cc[:, 2] + K.cx
                vs = K.fy * cc[:, 1] / cc[:, 2] + K.cy
                u0, u1 = max(0, int(math.floor(us.min()))), min(W, int(math.ceil(us.max())) + 1)
                v0, v1 = max(0, int(math.floor(vs.min()))), min(H, int(math.ceil(vs.max())) + 1)
                if u0 >= u1 or v0 >= v1:
                    continue
            d_c = self._rays_cam[v0:v1, u0:u1]                       # camera frame, z = 1
            # ray in the primitive's frame: o + t d (t = optical depth because d_c.z = 1)
            M = p.R.T @ R_wc
            d = d_c @ M.T
            o = p.R.T @ (o_w - p.center)
            t, n_local = self._intersect(p, o, d, he)
            if t is None:
                continue
            sub = zbuf[v0:v1, u0:u1]
            win = (t > _NEAR_M) & (t < sub)
            if not win.any():
                continue
            sub[win] = t[win]
            inst[v0:v1, u0:u1][win] = p.inst
            col[v0:v1, u0:u1][win] = p.rgb
            n_local = np.where(np.isfinite(t)[..., None], n_local, 0.0)
            n_local = n_local / np.maximum(np.linalg.norm(n_local, axis=-1, keepdims=True), 1e-12)
            n_c = n_local @ M                                        # normals in the camera frame
            dn = d_c / np.linalg.norm(d_c, axis=-1, keepdims=True)
            lam = np.abs(np.sum(n_c * dn, -1))
            shade[v0:v1, u0:u1][win] = lam[win]
        rgb = np.clip(col * (0.38 + 0.5 * shade)[..., None] * 255.0, 0, 255).astype(np.uint8)
        return rgb, zbuf.astype(np.float32), inst

    @staticmethod
    def _intersect(p: _P, o: np.ndarray, d: np.ndarray, he: np.ndarray):
        """Entry distance t (inf = miss) and the local normal at the hit, for rays o + t d."""
        if p.kind == "box":
            with np.errstate(divide="ignore", invalid="ignore"):
                inv = 1.0 / d
                t1 = (-he - o) * inv
                t2 = (he - o) * inv
            tmin = np.minimum(t1, t2)
            tmax = np.maximum(t1, t2)
            tmin = np.nan_to_num(tmin, nan=-np.inf)
            tmax = np.nan_to_num(tmax, nan=np.inf)
            t_near = tmin.max(-1)
            t_far = tmax.min(-1)
            hit = (t_near <= t_far) & (t_far > 0)
            axis = tmin.argmax(-1)
            t = np.where(hit, np.where(t_near > 0, t_near, np.inf), np.inf)
            n = np.zeros(d.shape)
            np.put_along_axis(n, axis[..., None], 1.0, -1)
            return t, n
        if p.kind == "sphere":
            r = p.size[0]
            a = np.sum(d * d, -1)
            b = 2 * (d @ o)
            c = float(o @ o) - r * r
            disc = b * b - 4 * a * c
            hit = disc >= 0
            t = np.where(hit, (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a), np.inf)
            t = np.where(t > 0, t, np.inf)
            n = o + np.where(np.isfinite(t), t, 0.0)[..., None] * d
            return t, n
        # vertical cylinder: side and caps
        r, hh = p.size
        a = d[..., 0] ** 2 + d[..., 1] ** 2
        b = 2 * (d[..., 0] * o[0] + d[..., 1] * o[1])
        c = o[0] ** 2 + o[1] ** 2 - r * r
        disc = b * b - 4 * a * c
        with np.errstate(divide="ignore", invalid="ignore"):
            ts = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
        zs = o[2] + ts * d[..., 2]
        side = (disc >= 0) & (a > 1e-12) & (ts > 0) & (np.abs(zs) <= hh)
        t_side = np.where(side, ts, np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            tc = np.where(d[..., 2] < 0, (hh - o[2]) / d[..., 2], (-hh - o[2]) / d[..., 2])
        xc = o[0] + tc * d[..., 0]
        yc = o[1] + tc * d[..., 1]
        cap = (tc > 0) & (xc * xc + yc * yc <= r * r)
        t_cap = np.where(cap, tc, np.inf)
        t = np.minimum(t_side, t_cap)
        n = np.zeros(d.shape)
        use_side = t_side <= t_cap
        ts0 = np.where(np.isfinite(t_side), t_side, 0.0)
        n[..., 0] = np.where(use_side, o[0] + ts0 * d[..., 0], 0.0)
        n[..., 1] = np.where(use_side, o[1] + ts0 * d[..., 1], 0.0)
        n[..., 2] = np.where(use_side, 0.0, 1.0)
        return t, n

    def close(self) -> None:
        pass
