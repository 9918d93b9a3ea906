"""Execution providers of the ONNX detector on a CPU-only machine: the TensorRT / CUDA options built from
onnx.* (FP16, engine cache beside the model, workspace), the order kept, what this onnxruntime lacks
skipped, and a GPU asked for but the CPU running is one warning naming what was asked, what is available
and how to fix it. A tiny model is built with onnx.helper (no torch, nothing downloaded)."""
from __future__ import annotations

import os

import pytest
from conftest import tiny_onnx_detector

from memory_nodes.common.errors import ConfigError
from memory_nodes.perception.config import OnnxConfig
from memory_nodes.perception.onnx_detector import (
    OnnxDetector,
    choose_providers,
    provider_options,
    provider_warning,
)

ort = pytest.importorskip("onnxruntime")
TRT, CUDA, CPU = "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    pytest.importorskip("onnx")
    return tiny_onnx_detector(tmp_path_factory.mktemp("onnx_providers") / "tiny.onnx")


def cfg(path: str = "", **kw) -> OnnxConfig:
    return OnnxConfig(model_path=path, class_names=["a", "b"], input_width=64, input_height=48, **kw)


def test_default_order_is_tensorrt_cuda_cpu():
    assert OnnxConfig().providers == [TRT, CUDA, CPU]
    assert choose_providers([TRT, CUDA, CPU], [CUDA, CPU]) == [CUDA, CPU]
    assert choose_providers([TRT, CUDA], ["AzureExecutionProvider", CPU]) == [CPU]


def test_tensorrt_options_fp16_engine_cache_beside_the_model(tmp_path):
    model = tmp_path / "models" / "det.onnx"
    o = provider_options(cfg(str(model)), TRT)
    assert o["trt_fp16_enable"] == "True" and o["trt_engine_cache_enable"] == "True"
    assert o["trt_engine_cache_path"] == str(tmp_path / "models" / "trt_engines") == o["trt_timing_cache_path"]
    assert o["trt_max_workspace_size"] == str(1024 * 1024 * 1024) and o["device_id"] == "0"
    o = provider_options(cfg(str(model), trt_fp16=False, trt_engine_cache=False, device_id=1,
                             trt_max_workspace_mb=256), TRT)
    assert o == {"device_id": "1", "trt_fp16_enable": "False", "trt_max_workspace_size": str(256 << 20)}
    assert provider_options(cfg(str(model), trt_engine_cache_path="/var/cache/trt"), TRT)[
        "trt_engine_cache_path"] == "/var/cache/trt"
    assert provider_options(cfg(str(model), trt_engine_cache_path="engines"), TRT)[
        "trt_engine_cache_path"] == str(tmp_path / "models" / "engines")
    assert provider_options(cfg(str(model)), CUDA) == {"device_id": "0", "arena_extend_strategy": "kSameAsRequested"}
    assert provider_options(cfg(str(model)), CPU) == {}


@pytest.mark.parametrize("bad", [dict(providers=[]), dict(providers=["cuda"]), dict(device_id=-1),
                                 dict(trt_max_workspace_mb=0)])
def test_bad_provider_settings_fail_fast(bad):
    with pytest.raises(ConfigError):
        cfg("m.onnx", **bad).validate()


def test_warning_only_when_the_first_accelerated_provider_does_not_run():
    assert provider_warning([CPU], [CPU], [CPU]) == ""
    assert provider_warning([TRT, CUDA, CPU], [TRT, CUDA, CPU], [TRT, CUDA, CPU]) == ""
    w = provider_warning([TRT, CUDA, CPU], ["AzureExecutionProvider", CPU], [CPU])
    assert "runs on CPUExecutionProvider" in w and "TensorrtExecutionProvider" in w and "AzureExecutionProvider" in w
    assert "onnxruntime-gpu" in w and "Jetson AI Lab" in w and "[CPUExecutionProvider]" in w and "\n" not in w
    # available but could not start (libraries): a different fix
    w = provider_warning([TRT, CUDA, CPU], [TRT, CUDA, CPU], [CPU])
    assert "could not start" in w and "LD_LIBRARY_PATH" in w
    w = provider_warning([TRT, CUDA, CPU], [CUDA, CPU], [CUDA, CPU])
    assert "runs on CUDAExecutionProvider" in w and "(no TensorrtExecutionProvider)" in w


def test_gpu_asked_on_this_cpu_machine_runs_cpu_with_the_warning(model_path):
    if set(ort.get_available_providers()) & {TRT, CUDA}:
        pytest.skip(f"this onnxruntime has a GPU provider ({ort.get_available_providers()})")
    det = OnnxDetector(cfg(model_path))
    assert det.provider == CPU and det.providers[-1] == CPU
    assert "runs on CPUExecutionProvider" in det.provider_warning
    assert str(ort.get_available_providers()) in det.provider_warning
    quiet = OnnxDetector(cfg(model_path, providers=[CPU]))
    assert quiet.provider == CPU and quiet.provider_warning == ""


def test_options_reach_onnxruntime_in_order(model_path, monkeypatch, tmp_path):
    """An onnxruntime that reports TensorRT and CUDA (a Jetson's): both are requested with their options and
    the engine cache folder is made; the (CPU) session that results is reported as what runs."""
    seen = {}
    real = ort.InferenceSession

    def session(path, sess_options=None, providers=None, provider_options=None):
        seen["providers"], seen["options"] = list(providers), list(provider_options)
        return real(path, sess_options=sess_options, providers=[CPU])

    monkeypatch.setattr(ort, "get_available_providers", lambda: [TRT, CUDA, CPU])
    monkeypatch.setattr(ort, "InferenceSession", session)
    cache = tmp_path / "engines"
    det = OnnxDetector(cfg(model_path, trt_engine_cache_path=str(cache)))
    assert seen["providers"] == [TRT, CUDA, CPU]
    assert seen["options"][0]["trt_engine_cache_path"] == str(cache) and seen["options"][1]["device_id"] == "0"
    assert seen["options"][2] == {} and os.path.isdir(cache)
    assert det.provider == CPU and "could not start" in det.provider_warning
