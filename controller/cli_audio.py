"""`langso say`, `langso tts normalize`, `langso tts say` (audio wing).

TEXT may be given unquoted: the words are joined with single spaces."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

OK, FAILED, BAD_INPUT = 0, 1, 2
OUT_FORMATS = (".wav", ".mp3")  # what `langso tts say --out` writes, chosen by the name


def _text(args: argparse.Namespace) -> str:
    """The TEXT words as one text; an empty one is bad input (exit 2), said as such."""
    from controller.cli import CliError

    text = " ".join(args.text).strip()
    if not text:
        raise CliError('text: is empty; give the words, e.g. "Kính mời bà con ..."', BAD_INPUT)
    return text


def cmd_say(args: argparse.Namespace) -> int:
    from controller.cli import client

    body = {"text": _text(args), "priority": args.priority, "repeat": args.repeat}
    item = client(args).request("POST", "/broadcasts", body)
    where = "inbox (waits for approval)" if item["state"] == "inbox" else "queue"
    print(f"broadcast {item['id']} ({item['priority']}, x{item['repeat']}) added to the {where}")
    if item.get("warning"):  # queued all the same: it plays once the output works
        print(f"warning: {item['warning']}", file=sys.stderr)
    return OK


def cmd_tts_normalize(args: argparse.Namespace) -> int:
    from audio.normalize import normalize

    print(normalize(_text(args), _local_audio_config(args).abbreviations))
    return OK


def _out_path(out: str) -> Path:
    """--out checked before anything is synthesised: a .wav or .mp3 name in a directory
    that exists and can be written."""
    from controller.cli import CliError

    path = Path(out)
    if path.suffix.lower() not in OUT_FORMATS:
        raise CliError(f"--out: {out!r} is neither .wav nor .mp3; name the file e.g. thong-bao.wav or thong-bao.mp3",
                       BAD_INPUT)
    parent = path.parent
    if not parent.is_dir():
        raise CliError(f"--out: the directory {str(parent)!r} does not exist; create it (mkdir -p) or write elsewhere",
                       BAD_INPUT)
    if path.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"--out: cannot write {out!r} (a directory, or no write permission in {str(parent)!r}); "
                       "choose another path", BAD_INPUT)
    return path


def cmd_tts_say(args: argparse.Namespace) -> int:
    from audio.broadcast import BroadcastRefused
    from audio.media import encode, wav_bytes, write_file
    from audio.service import SAY_RATE, build_speech, speak
    from controller.cli import CliError

    text, out = _text(args), _out_path(args.out)
    config = _local_audio_config(args)
    cache_dir = Path(tempfile.gettempdir()) / "langso-tts-cli"
    try:
        pcm = speak(build_speech(config, cache_dir), text, SAY_RATE, config.max_text_chars)
    except BroadcastRefused as err:
        raise CliError(err.message, FAILED if err.status >= 500 else BAD_INPUT) from None
    try:
        write_file(out, (encode if out.suffix.lower() == ".mp3" else wav_bytes)(pcm, SAY_RATE))
    except OSError as err:
        raise CliError(f"--out: cannot write {str(out)!r} ({err.strerror or err})") from None
    print(f"{out}: {len(pcm) / SAY_RATE:.1f} s of speech")
    return OK


def _local_audio_config(args: argparse.Namespace) -> Any:
    from controller.cli import _local_config

    return _local_config(args).audio


def add_commands(sub: Any, add: Any) -> None:
    words = {"nargs": "+", "metavar": "TEXT", "help": "the text; quotes are optional (the words are joined with spaces)"}
    p = add("say", cmd_say, "queue a text broadcast on the loudspeakers")
    p.add_argument("text", **words)
    p.add_argument("--priority", choices=["emergency", "priority", "normal"], default="normal",
                   help="emergency (khẩn cấp) interrupts; priority (ưu tiên) goes ahead of normal (thông thường)")
    p.add_argument("--repeat", type=int, default=1, choices=range(1, 11), metavar="N", help="play it N times (1-10)")
    tts = sub.add_parser("tts", help="Vietnamese speech tools").add_subparsers(dest="tts_command", required=True)
    p = add("normalize", cmd_tts_normalize, "print the text as it will be spoken (numbers, dates, abbreviations spelled out)", tts)
    p.add_argument("text", **words)
    p = add("say", cmd_tts_say, "synthesise to a WAV (or MP3) file with the configured engine chain", tts)
    p.add_argument("text", **words)
    p.add_argument("--out", required=True, help="the file to write: FILE.wav, or FILE.mp3 for an MP3")
