"""Audio wing benchmark: prints figures side by side with the goals of issue 3.

    .venv/bin/python bench/bench_audio.py

- POST to first audio out (WAV sink), uncached and cached text, offline engine (espeak-ng)
- real-time factor of each TTS engine (gTTS only against a local stand-in: the real one
  needs the network; piper only when a model is configured)
- CPU while playing (an MP3 item and a stream relay)
- underruns (blocks that reach the card after it ran dry) while the daemon plays a 30 s
  recording and a long uncached text: alone (the baseline) and with the camera wing
  analysing OpenCV's vtest.avi at the same time (the live pipeline of a [[cameras]] entry
  in the same daemon, plus `langso camera analyze` on the same clip in a second process)
"""
from __future__ import annotations

import http.server
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import av
import numpy as np
from gpiozero.pins.mock import MockFactory

from audio.media import decode, encode, tone
from audio.tts import Speech, TtsCache
from audio.tts_engines import EspeakEngine
from controller.app import App
from controller.config import parse_config

ROOT = Path(__file__).resolve().parent.parent

NEWS = [
    "UBND xã Định Hưng thông báo: từ 7h30 ngày 5/10/2023, Trạm y tế xã tổ chức tiêm vắc xin cho trẻ em dưới 5 tuổi.",
    "Tổng thu ngân sách quý III đạt 5.628 triệu đồng, bằng 45,3% kế hoạch năm.",
    "Dự báo đêm nay nhiệt độ thấp nhất 12-14°C, gió giật 60 km/h, bà con chú ý chằng chống nhà cửa.",
    "BCĐ CĐS huyện yêu cầu các thôn hoàn thành cài đặt ứng dụng trước 11h thứ 6 tuần này.",
    "Mọi thắc mắc xin liên hệ số điện thoại 0912 345 678 gặp đồng chí trưởng thôn.",
]


def row(name: str, value: str, goal: str) -> None:
    print(f"  {name:<44} {value:>14}   {goal}")


def seconds_of(path: Path) -> float:
    return sum(len(b) for b in decode(path, 16000)) / 16000


def bench_engines(tmp: Path) -> None:
    print("TTS real-time factor (audio seconds per synthesis second)")
    speech = Speech([EspeakEngine("vi")], TtsCache(tmp / "rtf-cache", 500 * 2**20))
    synth, audio = 0.0, 0.0
    for text in NEWS:
        spoken = speech.normalize(text)
        started = time.perf_counter()
        data = speech.engines[0].synthesize(spoken)
        synth += time.perf_counter() - started
        path = tmp / "rtf.wav"
        path.write_bytes(data)
        audio += seconds_of(path)
    row("espeak-ng (vi), 5 news sentences", f"{audio / synth:.0f}x", "goal >= 20x")
    row("gTTS (vi)", "n/a", "needs the network (offline machine)")
    row("piper", "n/a", "no voice model configured")


def first_audio(out: Path, before: set[Path]) -> float:
    while True:
        for p in out.glob("*.part"):
            if p not in before and p.stat().st_size > 44 + 4096:
                return time.perf_counter()
        for p in out.glob("*.wav"):
            if p not in before:
                return time.perf_counter()
        time.sleep(0.002)


def start_house(data: Path, cameras: list[dict] | None = None, **audio: object) -> App:
    cfg = parse_config({
        "site": {"id": "bench"}, "gpio": {"pin_factory": "mock"}, "storage": {"dir": str(data), "min_free_mb": 0},
        "relays": [{"name": "amp", "pin": 22, "min_interval_s": 0}],
        "audio": {"output": f"wav:{data / 'out'}", "tts": ["espeak"], "amp_warmup_s": 0, "amp_tail_s": 0, "chime": False}
        | audio,
        "web": {"listen": "127.0.0.1:0"}, "clock": {"require_sync": False}, "cameras": cameras or [],
    }, "bench")
    app = App(cfg, pin_factory=MockFactory())
    app.start()
    return app


def bench_latency(tmp: Path) -> None:
    print("POST /api/v1/broadcasts to first audio out (WAV sink, espeak, no chime/warm-up)")
    data = tmp / "house"
    app = start_house(data)
    try:
        info = json.loads((data / "cli.json").read_text())
        out = data / "out"
        out.mkdir(parents=True, exist_ok=True)

        def post(text: str) -> float:
            before = set(out.iterdir())
            req = urllib.request.Request(f"{info['url']}/api/v1/broadcasts", json.dumps({"text": text}).encode(),
                                         {"Authorization": f"Bearer {info['token']}", "Content-Type": "application/json"})
            started = time.perf_counter()
            urllib.request.urlopen(req, timeout=30).read()
            took = first_audio(out, before) - started
            while app.house.broadcasts.queue.playing or app.house.broadcasts.listing(0)["queue"]:
                time.sleep(0.05)
            return took * 1000

        uncached = [post(f"{text} Lần {i}.") for i, text in enumerate(NEWS)]
        cached = [post(f"{text} Lần {i}.") for i, text in enumerate(NEWS)]
        row("uncached text (median of 5)", f"{statistics.median(uncached):.0f} ms", "no goal (synthesis first)")
        row("cached text (median of 5)", f"{statistics.median(cached):.0f} ms", "goal < 300 ms")
    finally:
        app.stop()


class _Files(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def cpu_while(play) -> float:
    wall, cpu = time.perf_counter(), time.process_time()
    play()
    return 100 * (time.process_time() - cpu) / (time.perf_counter() - wall)


def bench_cpu(tmp: Path) -> None:
    from audio.config import AudioConfig
    from audio.player import WavSink

    print("CPU while playing (this process, % of one core; WAV sink paced as a sound card)")
    mp3 = tmp / "ten.mp3"
    mp3.write_bytes(encode(tone(440, 10.0, 44100), 44100))

    def play(source: str) -> None:
        sink = WavSink(tmp / "cpu", buffer_s=AudioConfig().buffer_s)
        sink.open("cpu", 44100)
        for block in decode(source, 44100):
            sink.write(block)
        sink.close()

    row("10 s MP3 file", f"{cpu_while(lambda: play(str(mp3))):.1f} %", "lower is better")
    _Files.body = mp3.read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/radio.mp3"
        row("10 s HTTP stream relay", f"{cpu_while(lambda: play(url)):.1f} %", "lower is better")
    finally:
        server.shutdown()
        server.server_close()



VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def play_and_count(app: App, recording: Path) -> dict[str, float]:
    """Post a 30 s recording and a long uncached text to the running daemon; count the
    underruns of every sink the broadcast worker opened."""
    worker = app.house.broadcasts.worker
    sinks: list = []
    make = worker.sink_factory

    def counted():
        sink = make()
        sinks.append(sink)
        return sink

    worker.sink_factory = counted
    info = json.loads((Path(app.config.storage.dir) / "cli.json").read_text())
    auth = {"Authorization": f"Bearer {info['token']}"}
    boundary = "benchboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"rec.mp3\"\r\n"
            "Content-Type: audio/mpeg\r\n\r\n").encode() + recording.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    urllib.request.urlopen(urllib.request.Request(f"{info['url']}/api/v1/broadcasts", body,
                                                  auth | {"Content-Type": f"multipart/form-data; boundary={boundary}"}),
                           timeout=30).read()
    text = " ".join(f"{t} Bản tin số {i}." for i, t in enumerate(NEWS * 2))
    urllib.request.urlopen(urllib.request.Request(f"{info['url']}/api/v1/broadcasts", json.dumps({"text": text}).encode(),
                                                  auth | {"Content-Type": "application/json"}), timeout=30).read()
    wall, cpu = time.perf_counter(), time.process_time()
    while len(app.house.broadcasts.listing(5)["log"]) < 2:
        time.sleep(0.2)
    seconds = time.perf_counter() - wall
    return {"blocks_s": sum(s.written_s for s in sinks), "underruns": sum(s.underruns for s in sinks),
            "headroom_ms": 1000 * min(s.min_headroom_s for s in sinks), "buffer_ms": 1000 * sinks[0].buffer_s, "cpu": 100 * (time.process_time() - cpu) / seconds}


def analysed_while_playing(tmp: Path, recording: Path, **audio: object) -> dict[str, float]:
    """The daemon with a live [[cameras]] pipeline on vtest.avi, and `langso camera analyze`
    on the same clip over and over in a second process, while it plays."""
    camera = {"name": "vtest", "source": str(VTEST), "fps": 10, "person_tags": True, "record": True}
    app = start_house(tmp / f"camera-{len(list(tmp.iterdir()))}", cameras=[camera], **audio)
    argv = [sys.executable, "-m", "controller", "camera", "analyze", str(VTEST), "--json"]
    done, runs = threading.Event(), [0]

    def keep_analysing() -> None:
        while not done.is_set():
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, check=False)
            runs[0] += 1

    keeper = threading.Thread(target=keep_analysing, daemon=True)
    try:
        keeper.start()
        time.sleep(2)  # the camera is connected and analysing before the first broadcast
        fig = play_and_count(app, recording)
        cams = app.house.status().get("cameras") or [{}]
        fig.update(camera_fps=cams[0].get("fps", 0), analyze_runs=runs[0], events=len(app.house.events.list(limit=1000)))
    finally:
        done.set()
        keeper.join()
        app.stop()
    return fig


def bench_underruns(tmp: Path) -> None:
    print("Underruns while playing (30 s MP3 + 10-sentence uncached espeak text, WAV sink paced as a card with")
    print("audio.buffer_s queued ahead; a block that arrives after the buffer ran dry = 1 underrun)")
    recording = tmp / "thirty.mp3"
    recording.write_bytes(encode(tone(440, 30.0, 44100), 44100))
    app = start_house(tmp / "alone")
    try:
        runs = [("alone (baseline)", play_and_count(app, recording))]
    finally:
        app.stop()
    runs.append(("camera analysed", analysed_while_playing(tmp, recording)))
    runs.append(("camera analysed, old 100 ms lead", analysed_while_playing(tmp, recording, buffer_s=0.1)))
    for name, fig in runs:
        print(f"  {name} (buffer {fig['buffer_ms']:.0f} ms)")
        row("  underruns", f"{fig['underruns']:.0f}", f"goal 0 ({fig['blocks_s']:.0f} s of audio)")
        row("  least queued once the buffer filled", f"{fig['headroom_ms']:.0f} ms", f"of {fig['buffer_ms']:.0f} ms; < 0 = underrun")
        row("  daemon CPU", f"{fig['cpu']:.0f} %", "% of one core, whole daemon")
        if "camera_fps" in fig:
            print(f"    camera: live pipeline {fig['camera_fps']} fps on vtest.avi (768x576), events {fig['events']}, "
                  f"{fig['analyze_runs']} whole `langso camera analyze vtest.avi` runs in parallel")


def main() -> int:
    print(f"audio bench (PyAV {av.__version__}, numpy {np.__version__})")
    with tempfile.TemporaryDirectory() as tmp:
        bench_engines(Path(tmp))
        bench_latency(Path(tmp))
        bench_cpu(Path(tmp))
        bench_underruns(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
