"""RTSP cameras through a real RTSP server on loopback (gst-rtsp-server): events from a
live stream, a camera that drops and comes back, wrong credentials."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from camera.errors import CameraError
from camera.sources import Frame, Packet, PyavSource
from tests.conftest import cli_client


def test_rtsp_source_gives_frames_and_h264_packets(rtsp_server):
    server = rtsp_server("one-walker")
    source = PyavSource(server.url())
    frames = packets = 0
    for item in source.items(threading.Event()):
        frames += isinstance(item, Frame)
        packets += isinstance(item, Packet)
        if frames >= 12:
            break
    source.close()
    assert source.copy_template.codec_context.codec.canonical_name == "h264"
    assert packets >= frames and item.grey.shape == (360, 640)


def test_wrong_credentials_give_a_clear_error(rtsp_server):
    """No part of the password shows, also with an @ in it (FFmpeg reads it to the last @)."""
    server = rtsp_server("one-walker", auth=("admin", "Right@123"))
    with pytest.raises(CameraError) as err:
        next(PyavSource(server.url("admin", "Wrong@456"), timeout_s=5).items(threading.Event()))
    message = str(err.value)
    assert "refused the user name or password" in message
    assert "Wrong" not in message and "456" not in message and "admin:***@127.0.0.1" in message
    ok = PyavSource(server.url("admin", "Right@123"))
    assert isinstance(next(i for i in ok.items(threading.Event()) if isinstance(i, Frame)), Frame)
    ok.close()


def test_wrong_credentials_in_the_daemon_say_so_in_status(make_config, start_app, rtsp_server, wait_for):
    server = rtsp_server("one-walker", auth=("admin", "right"))
    app = start_app(make_config(cameras=[{"name": "cong", "source": server.url("admin", "wrong")}]))
    api = cli_client(app.config.storage.dir)
    problem = wait_for(lambda: api.request("GET", "/status")["problems"].get("cameras"), what="a camera problem")
    assert "cong" in problem and "refused the user name or password" in problem and "wrong" not in problem
    cam = api.request("GET", "/cameras")["cameras"][0]
    assert cam["connected"] is False and "admin:***@" in cam["error"]
    assert api.request("POST", "/relays/tv", {"state": "on"})["on"] is True  # the house keeps working


def test_camera_drops_and_comes_back(make_config, start_app, rtsp_server, wait_for):
    server = rtsp_server("walkers-with-gaps")
    app = start_app(make_config(cameras=[{"name": "duong-lang", "source": server.url(), "pre_s": 2, "post_s": 1}]))
    api = cli_client(app.config.storage.dir)

    def camera() -> dict[str, Any]:
        return api.request("GET", "/cameras")["cameras"][0]

    wait_for(lambda: camera()["connected"], what="connected")
    first = wait_for(lambda: api.request("GET", "/events")["events"], what="an event from the live stream")[0]
    assert first["camera"] == "duong-lang"

    server.stop()  # the camera drops
    down = wait_for(lambda: (c := camera())["error"] and not c["connected"] and c, what="the drop reported")
    assert down["reconnects"] >= 1
    problem = wait_for(lambda: api.request("GET", "/status")["problems"].get("cameras"), what="status problem")
    assert "duong-lang" in problem
    assert api.request("POST", "/relays/radio", {"state": "on"})["on"] is True  # the house keeps working

    server.start()  # ... and comes back on the same address
    back = wait_for(lambda: (c := camera())["connected"] and c["error"] is None and c, what="reconnected")
    assert back["reconnects"] >= 1
    wait_for(lambda: "cameras" not in api.request("GET", "/status")["problems"], what="problem cleared")
    # the event open when the camera dropped was closed and kept
    assert all(e["end"] is not None for e in api.request("GET", "/events?since=0")["events"] if e["id"] == first["id"])



def test_main_stream_is_stream_copied_into_clips(make_config, start_app, rtsp_server, wait_for):
    """Detection on the 640x360 substream, clips from the 1280x720 main stream (a second
    RTSP server, the same scene), stream-copied."""
    import av

    sub, main = rtsp_server("one-walker"), rtsp_server("one-walker", size=(1280, 720))
    app = start_app(make_config(cameras=[{"name": "cong", "source": sub.url(), "record_source": main.url(),
                                          "pre_s": 2, "post_s": 1}]))
    api = cli_client(app.config.storage.dir)
    event = wait_for(lambda: [e for e in api.request("GET", "/events")["events"] if e["clip_url"]], what="a clip")[0]
    clip = Path(app.house.events.get(event["id"])["clip"])
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 1280, 720)
        packets = [p for p in container.demux(stream) if p.size]
    assert packets[0].is_keyframe and len(packets) >= 30


def _clip_of(app: Any, event: dict[str, Any]) -> tuple[str, int, int, bool]:
    """(codec, width, height, first packet is a keyframe) of an event's clip."""
    import av

    with av.open(app.house.events.get(event["id"])["clip"]) as container:
        stream = container.streams.video[0]
        first = next(p for p in container.demux(stream) if p.size)
        return stream.codec_context.name, stream.width, stream.height, first.is_keyframe


def test_an_h265_camera_is_watched_and_its_clips_are_h264(make_config, start_app, rtsp_server, wait_for):
    """A camera that sends H.265 (many do by default): detection decodes it, clips are
    encoded as H.264, which phone browsers play."""
    server = rtsp_server("one-walker", codec="libx265")
    app = start_app(make_config(cameras=[{"name": "cong", "source": server.url(), "pre_s": 2, "post_s": 1}]))
    api = cli_client(app.config.storage.dir)
    event = wait_for(lambda: [e for e in api.request("GET", "/events")["events"] if e["clip_url"]], what="a clip")[0]
    assert _clip_of(app, event) == ("h264", 640, 360, True)
    assert api.request("GET", "/cameras")["cameras"][0]["clip_error"] is None


def test_an_h265_main_stream_is_a_problem_and_clips_come_from_the_substream(make_config, start_app, rtsp_server,
                                                                           wait_for):
    """record_source on a main stream left at H.265 (a Hikvision's default): status names
    record_source and the fix, and events still get clips, copied from the H.264 substream."""
    sub, main = rtsp_server("one-walker"), rtsp_server("one-walker", size=(1280, 720), codec="libx265")
    app = start_app(make_config(cameras=[{"name": "cong", "source": sub.url(), "record_source": main.url(),
                                          "pre_s": 2, "post_s": 1}]))
    api = cli_client(app.config.storage.dir)
    problem = wait_for(lambda: api.request("GET", "/status")["problems"].get("cameras"), what="a camera problem")
    assert "record_source" in problem and "hevc, not H.264" in problem and "set the camera's main stream to H.264" in problem
    assert "clips are copied from source" in problem
    event = wait_for(lambda: [e for e in api.request("GET", "/events")["events"] if e["clip_url"]], what="a clip")[0]
    assert _clip_of(app, event) == ("h264", 640, 360, True)


def test_clips_come_from_the_substream_while_the_main_stream_is_down(make_config, start_app, rtsp_server, wait_for):
    """The main stream drops (the camera's connection limit, a switch): the next event's
    clip is copied from the substream; once the main stream is back, clips come from it again."""
    sub, main = rtsp_server("walkers-with-gaps"), rtsp_server("walkers-with-gaps", size=(1280, 720))
    app = start_app(make_config(cameras=[{"name": "cong", "source": sub.url(), "record_source": main.url(),
                                          "pre_s": 2, "post_s": 1}]))
    api = cli_client(app.config.storage.dir)

    def clips() -> list[dict[str, Any]]:
        return [e for e in api.request("GET", "/events?since=0")["events"] if e["clip_url"]]

    def clip_error() -> str | None:
        return api.request("GET", "/cameras")["cameras"][0]["clip_error"]

    first = wait_for(clips, what="the first walk's clip")[0]   # the walk at 2 s
    assert _clip_of(app, first) == ("h264", 1280, 720, True)
    main.stop()
    wait_for(lambda: "clips are copied from source" in (clip_error() or ""), what="the main stream's drop reported")
    second = wait_for(lambda: clips()[1:], what="the second walk's clip")[0]   # at 18 s
    assert _clip_of(app, second) == ("h264", 640, 360, True)
    main.start()
    wait_for(lambda: clip_error() is None, what="the main stream back")
    third = wait_for(lambda: clips()[2:], what="the third walk's clip")[0]   # at 38 s
    assert _clip_of(app, third) == ("h264", 1280, 720, True)
