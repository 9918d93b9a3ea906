"""MuJoCo headless renderer: one model per world and resolution, objects as mocap bodies.

Per frame: set the mocap poses of objects, drifting chairs and the camera rig, run kinematics, then two
low-level passes into one offscreen buffer: (1) shaded RGB + depth buffer, (2) segmentation colours that
map to geoms and from there to instance ids. Depth comes back metric (z along the optical axis).
"""
from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple

import numpy as np

from memory_nodes.common.types import CameraIntrinsics

from ..world import World
from .geometry import Body, Prim, world_bodies, yaw_quat_wxyz

_NEAR_M = 0.05
_FAR_M = 40.0
_EXTENT_M = 10.0
# optical frame (x right, y down, z forward) -> MuJoCo camera frame (x right, y up, z backward)
_OPT_TO_MJ = np.diag([1.0, -1.0, -1.0])


def _prim_xml(p: Prim, name: str) -> str:
    rgba = f"{p.rgb[0]:.4f} {p.rgb[1]:.4f} {p.rgb[2]:.4f} 1"
    q = yaw_quat_wxyz(p.yaw_rad)
    pos = f"{p.pos[0]:.6f} {p.pos[1]:.6f} {p.pos[2]:.6f}"
    quat = f"{q[0]:.8f} {q[1]:.8f} {q[2]:.8f} {q[3]:.8f}"
    size = " ".join(f"{s:.6f}" for s in p.size)
    return (f'<geom name="{name}" type="{p.kind}" size="{size}" pos="{pos}" quat="{quat}" rgba="{rgba}" '
            f'contype="0" conaffinity="0"/>')


def build_mjcf(world: World, bodies: List[Body], intrinsics: CameraIntrinsics) -> Tuple[str, List[int]]:
    """MJCF text and the instance id of each named geom, in naming order (g0, g1, ...)."""
    fovy = math.degrees(2.0 * math.atan((intrinsics.height / 2.0) / intrinsics.fy))
    W, H = world.size_xy_m
    parts: List[str] = []
    inst: List[int] = []
    for b in bodies:
        geoms = []
        for p in b.prims:
            geoms.append(_prim_xml(p, f"g{len(inst)}"))
            inst.append(p.instance_id)
        x, y, z, yaw = b.pose
        q = yaw_quat_wxyz(yaw)
        mocap = ' mocap="true"' if b.dynamic else ""
        parts.append(f'<body name="{b.name}" pos="{x:.6f} {y:.6f} {z:.6f}" '
                     f'quat="{q[0]:.8f} {q[1]:.8f} {q[2]:.8f} {q[3]:.8f}"{mocap}>' + "".join(geoms) + "</body>")
    ow = max(intrinsics.width, 64)
    oh = max(intrinsics.height, 64)
    xml = f"""<mujoco model="household">
  <statistic extent="{_EXTENT_M}" center="{W / 2:.3f} {H / 2:.3f} 1"/>
  <visual>
    <global offwidth="{ow}" offheight="{oh}"/>
    <map znear="{_NEAR_M / _EXTENT_M}" zfar="{_FAR_M / _EXTENT_M}"/>
    <quality shadowsize="0" offsamples="0"/>
    <headlight ambient="0.38 0.38 0.38" diffuse="0.42 0.42 0.42" specular="0 0 0"/>
  </visual>
  <worldbody>
    <light directional="true" pos="{W / 2:.3f} {H / 2:.3f} 6" dir="0.3 0.2 -1" diffuse="0.35 0.35 0.33"
           specular="0 0 0" castshadow="false"/>
    {''.join(parts)}
    <body name="camrig" mocap="true" pos="0 0 1">
      <camera name="cam" pos="0 0 0" fovy="{fovy:.8f}"/>
    </body>
  </worldbody>
</mujoco>"""
    return xml, inst


class MujocoRenderer:
    """Renders (rgb, metric depth, instance ids) of a world at any camera pose and scene state."""

    backend = "mujoco"

    def __init__(self, world: World, intrinsics: CameraIntrinsics, gl_backend: str):
        import mujoco
        self._mj = mujoco
        self.world = world
        self.intrinsics = intrinsics
        self.gl_backend = gl_backend
        self.bodies = world_bodies(world)
        xml, inst = build_mjcf(world, self.bodies, intrinsics)
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.data = mujoco.MjData(self.model)
        m = self.model
        # geom id -> instance id
        self._geom_inst = np.zeros(m.ngeom, dtype=np.int32)
        for k, iid in enumerate(inst):
            self._geom_inst[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"g{k}")] = iid
        # mocap index of each dynamic body, by key
        self._mocap_of = {}
        for b in self.bodies:
            if b.dynamic:
                bid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, b.name)
                self._mocap_of[b.key] = int(m.body_mocapid[bid])
        self._nominal = {b.key: b.pose for b in self.bodies if b.dynamic}
        bid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "camrig")
        self._cam_mocap = int(m.body_mocapid[bid])
        self._cam_id = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_CAMERA, "cam")
        self._ctx: Any = None        # mujoco.MjrContext once an OpenGL context exists
        self._gl: Any = None         # mujoco.GLContext
        self._lut: Optional[np.ndarray] = None
        w, h = intrinsics.width, intrinsics.height
        self._rect = mujoco.MjrRect(0, 0, w, h)
        self._rgb = np.empty((h, w, 3), dtype=np.uint8)
        self._seg = np.empty((h, w, 3), dtype=np.uint8)
        self._zbuf = np.empty((h, w), dtype=np.float32)
        self._scn = mujoco.MjvScene(m, maxgeom=m.ngeom + 64)
        self._opt = mujoco.MjvOption()
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._cam.fixedcamid = self._cam_id
        for flag in ("mjRND_SHADOW", "mjRND_REFLECTION", "mjRND_SKYBOX", "mjRND_FOG", "mjRND_HAZE"):
            self._scn.flags[getattr(mujoco.mjtRndFlag, flag)] = 0
        n, f = _NEAR_M, _FAR_M
        self._depth_num = f * n
        self._depth_den = f - n

    def _ensure_context(self) -> None:
        mj = self._mj
        if self._ctx is None:
            self._gl = mj.GLContext(max(self.intrinsics.width, 64), max(self.intrinsics.height, 64))
            self._gl.make_current()
            self._ctx = mj.MjrContext(self.model, mj.mjtFontScale.mjFONTSCALE_150.value)
            mj.mjr_setBuffer(mj.mjtFramebuffer.mjFB_OFFSCREEN.value, self._ctx)
            self._ctx.readDepthMap = mj.mjtDepthMap.mjDEPTH_ZEROFAR
        else:
            self._gl.make_current()

    def set_scene(self, scene) -> None:
        """Mocap poses from a SceneState (absent objects are parked far below the floor)."""
        d = self.data
        for key, mid in self._mocap_of.items():
            if key in scene.objects:
                p = scene.objects[key]
                if p is None:
                    d.mocap_pos[mid] = (0.0, 0.0, -50.0)
                    continue
                x, y, z, yaw = p
            elif key in scene.furniture:
                x, y, yaw = scene.furniture[key]
                z = 0.0
            else:
                x, y, z, yaw = self._nominal[key]
            d.mocap_pos[mid] = (x, y, z)
            d.mocap_quat[mid] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))

    def render(self, map_T_camera: np.ndarray, scene) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rgb (H, W, 3) uint8, depth_m (H, W) float32 (inf = nothing within range), instances (H, W) int32)."""
        mj = self._mj
        self._ensure_context()
        self.set_scene(scene)
        d = self.data
        R = np.asarray(map_T_camera[:3, :3], dtype=np.float64) @ _OPT_TO_MJ
        q = np.empty(4)
        mj.mju_mat2Quat(q, np.ascontiguousarray(R).reshape(-1))
        d.mocap_pos[self._cam_mocap] = map_T_camera[:3, 3]
        d.mocap_quat[self._cam_mocap] = q
        mj.mj_kinematics(self.model, d)
        mj.mj_camlight(self.model, d)
        scn = self._scn
        mj.mjv_updateScene(self.model, d, self._opt, None, self._cam, mj.mjtCatBit.mjCAT_ALL.value, scn)
        # pass 1: shaded colour and depth
        scn.flags[mj.mjtRndFlag.mjRND_SEGMENT] = 0
        scn.flags[mj.mjtRndFlag.mjRND_IDCOLOR] = 0
        mj.mjr_render(self._rect, scn, self._ctx)
        mj.mjr_readPixels(self._rgb, self._zbuf, self._rect, self._ctx)
        # pass 2: segmentation
        scn.flags[mj.mjtRndFlag.mjRND_SEGMENT] = 1
        scn.flags[mj.mjtRndFlag.mjRND_IDCOLOR] = 1
        mj.mjr_render(self._rect, scn, self._ctx)
        mj.mjr_readPixels(self._seg, None, self._rect, self._ctx)
        scn.flags[mj.mjtRndFlag.mjRND_SEGMENT] = 0
        scn.flags[mj.mjtRndFlag.mjRND_IDCOLOR] = 0
        # segment colour -> scene geom -> model geom -> instance id. mjv_updateScene adds the same geoms
        # in the same order every frame (nothing is culled; absent objects are parked), so the table is
        # built once per scene size.
        ng = scn.ngeom
        lut = self._lut
        if lut is None or lut.shape[0] != ng + 2:
            lut = np.zeros(ng + 2, dtype=np.int32)
            geom_type = int(mj.mjtObj.mjOBJ_GEOM)
            for g in scn.geoms[:ng]:
                if g.segid >= 0 and g.objtype == geom_type and g.objid >= 0:
                    lut[g.segid + 1] = self._geom_inst[g.objid]
            self._lut = lut
        seg = self._seg
        code = seg[..., 0].astype(np.int32) | (seg[..., 1].astype(np.int32) << 8) | (seg[..., 2].astype(np.int32) << 16)
        np.clip(code, 0, ng + 1, out=code)
        inst = lut[code][::-1].copy()
        rgb = self._rgb[::-1].copy()
        z = self._zbuf[::-1].astype(np.float64)
        depth = (self._depth_num / (z * self._depth_den + _NEAR_M)).astype(np.float32)
        depth[z <= 0.0] = np.inf
        return rgb, depth, inst

    def close(self) -> None:
        if self._ctx is not None:
            try:
                self._gl.make_current()
                self._ctx.free()
                self._gl.free()
            except Exception:  # teardown of a GL context must not mask the caller's exception
                pass
            self._ctx = None
            self._gl = None
