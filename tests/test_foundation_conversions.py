"""Image/pose/time conversions: padding, byte order, encodings, and clear rejections of bad input."""
from __future__ import annotations

import numpy as np
import pytest

from memory_nodes.common.errors import InputError
from memory_nodes.common.geometry import make_T, pose2d_T, quat_to_R
from memory_nodes.common.types import CameraIntrinsics
from memory_nodes.ros.conversions import basic as cv


def _image(arr: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False):
    from sensor_msgs.msg import Image
    a = np.ascontiguousarray(arr)
    if bigendian:
        a = a.astype(a.dtype.newbyteorder(">"))
    row = a.reshape(a.shape[0], -1).view(np.uint8)
    rows = np.concatenate([row, np.full((a.shape[0], pad), 0xAB, np.uint8)], axis=1)
    return Image(height=a.shape[0], width=a.shape[1], encoding=encoding, is_bigendian=int(bigendian),
                 step=rows.shape[1], data=rows.tobytes())


def test_rgb_with_row_padding_and_bgr_order():
    rgb = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(cv.rgb_from_image(_image(rgb, "rgb8", pad=3)), rgb)
    np.testing.assert_array_equal(cv.rgb_from_image(_image(rgb[:, :, ::-1], "bgr8", pad=1)), rgb)


def test_depth_encodings_and_invalid_values():
    mm = np.array([[1000, 0], [2500, 65535]], dtype=np.uint16)
    d = cv.depth_from_image(_image(mm, "16UC1", pad=2))
    assert d.dtype == np.float32
    assert d[0, 0] == pytest.approx(1.0) and np.isnan(d[0, 1]) and d[1, 0] == pytest.approx(2.5)
    f = np.array([[1.5, np.nan], [np.inf, -1.0]], dtype=np.float32)
    out = cv.depth_from_image(_image(f, "32FC1"))
    assert out[0, 0] == pytest.approx(1.5) and np.isnan(out[0, 1]) and np.isnan(out[1, 0]) and np.isnan(out[1, 1])
    big = cv.depth_from_image(_image(np.array([[1.25]], np.float32), "32FC1", bigendian=True))
    assert big[0, 0] == pytest.approx(1.25)


@pytest.mark.parametrize("mutate,cause", [
    (lambda m: setattr(m, "encoding", "yuv422"), "unsupported_encoding"),
    (lambda m: setattr(m, "step", 2), "bad_step"),
    (lambda m: setattr(m, "data", bytes(m.data)[:-5]), "size_mismatch"),
    (lambda m: setattr(m, "height", 0), "empty_image"),
])
def test_bad_images_are_rejected_with_a_cause(mutate, cause):
    msg = _image(np.zeros((4, 4, 3), np.uint8), "rgb8")
    mutate(msg)
    with pytest.raises(InputError) as e:
        cv.rgb_from_image(msg)
    assert e.value.cause == cause


def test_colour_decoder_refuses_depth_encoding():
    with pytest.raises(InputError) as e:
        cv.rgb_from_image(_image(np.zeros((2, 2), np.float32), "32FC1"))
    assert e.value.cause == "unsupported_encoding"


def test_numpy_image_round_trip():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(cv.image_to_numpy(cv.numpy_to_image(a, "32FC1", "cam", 5)), a)


def test_pose_transform_time_round_trips():
    T = make_T(quat_to_R(0.1, -0.2, 0.3, 0.9), (1.0, 2.0, -3.0))
    np.testing.assert_allclose(cv.pose_to_T(cv.T_to_pose(T)), T, atol=1e-12)
    np.testing.assert_allclose(cv.transform_to_T(cv.T_to_transform(T)), T, atol=1e-12)
    ns = 1_234_567_890_123
    assert cv.time_to_ns(cv.ns_to_time(ns)) == ns
    ts = cv.make_transform_stamped(pose2d_T(1, 2, 0.5), "map", "odom", ns)
    assert ts.header.frame_id == "map" and ts.child_frame_id == "odom" and cv.time_to_ns(ts.header.stamp) == ns


def test_pose_with_zero_quaternion_is_rejected():
    from geometry_msgs.msg import Pose, Quaternion
    with pytest.raises(InputError) as e:
        cv.pose_to_T(Pose(orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=0.0)))
    assert e.value.cause == "bad_pose"


def test_camera_info_round_trip_and_rejection():
    K = CameraIntrinsics(320, 240, 277.0, 277.0, 159.5, 119.5)
    assert cv.camera_info_to_intrinsics(cv.intrinsics_to_camera_info(K, "cam", 0)) == K
    bad = cv.intrinsics_to_camera_info(K, "cam", 0)
    bad.k = [0.0] * 9
    with pytest.raises(InputError):
        cv.camera_info_to_intrinsics(bad)


def test_sighting_round_trip_keeps_receptacle_and_colour():
    """Over ROS the planner reads memory through RecallItems: the furniture an object stands on and its
    colour must survive (answers say "on the dining table"; colour questions filter on it)."""
    from memory_nodes.common.protocols import Evidence, Sighting
    from memory_nodes.ros.conversions.memory import sighting_to_item
    from memory_nodes.ros.conversions.planner import sighting_from_item

    s = Sighting("obj_000005", "mug", np.array([-0.7, 1.83, 0.77]), 3, -1, 10, 20, 0.9,
                 color_rgb=(0.8, 0.1, 0.2), receptacle="dining table", evidence=Evidence(observation_ids=[4, 5]))
    back = sighting_from_item(sighting_to_item(s))
    assert back.receptacle == "dining table" and np.allclose(back.color_rgb, (0.8, 0.1, 0.2))
    assert np.allclose(back.position_m, s.position_m) and (back.first_seen_ns, back.last_seen_ns) == (10, 20)
    assert list(back.evidence.observation_ids) == [4, 5]
    plain = sighting_from_item(sighting_to_item(Sighting("o", "cup", np.zeros(3), -1, -1, 1, 1, 0.5)))
    assert plain.receptacle == "" and plain.color_rgb == (0.0, 0.0, 0.0)


def test_refusal_reason_code_reaches_the_ask_reply():
    """A refusal's code (Query.reason_code) is a field of the Ask reply, beside the reason in words."""
    from memory_interfaces.srv import Ask

    from memory_nodes.planner.answer import Answer
    from memory_nodes.planner.query import CANNOT_PARSE, Query
    from memory_nodes.ros.conversions.planner import fill_reply

    q = Query(kind=CANNOT_PARSE, text="is the stove on?", reason="I cannot see whether devices are on",
              reason_code="device_state")
    a = Answer(status="CANNOT_PARSE", query_kind=CANNOT_PARSE, reason=q.reason, query=q)
    r = fill_reply(Ask.Response(), a)
    assert r.reason_code == "device_state" and r.reason == q.reason
    assert fill_reply(Ask.Response(), Answer(status="ANSWERED", query_kind="where_now")).reason_code == ""
