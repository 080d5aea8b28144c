"""`langso camera analyze VIDEO` (local, no daemon needed) and `langso events` (through
the daemon's API)."""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from controller.cli import BAD_INPUT, FAILED, OK, CliError, _site_tz, _when, client


def _camera_config(args: argparse.Namespace) -> Any:
    from camera.config import CameraConfig
    from controller.config import load_config

    if not args.config:
        if args.camera:
            raise CliError(f"--camera: give the config that names {args.camera!r} too (--config FILE)", BAD_INPUT)
        return CameraConfig(name="analyze", source=args.video)
    cameras = load_config(args.config).cameras
    if args.camera:
        cameras = [c for c in cameras if c.name == args.camera]
        if not cameras:
            raise CliError(f"--camera: no camera named {args.camera!r} in {args.config}", BAD_INPUT)
    if not cameras:
        raise CliError(f"--config: {args.config} has no [[cameras]] entry to take the motion settings from", BAD_INPUT)
    return cameras[0]


def _writable_folder(path: Path) -> None:
    """Make --record's folder and write a file there, as the clips will be written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise CliError(f"--record: cannot write clips into {path} ({err.strerror or err}); "
                       "give a folder you can write to (it is made if missing)", BAD_INPUT) from None


def cmd_camera_analyze(args: argparse.Namespace) -> int:
    from camera.analyze import analyze
    from camera.errors import CameraError

    video = Path(args.video)
    if video.is_dir():
        raise CliError(f"VIDEO: {video} is a folder; give the path of a video file", BAD_INPUT)
    if not video.is_file():
        raise CliError(f"VIDEO: no such file {video}; give the path of a video file", BAD_INPUT)
    camera = _camera_config(args)
    record = Path(args.record) if args.record else None
    if record is not None:
        _writable_folder(record)
    try:
        result = analyze(video, camera, record)
    except CameraError as err:
        raise CliError(f"VIDEO: {err}; give a readable video file (MP4, MKV, AVI, ...)", BAD_INPUT) from None
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{video}: {result['frames']} frames at {result['fps']:.2f} fps, {len(result['events'])} events")
        for i, e in enumerate(result["events"], 1):
            tags = ",".join(e["tags"]) or "-"
            print(f"  {i:>3}  {e['start']:8.2f}s - {e['end']:8.2f}s  score {e['score']:.4f}  tags {tags}"
                  + (f"  clip {e['clip']}" if e.get("clip") else ""))
    return OK if record is None else _all_written(result["events"], record)


def _all_written(events: list[dict[str, Any]], record: Path) -> int:
    """--record failed when an event is left without its clip or snapshot (a full disk, a
    folder gone or unwritable mid-run): the events are still printed, the exit says so."""
    lost = [e for e in events if not e["clip"] or not e["snapshot"]]
    if not lost:
        return OK
    raise CliError(f"--record: {len(lost)} of {len(events)} events were not fully written into {record} "
                   "(no clip or no snapshot; the errors above say why, e.g. a full disk); free some space "
                   "or give another folder", FAILED)


def cmd_events(args: argparse.Namespace) -> int:
    query = urlencode({k: v for k, v in (("since", args.since), ("camera", args.camera), ("limit", args.limit)) if v is not None})
    result = client(args).request("GET", "/events" + (f"?{query}" if query else ""))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return OK
    tz = _site_tz(client(args).request("GET", "/status"))   # as the schedules are written, whatever this machine's TZ
    for e in result["events"]:
        start = _when(e["start"], tz)
        length = f"{e['end'] - e['start']:.1f} s" if e["end"] is not None else "ongoing"
        print(f"{e['id']:>6}  {e['camera']:<12} {start}  {length:>9}  score {e['score']:.4f}  "
              f"{','.join(e['tags']) or '-':<8} {'clip' if e['clip_url'] else '-'}"
              + ("  interrupted (closed at the next start)" if e.get("interrupted") else ""))
    print(f"(next: langso events --since {result['next_since']})")
    return OK


def add_commands(sub: Any, add: Any) -> None:
    camera = sub.add_parser("camera", help="camera tools").add_subparsers(dest="camera_command", required=True)
    p = add("analyze", cmd_camera_analyze, "run the live motion pipeline over a video file", camera)
    p.add_argument("video", metavar="VIDEO")
    p.add_argument("--json", action="store_true", help='print {"frames", "fps", "events": [...]}')
    p.add_argument("--record", metavar="DIR", help="write each event's clip (.mp4) and snapshot (.jpg) into DIR")
    p.add_argument("--config", default=argparse.SUPPRESS,  # given before the command (langso --config F camera ...) too
                   help="take the motion settings from this config's [[cameras]]")
    p.add_argument("--camera", help="which [[cameras]] entry of --config (default: the first)")
    p = add("events", cmd_events, "list camera events (through the daemon)")
    p.add_argument("--since", type=int, help="only events with a larger id (cursor)")
    p.add_argument("--camera", help="only this camera (a name from `langso status`)")
    p.add_argument("--limit", type=int)
    p.add_argument("--json", action="store_true")
