"""`langso say`, `langso tts normalize`, `langso tts say` (audio wing)."""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

OK, FAILED, BAD_INPUT = 0, 1, 2


def cmd_say(args: argparse.Namespace) -> int:
    from controller.cli import client

    body = {"text": args.text, "priority": args.priority, "repeat": args.repeat}
    item = client(args).request("POST", "/broadcasts", body)
    where = "inbox (waits for approval)" if item["state"] == "inbox" else "queue"
    print(f"broadcast {item['id']} ({item['priority']}, x{item['repeat']}) added to the {where}")
    return OK


def cmd_tts_normalize(args: argparse.Namespace) -> int:
    from audio.normalize import normalize

    print(normalize(args.text, _local_audio_config(args).abbreviations))
    return OK


def cmd_tts_say(args: argparse.Namespace) -> int:
    from audio.service import build_speech, speak_to_wav
    from audio.tts import SpeechFailed

    config = _local_audio_config(args)
    cache_dir = Path(tempfile.gettempdir()) / "langso-tts-cli"
    try:
        seconds = speak_to_wav(build_speech(config, cache_dir), args.text, args.out)
    except SpeechFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return FAILED
    print(f"{args.out}: {seconds:.1f} s of speech")
    return OK


def _local_audio_config(args: argparse.Namespace) -> Any:
    from controller.cli import _local_config

    return _local_config(args).audio


def add_commands(sub: Any, add: Any) -> None:
    p = add("say", cmd_say, "queue a text broadcast on the loudspeakers")
    p.add_argument("text")
    p.add_argument("--priority", choices=["emergency", "priority", "normal"], default="normal",
                   help="emergency (khẩn cấp) interrupts; priority (ưu tiên) goes ahead of normal (thông thường)")
    p.add_argument("--repeat", type=int, default=1, choices=range(1, 11), metavar="N", help="play it N times (1-10)")
    tts = sub.add_parser("tts", help="Vietnamese speech tools").add_subparsers(dest="tts_command", required=True)
    p = add("normalize", cmd_tts_normalize, "print the text as it will be spoken (numbers, dates, abbreviations spelled out)", tts)
    p.add_argument("text")
    p = add("say", cmd_tts_say, "synthesise to a WAV file with the configured engine chain", tts)
    p.add_argument("text")
    p.add_argument("--out", required=True, help="the WAV file to write")
