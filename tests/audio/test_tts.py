"""The engine chain: real espeak-ng, gTTS against a local server standing in for Google,
the no-network path (fast failure, no 0-byte file, circuit breaker), the cache."""
from __future__ import annotations

import json
import subprocess
import urllib.parse
import sys
import wave
from pathlib import Path

import av

from audio.media import decode
from audio.tts import Breaker, Speech, SpeechFailed, TtsCache, split_sentences
from audio.tts_engines import EngineFailed, EspeakEngine, GttsEngine

import pytest

def speech(tmp_path: Path, *engines, max_bytes: int = 50 * 2**20) -> Speech:
    return Speech(list(engines), TtsCache(tmp_path / "cache", max_bytes), breaker_failures=2, breaker_cooldown_s=600)


def seconds(path: Path) -> float:
    return sum(len(b) for b in decode(path, 16000)) / 16000


def test_espeak_speaks_vietnamese_to_a_cached_wav(tmp_path: Path):
    chain = speech(tmp_path, EspeakEngine("vi"))
    first = chain.render_all("Xin chào bà con, 7h30 họp thôn.")
    assert len(first) == 1 and first[0].suffix == ".wav" and seconds(first[0]) > 1.0
    again = chain.render_all("Xin chào bà con, 7h30 họp thôn.")
    assert again == first  # served from the cache, keyed by engine, voice and normalised text
    assert chain.cache.stats()["entries"] == 1


def test_gtts_local_server(tmp_path: Path, http_server, media):
    mp3 = media("mp3", 1.0).read_bytes()
    http_server.serve_google(mp3)
    engine = GttsEngine("vi", timeout_s=2, base_url=http_server.url)
    chain = speech(tmp_path, engine, EspeakEngine("vi"))
    [path] = chain.render_all("Thông báo của UBND xã.")
    assert path.suffix == ".mp3" and path.read_bytes() == mp3
    form = urllib.parse.parse_qs(http_server.requests[0][1].decode())
    text, lang = json.loads(json.loads(form["f.req"][0])[0][0][1])[:2]
    assert (text, lang) == ("Thông báo của ủy ban nhân dân xã.", "vi")  # the normalised text went to the server


def test_a_line_of_signs_between_sentences_is_not_a_part_to_speak(tmp_path: Path, http_server, media):
    """A pasted notice with a separator line ("(…)", "---", "* * *") or a line of emoji:
    gTTS refuses a part of punctuation only (an AssertionError), which failed the whole
    announcement halfway, after its first sentences had played; espeak-ng reads signs'
    names ("!!!": chấm than)."""
    http_server.serve_google(media("mp3", 0.5).read_bytes())
    chain = speech(tmp_path, GttsEngine("vi", timeout_s=2, base_url=http_server.url), EspeakEngine("vi"))
    text = "Họp thôn lúc 7h.\n\n(…)\n---\n!!! 🎉🎉\n* * *\nMời bà con đúng giờ."
    assert chain.parts(text) == ["Họp thôn lúc bảy giờ.", "Mời bà con đúng giờ."]
    assert [p.suffix for p in chain.render(text)] == [".mp3", ".mp3"]
    assert chain.breakers["gtts"].state == "closed"


def test_no_network_fails_fast_falls_back_and_opens_the_breaker(tmp_path: Path, closed_port: int):
    gtts = GttsEngine("vi", timeout_s=1, base_url=f"http://127.0.0.1:{closed_port}")
    chain = speech(tmp_path, gtts, EspeakEngine("vi"))
    for text in ("Câu thứ nhất.", "Câu thứ hai."):
        [path] = chain.render_all(text)
        assert path.suffix == ".wav"  # espeak took over
    assert chain.breakers["gtts"].state == "open"
    assert "gTTS" in chain.breakers["gtts"].last_error
    assert not [p for p in (tmp_path / "cache").iterdir() if p.stat().st_size == 0]
    chain.render_all("Câu thứ ba.")  # the breaker skips gTTS: still only the first two failures
    assert chain.breakers["gtts"].count == 2


def test_gtts_on_a_link_that_never_answers_times_out(silent_port: int):
    engine = GttsEngine("vi", timeout_s=0.5, base_url=f"http://127.0.0.1:{silent_port}")
    with pytest.raises(EngineFailed, match="gTTS"):
        engine.synthesize("xin chào")


def test_all_engines_failing_is_one_clear_error(tmp_path: Path, closed_port: int):
    chain = speech(tmp_path, GttsEngine("vi", timeout_s=1, base_url=f"http://127.0.0.1:{closed_port}"),
                   EspeakEngine("vi", binary="espeak-ng-missing"))
    with pytest.raises(SpeechFailed, match="gtts: .*espeak: espeak-ng-missing is not installed"):
        chain.render_all("xin chào")


def test_breaker_half_opens_after_cooldown():
    now = [0.0]
    breaker = Breaker(failures=2, cooldown_s=60, clock=lambda: now[0])
    breaker.failed("down")
    assert breaker.allow()
    breaker.failed("down")
    assert not breaker.allow() and breaker.state == "open"
    now[0] = 61
    assert breaker.allow() and breaker.state == "half-open"
    breaker.ok()
    assert breaker.state == "closed"


def test_cache_is_bounded(tmp_path: Path):
    chain = speech(tmp_path, EspeakEngine("vi"), max_bytes=150_000)
    for i in range(4):
        chain.render_all(f"Thông báo số {i} của thôn về việc họp dân.")
    stats = chain.cache.stats()
    assert stats["bytes"] <= 150_000 or stats["entries"] == 1
    assert stats["entries"] < 4


def test_long_text_is_split_and_rendered_one_part_ahead(tmp_path: Path):
    text = " ".join(f"Đây là câu số {i} của bản tin." for i in range(1, 6))
    assert len(split_sentences(text)) == 5
    chain = speech(tmp_path, EspeakEngine("vi"))
    parts = list(chain.render(text))
    assert len(parts) == 5 and len(set(parts)) == 5
    assert split_sentences("a, " * 200, max_chars=100) and all(len(p) <= 101 for p in split_sentences("a, " * 200, max_chars=100))


def tts_say(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "controller", "tts", "say", *args], capture_output=True, text=True, timeout=120)


def test_cli_tts_say_writes_a_wav_or_an_mp3(tmp_path: Path):
    out = tmp_path / "say.wav"
    done = tts_say("Xin", "chào", "thôn Hổ Thôn.", "--out", str(out))  # unquoted words are one text
    assert done.returncode == 0, done.stderr
    with wave.open(str(out)) as wav:
        assert wav.getnchannels() == 1 and wav.getnframes() / wav.getframerate() > 1.0
    mp3 = tmp_path / "say.mp3"
    assert tts_say("Xin chào thôn Hổ Thôn.", "--out", str(mp3)).returncode == 0
    with av.open(str(mp3)) as f:  # an MP3 for a .mp3 name, not WAV data under that name
        assert f.format.name == "mp3" and f.streams.audio[0].codec_context.name.startswith("mp3")
    assert seconds(mp3) > 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["say.mp3", "say.wav"]  # no .part left


@pytest.mark.parametrize("args, message", [
    (["Xin chào", "--out", "/nonexistent/x.wav"], "error: --out: the directory '/nonexistent' does not exist; create it"),
    (["", "--out", "{tmp}/empty.wav"], "error: text: is empty"),
    (["  ", "", "--out", "{tmp}/blank.wav"], "error: text: is empty"),
    (["x", "--out", "{tmp}/t3.ogg"], "error: --out: '{tmp}/t3.ogg' is neither .wav nor .mp3"),
    (["x", "--out", "{tmp}"], "error: --out: '{tmp}' is neither .wav nor .mp3"),
    (["x", "--out", "{tmp}/dir.wav"], "error: --out: cannot write '{tmp}/dir.wav' (a directory"),
])
def test_cli_tts_say_bad_input_exits_2_naming_it_and_writes_nothing(tmp_path: Path, args: list[str], message: str):
    (tmp_path / "dir.wav").mkdir()
    done = tts_say(*(a.format(tmp=tmp_path) for a in args))
    assert done.returncode == 2 and done.stderr.startswith(message.format(tmp=tmp_path)), done.stderr
    assert len(done.stderr.splitlines()) == 1  # one line, no stray traceback
    assert [p.name for p in tmp_path.iterdir()] == ["dir.wav"]


def test_piper_in_the_chain_without_a_model_is_a_config_error_naming_the_key(tmp_path: Path):
    from controller.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as err:
        parse_config({"site": {"id": "t"}, "storage": {"dir": str(tmp_path)}, "audio": {"tts": ["piper", "espeak"]}}, "t.toml")
    assert "audio" in str(err.value) and "piper_model is empty; set piper_model" in str(err.value)


def test_piper_engine_names_what_is_missing(tmp_path: Path):
    from audio.tts_engines import PiperEngine

    model = tmp_path / "vi_VN-vais1000-medium.onnx"
    with pytest.raises(EngineFailed, match="audio.piper_model: voice model .* not found"):
        PiperEngine(str(model)).synthesize("Thử")
    model.write_bytes(b"\0" * 16)
    with pytest.raises(EngineFailed, match="audio.piper_bin: 'no-such-piper' not found; install piper-tts"):
        PiperEngine(str(model), "no-such-piper").synthesize("Thử")
