"""Independent acceptance probe for the camera wing (issue 4), written without camera/synthetic.py
or tests/camera/heldout.py: scenes of its own, rendered with numpy + OpenCV drawing, encoded with
PyAV libx264, run through `langso camera analyze FILE --json` and compared with the ground truth.

    .venv/bin/python bench/scene_probe.py [NAME ...] [--failing] [--looks] [--seed N] [--config TOML] [--record] [--out DIR] [--list]

Each scene prints: expected walks (first pixel in picture .. last pixel gone), events, verdict.
A walk passes when one event starts within 1 s of its first pixel; a quiet scene passes with 0 events.
"""
from __future__ import annotations

import argparse
import json
import math
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LANGSO = ROOT / ".venv" / "bin" / "langso"


# --- scene model -------------------------------------------------------------------------
@dataclass
class Thing:
    """A person / car / motorbike along a path of keyframes (t, x, feet_y, height): x, y and
    height as fractions of the frame (x of the centre). Between keyframes: linear."""
    kind: str
    path: list[tuple[float, float, float, float]]
    shirt: tuple[int, int, int] = (40, 60, 150)      # RGB albedo
    trousers: tuple[int, int, int] = (40, 40, 50)
    sway: bool = False                              # while paused: small body sway (a standing person)

    def state(self, t: float):
        p = self.path
        if t < p[0][0] or t > p[-1][0]:
            return None
        for a, b in zip(p, p[1:]):
            if a[0] <= t <= b[0]:
                f = 0.0 if b[0] == a[0] else (t - a[0]) / (b[0] - a[0])
                x, y, h = (a[i] + (b[i] - a[i]) * f for i in (1, 2, 3))
                moving = (a[1], a[2], a[3]) != (b[1], b[2], b[3])
                return x, y, h, moving
        return None

    def half_width(self, h: float, aspect: float) -> float:
        """Half the drawn width in frame widths (h in frame heights)."""
        return h * {"person": 0.22, "car": 1.45, "motorbike": 0.65}[self.kind] / aspect


@dataclass
class Scene:
    name: str
    size: tuple[int, int]
    fps: Fraction
    seconds: float
    things: list[Thing] = field(default_factory=list)
    noise: float = 2.5                 # sensor sigma
    kbps: int = 0                      # 0 = crf
    crf: int = 23
    gop_s: float = 2.0
    bframes: int = 0
    light: str = "day"                 # day | indoor | night
    events_light: list = field(default_factory=list)   # callables t -> (gain_map multiplier or None)
    exposure: object = None            # t -> multiplier
    birds: list = field(default_factory=list)          # (start, px/s at 640, size px at 640, y frac, count)
    moths: list = field(default_factory=list)          # (start, seconds, radius frac)
    rain: tuple = (0, 0)               # (far streaks per frame, near blurred streaks per frame[, near amp, blur x])
    hum: float = 0.0                   # analog hum bars amplitude (grey levels)
    noise_growth: object = None        # t -> sigma multiplier
    start_pts_s: float = 0.0           # first frame's timestamp (DVR export)
    expect_events: bool = True         # quiet scenes: False
    note: str = ""
    seed: int = 7


# --- rendering ---------------------------------------------------------------------------
def background(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """RGB albedo uint8: sky gradient, tree band, house wall with a door and windows, a
    yard with tiles, all with texture, passed through JPEG q=25 (blocking) once."""
    w, h = scene.size
    img = np.zeros((h, w, 3), np.float32)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    if scene.light == "indoor":
        img[:] = np.array([185, 175, 150], np.float32) - 40 * yy          # a hall wall
        floor = int(0.55 * h)
        img[floor:] = np.array([120, 100, 80], np.float32)
        for x in range(0, w, max(8, w // 12)):                              # floor tiles
            cv2.line(img, (x, floor), (int(w / 2 + (x - w / 2) * 2.2), h), (90, 75, 60), max(1, w // 400))
        cv2.rectangle(img, (int(0.1 * w), int(0.12 * h)), (int(0.35 * w), int(0.4 * h)), (200, 30, 30), -1)   # a banner
        cv2.rectangle(img, (int(0.6 * w), int(0.15 * h)), (int(0.85 * w), int(0.45 * h)), (30, 30, 30), -1)   # a TV, off
        for i in range(6):                                                   # chairs along the wall
            x0 = int((0.05 + 0.15 * i) * w)
            cv2.rectangle(img, (x0, int(0.48 * h)), (x0 + w // 20, int(0.6 * h)), (60, 90, 140), -1)
    else:
        sky = np.array([150, 180, 220], np.float32) + 40 * yy
        img[:] = sky
        tree_top = (0.18 + 0.05 * np.sin(np.linspace(0, 13, w) + rng.random() * 6)) * h
        tree = np.arange(h)[:, None] >= tree_top[None, :]
        img[tree] = np.array([50, 90, 45], np.float32)
        wall = int(0.3 * h)
        ground = int(0.55 * h)
        img[wall:ground, :] = np.array([200, 190, 150], np.float32)            # yellow lime wall
        cv2.rectangle(img, (int(0.12 * w), int(0.36 * h)), (int(0.2 * w), ground), (110, 60, 30), -1)    # a door
        for x in (0.35, 0.55, 0.8):
            cv2.rectangle(img, (int(x * w), int(0.36 * h)), (int((x + 0.07) * w), int(0.47 * h)), (40, 50, 60), -1)
        img[ground:] = np.array([150, 130, 110], np.float32) + 20 * (yy[int(0.55 * h):] - 0.55)   # yard
        for y in np.geomspace(ground + 2, h - 1, 9).astype(int):             # brick courses in perspective
            cv2.line(img, (0, int(y)), (w, int(y)), (120, 105, 90), max(1, h // 300))
        cv2.line(img, (0, ground), (w, ground), (90, 80, 70), max(1, h // 150))
        pole = int(0.7 * w)
        cv2.rectangle(img, (pole, int(0.1 * h)), (pole + max(2, w // 150), ground), (160, 160, 160), -1)   # a power pole
    small = rng.normal(0, 10, (max(2, h // 6), max(2, w // 6), 1)).astype(np.float32)
    img += cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, None]
    img += rng.normal(0, 5, (h, w, 1)).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 25])
    return cv2.imdecode(jpg, cv2.IMREAD_UNCHANGED)


def draw_person(img: np.ndarray, x: float, y: float, hpx: float, t: float, moving: bool, th: Thing) -> None:
    """Articulated walker: legs with knees, arms, torso, head, hair; RGB albedo uint8."""
    s = 16  # subpixel shift bits = 4
    P = lambda px, py: (int(px * s), int(py * s))  # noqa: E731
    phase = 2 * math.pi * 1.8 * t if moving else 0.0
    swing = math.sin(phase) if moving else (0.03 * math.sin(2 * math.pi * 0.4 * t) if th.sway else 0.0)
    lw = max(2, int(hpx * 0.08))
    hip = (x, y - 0.5 * hpx)
    neck = (x, y - 0.84 * hpx)
    for side in (1, -1):
        a = side * swing * 0.45
        knee = (hip[0] + math.sin(a) * 0.25 * hpx, hip[1] + math.cos(a) * 0.25 * hpx)
        bend = max(0.0, -side * math.sin(phase)) * 0.5 if moving else 0.0
        foot = (knee[0] + math.sin(a - bend) * 0.25 * hpx, knee[1] + math.cos(a - bend) * 0.25 * hpx)
        cv2.line(img, P(*hip), P(*knee), th.trousers, lw, cv2.LINE_AA, 4)
        cv2.line(img, P(*knee), P(*foot), th.trousers, lw, cv2.LINE_AA, 4)
        hand = (neck[0] - side * swing * 0.15 * hpx, neck[1] + 0.36 * hpx)
        cv2.line(img, P(neck[0], neck[1] + 0.03 * hpx), P(*hand), (190, 150, 120), max(1, lw - 1), cv2.LINE_AA, 4)
    torso = np.array([P(x - 0.11 * hpx, neck[1]), P(x + 0.11 * hpx, neck[1]), P(x + 0.09 * hpx, hip[1] + 0.03 * hpx),
                      P(x - 0.09 * hpx, hip[1] + 0.03 * hpx)], np.int32)
    cv2.fillPoly(img, [torso], th.shirt, cv2.LINE_AA, 4)
    r = 0.065 * hpx
    cv2.circle(img, P(x, neck[1] - r), int(r * s), (190, 150, 120), -1, cv2.LINE_AA, 4)
    cv2.ellipse(img, P(x, neck[1] - r * 1.2), (int(r * s), int(r * 0.6 * s)), 0, 180, 360, (20, 20, 20), -1, cv2.LINE_AA, 4)


def draw_vehicle(img: np.ndarray, x: float, y: float, hpx: float, t: float, th: Thing, leftward: bool) -> None:
    """Car (hpx = its height) or motorbike with rider (hpx = rider's top)."""
    s = 16
    P = lambda px, py: (int(px * s), int(py * s))  # noqa: E731
    if th.kind == "car":
        L = 2.9 * hpx
        x0 = x - L / 2
        body = np.array([P(x0, y - 0.2 * hpx), P(x0 + L, y - 0.2 * hpx), P(x0 + L, y - 0.6 * hpx), P(x0, y - 0.6 * hpx)])
        cv2.fillPoly(img, [body.astype(np.int32)], th.shirt, cv2.LINE_AA, 4)
        cab = np.array([P(x0 + 0.22 * L, y - 0.6 * hpx), P(x0 + 0.75 * L, y - 0.6 * hpx), P(x0 + 0.65 * L, y - hpx),
                        P(x0 + 0.3 * L, y - hpx)])
        cv2.fillPoly(img, [cab.astype(np.int32)], th.shirt, cv2.LINE_AA, 4)
        for fx in (0.3, 0.52):
            win = np.array([P(x0 + fx * L, y - 0.65 * hpx), P(x0 + (fx + 0.18) * L, y - 0.65 * hpx),
                            P(x0 + (fx + 0.15) * L, y - 0.93 * hpx), P(x0 + (fx + 0.03) * L, y - 0.93 * hpx)])
            cv2.fillPoly(img, [win.astype(np.int32)], (60, 70, 80), cv2.LINE_AA, 4)
        for fx in (0.2, 0.8):
            cv2.circle(img, P(x0 + fx * L, y - 0.18 * hpx), int(0.18 * hpx * s), (15, 15, 15), -1, cv2.LINE_AA, 4)
    else:
        L = 1.2 * hpx
        x0 = x - L / 2
        for fx in (0.15, 0.85):
            cv2.circle(img, P(x0 + fx * L, y - 0.17 * hpx), int(0.16 * hpx * s), (20, 20, 20), max(2, int(hpx * 0.05)),
                       cv2.LINE_AA, 4)
        cv2.line(img, P(x0 + 0.15 * L, y - 0.3 * hpx), P(x0 + 0.85 * L, y - 0.35 * hpx), (170, 20, 20),
                 max(2, int(hpx * 0.1)), cv2.LINE_AA, 4)
        cx = x + (0.05 if leftward else -0.05) * L
        cv2.line(img, P(cx, y - 0.38 * hpx), P(cx, y - 0.75 * hpx), th.shirt, max(3, int(hpx * 0.14)), cv2.LINE_AA, 4)
        cv2.circle(img, P(cx, y - 0.86 * hpx), int(0.1 * hpx * s), (230, 230, 230), -1, cv2.LINE_AA, 4)  # helmet


def render(scene: Scene, bg: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
    w, h = scene.size
    img = bg.copy()
    for th in scene.things:
        st = th.state(t)
        if st is None:
            continue
        x, y, hh, moving = st
        leftward = th.path[-1][1] < th.path[0][1]
        if th.kind == "person":
            draw_person(img, x * w, y * h, hh * h, t, moving, th)
        else:
            draw_vehicle(img, x * w, y * h, hh * h, t, th, leftward)
    for start, speed, size, yf, count in scene.birds:
        dt = t - start
        for k in range(count):
            bx = -20 + (dt - 0.12 * k) * speed * w / 640
            by = yf * h + 12 * k * h / 360 * ((-1) ** k) + 6 * math.sin(dt * 4 + k)
            if 0 <= dt and -20 < bx < w + 20:
                sz = size * w / 640
                flap = abs(math.sin(dt * 20 + k))
                cv2.ellipse(img, (int(bx), int(by)), (max(1, int(sz)), max(1, int(sz * 0.35))), 0, 0, 360, (30, 30, 30), -1)
                cv2.line(img, (int(bx - sz), int(by - sz * flap)), (int(bx + sz), int(by - sz * flap)), (30, 30, 30), 1)
    f = img.astype(np.float32)
    # light: a per-pixel gain map
    gain = np.ones((h, w), np.float32)
    for fn in scene.events_light:
        gain = fn(t, gain, scene)
    if scene.exposure is not None:
        gain = gain * scene.exposure(t)
    f *= gain[:, :, None]
    if scene.light == "night":   # IR: grey
        f[:] = f.mean(axis=2, keepdims=True)
    for start, seconds, radius in scene.moths:
        dt = t - start
        if 0 <= dt < seconds:
            cx = w * (0.5 + 0.18 * math.sin(dt * 2.3) + 0.08 * math.sin(dt * 7.1))   # circling the LED, smooth
            cy = h * (0.4 + 0.15 * math.cos(dt * 1.9) + 0.06 * math.sin(dt * 5.3))
            r = radius * h * (0.8 + 0.3 * math.sin(dt * 11))
            blob = np.zeros((h, w), np.float32)
            cv2.circle(blob, (int(cx), int(cy)), max(2, int(r)), 1.0, -1)
            blob = cv2.GaussianBlur(blob, (0, 0), max(1.0, r / 2))
            f += (150 + 40 * math.sin(dt * 17)) * blob[:, :, None]
    far, near = scene.rain[:2]
    near_amp, near_blur = (scene.rain[2:] + (70.0, 1.0)[len(scene.rain) - 2:])[:2] if len(scene.rain) > 2 else (70.0, 1.0)
    if far or near:
        drops = np.zeros((h, w), np.float32)
        for _ in range(far):
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            ln = int(h * 0.03)
            cv2.line(drops, (x0, y0), (x0 + ln // 5, y0 + ln), float(rng.uniform(15, 35)), 1)
        big = np.zeros((h, w), np.float32)
        for _ in range(near):
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            ln = int(h * rng.uniform(0.15, 0.35))
            cv2.line(big, (x0, y0), (x0 + ln // 6, y0 + ln), float(near_amp * rng.uniform(0.7, 1.3)), max(2, w // 100))
        if near:
            big = cv2.GaussianBlur(big, (0, 0), max(2.0, w / 150) * near_blur)
        f += (drops + big)[:, :, None]
    if scene.hum:
        rows = np.arange(h, dtype=np.float32)
        bar = scene.hum * np.sin(2 * math.pi * (rows / h * 1.5 - 0.3 * t))
        f += bar[:, None, None]
    sigma = scene.noise * (scene.noise_growth(t) if scene.noise_growth else 1.0)
    f += rng.normal(0, sigma, (h, w, 1)).astype(np.float32) + rng.normal(0, sigma * 0.5, (h, w, 3)).astype(np.float32)
    return np.clip(f, 0, 255).astype(np.uint8)


def encode(scene: Scene, path: Path) -> Path:
    import av

    rng = np.random.default_rng(scene.seed)
    bg = background(scene, rng)
    w, h = scene.size
    n = int(round(scene.seconds * scene.fps))
    tb = Fraction(1, 90000)
    with av.open(str(path), "w", format="mp4") as out:
        st = out.add_stream("libx264", rate=scene.fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.time_base = tb
        opts = {"preset": "veryfast", "g": str(max(1, int(round(scene.gop_s * scene.fps)))), "bf": str(scene.bframes),
                "sc_threshold": "0"}
        if scene.kbps:
            st.bit_rate = scene.kbps * 1000
            opts.update({"maxrate": f"{scene.kbps}k", "bufsize": f"{scene.kbps}k"})
        else:
            opts["crf"] = str(scene.crf)
        st.options = opts
        for i in range(n):
            t = float(i / scene.fps)
            rgb = render(scene, bg, t, rng)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = int(round((t + scene.start_pts_s) / tb))
            frame.time_base = tb
            for p in st.encode(frame):
                out.mux(p)
        for p in st.encode(None):
            out.mux(p)
    return path


# --- ground truth ------------------------------------------------------------------------
def walks(scene: Scene) -> list[tuple[float, float, float]]:
    """Per thing: (first pixel in, fully in (or first), last pixel gone), on frame times."""
    w, h = scene.size
    aspect = w / h
    res = []
    n = int(round(scene.seconds * scene.fps))
    for th in scene.things:
        seen, full = [], []
        for i in range(n):
            t = float(i / scene.fps)
            st = th.state(t)
            if st is None:
                continue
            x, y, hh, _ = st
            half = th.half_width(hh, aspect)
            if x + half > 0 and x - half < 1 and y - hh < 1:
                seen.append(t)
                if x - half >= 0 and x + half <= 1:
                    full.append(t)
        if seen:
            res.append((seen[0], full[0] if full else seen[0], seen[-1]))
    # merged: things together (or < 1 s apart) are one walk
    merged: list[list[float]] = []
    for a, b, c in sorted(res):
        if merged and a <= merged[-1][2] + 1.0:
            merged[-1][2] = max(merged[-1][2], c)
        else:
            merged.append([a, b, c])
    return [tuple(m) for m in merged]


def judge(scene: Scene, events: list[dict]) -> tuple[bool, list[str]]:
    exp = walks(scene) if scene.expect_events else []
    notes = []
    ok = True
    if not scene.expect_events:
        if events:
            ok = False
            notes.append(f"{len(events)} false event(s)")
        return ok, notes
    used = set()
    for a, b, c in exp:
        hit = [i for i, e in enumerate(events) if e["start"] <= c + 1 and e["end"] >= a - 1]
        if not hit:
            ok = False
            notes.append(f"walk {a:.1f}-{c:.1f} MISSED")
            continue
        e = events[hit[0]]
        used.update(hit)
        if abs(e["start"] - a) > 1.0:
            ok = False
            notes.append(f"walk {a:.1f}: start {e['start']} ({e['start'] - a:+.1f} s)")
        if len(hit) > 1:
            notes.append(f"walk {a:.1f}-{c:.1f} split into {len(hit)} events")
        if not (c - 1.5 <= events[hit[-1]]["end"] <= c + 1.0):
            notes.append(f"walk {a:.1f}-{c:.1f}: end {events[hit[-1]]['end']}")
    extra = [i for i in range(len(events)) if i not in used]
    if extra:
        ok = False
        notes.append(f"{len(extra)} event(s) matching no walk")
    return ok, notes


# --- clip checks -------------------------------------------------------------------------
def top_boxes(path: Path) -> list[str]:
    out, data = [], path.read_bytes()
    i = 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        if size == 1:
            size = struct.unpack(">Q", data[i + 8:i + 16])[0]
        out.append(kind.decode("latin1"))
        if size < 8:
            break
        i += size
    return out


def check_clip(clip: str, snap: str, ev: dict, pre: float = 5.0, post: float = 10.0, src_len: float = 1e9) -> list[str]:
    import av

    bad = []
    boxes = top_boxes(Path(clip))
    if "moov" not in boxes or "mdat" not in boxes or boxes.index("moov") > boxes.index("mdat"):
        bad.append(f"boxes {boxes}")
    with av.open(clip) as c:
        s = c.streams.video[0]
        if s.codec_context.name != "h264":
            bad.append(f"codec {s.codec_context.name}")
        first = None
        times, n = [], 0
        for pkt in c.demux(s):
            if pkt.size == 0:
                continue
            if first is None:
                first = pkt.is_keyframe
            for fr in pkt.decode():
                n += 1
                times.append(float(fr.pts * fr.time_base))
        if not first:
            bad.append("first packet not a keyframe")
    if not times:
        return bad + ["no frames decoded"]
    times.sort()
    dur = times[-1] - times[0]
    want = (min(ev["start"], pre) + (ev["end"] - ev["start"]) + min(post, max(0.0, src_len - ev["end"])))
    if dur < want - 1.2:
        bad.append(f"clip {dur:.1f}s < pre+event+post {want:.1f}s")
    if dur > want + 3.5:
        bad.append(f"clip {dur:.1f}s > pre+event+post {want:.1f}s")
    if Path(snap).read_bytes()[:3] != b"\xff\xd8\xff":
        bad.append("snapshot not JPEG")
    return bad + [f"clip {dur:.1f}s ({n} fr) want~{want:.1f}s"]


# --- the scenes --------------------------------------------------------------------------
def cross(t0: float, h: float, speed_ms: float, y: float, aspect: float, leftward=False, kind="person", **kw) -> Thing:
    """Crossing sideways at speed m/s (a person is 1.7 m, a car 1.5 m tall, a rider 1.7 m)."""
    metres = {"person": 1.7, "car": 1.5, "motorbike": 1.7}[kind]
    fake = Thing(kind, [(0, 0, 0, 0)])
    half = fake.half_width(h, aspect)
    v = speed_ms * (h / metres) / aspect            # frame widths per second
    dur = (1 + 2 * half) / v
    a, b = -half, 1 + half
    if leftward:
        a, b = b, a
    return Thing(kind, [(t0, a, y, h), (t0 + dur, b, y, h)], **kw)


def step_light(t_on: float, amount: float, t_off: float = 1e9, area=None):
    """Gain times `amount` from t_on to t_off; area = (x0, x1) fraction: only there, soft edges."""
    def fn(t, g, sc):
        if not (t_on <= t < t_off):
            return g
        if area is None:
            return g * amount
        w, h = sc.size
        xs = np.linspace(0, 1, w, dtype=np.float32)
        m = 1 / (1 + np.exp(-(xs - area[0]) / 0.05)) / (1 + np.exp((xs - area[1]) / 0.05))
        return g * (1 + (amount - 1) * m)[None, :]
    return fn


def tube_start(t_on: float, t_off: float, amount: float, seed: int):
    """A fluorescent tube switched on: blinks for ~1.5 s, then steady with slight 100 Hz beat; off at t_off."""
    rng = np.random.default_rng(seed)
    blink = rng.random(64)

    def fn(t, g, sc):
        if t < t_on or t >= t_off:
            return g
        dt = t - t_on
        if dt < 1.5:
            on = blink[int(dt * 40) % 64] < 0.35 + 0.4 * dt
        else:
            on = True
        level = amount * (1 + 0.04 * math.sin(2 * math.pi * 3.3 * t)) if on else 1.0
        w, h = sc.size
        ys = np.linspace(0, 1, h, dtype=np.float32)
        return g * (1 + (level - 1) * (1.2 - 0.5 * ys))[:, None]
    return fn


def scenes() -> dict[str, Scene]:
    S: dict[str, Scene] = {}

    def add(sc: Scene):
        S[sc.name] = sc

    CIF, VGA, D1, HD = (352, 288), (640, 480), (704, 576), (1280, 720)
    r = lambda s: s[0] / s[1]  # noqa: E731
    blue, red, white, grey = (40, 60, 150), (160, 40, 40), (220, 220, 215), (140, 130, 115)
    # walks
    add(Scene("cif-6fps-gap20", CIF, Fraction(6), 60, [cross(4, 0.4, 1.3, 0.85, r(CIF)),
                                                       cross(31, 0.35, 1.1, 0.8, r(CIF), leftward=True, shirt=red)],
              noise=3, note="two walks 20 s apart, 352x288 6 fps"))
    add(Scene("vga-12.5fps-diagonal", VGA, Fraction(25, 2), 22,
              [Thing("person", [(3, -0.05, 0.6, 0.18), (13, 1.08, 1.15, 0.6)], shirt=white)],
              note="diagonal back-left to front-right, growing"))
    add(Scene("d1-25fps-toward", D1, Fraction(25), 16,
              [Thing("person", [(3, 0.45, 0.58, 0.12), (12, 0.55, 1.6, 0.9), (13, 0.56, 2.3, 1.2)], shirt=red)],
              note="walks straight toward the camera from the gate (appears small, leaves under the camera)"))
    add(Scene("d1-25fps-away", D1, Fraction(25), 20,
              [Thing("person", [(3, 0.5, 1.35, 0.85), (15, 0.47, 0.58, 0.12)], shirt=blue)],
              note="walks in from under the camera, away, through the gate at 15 s (README known limit)"))
    add(Scene("hd-15fps-two-crossing", HD, Fraction(15), 20,
              [cross(3, 0.35, 1.3, 0.8, r(HD)), cross(3.5, 0.3, 1.2, 0.72, r(HD), leftward=True, shirt=red)],
              note="two people crossing each other, 720p main stream"))
    add(Scene("vga-15fps-pause", VGA, Fraction(15), 30,
              [Thing("person", [(3, -0.1, 0.85, 0.4), (6.5, 0.45, 0.85, 0.4), (12.5, 0.45, 0.85, 0.4),
                                (16, 1.1, 0.85, 0.4)], shirt=grey, sway=True)],
              note="walks in, stands 6 s, walks on"))
    add(Scene("hd-25fps-car-motorbike", HD, Fraction(25), 24,
              [cross(3, 0.3, 11, 0.78, r(HD), kind="car", shirt=(180, 180, 190)),
               cross(13, 0.3, 9, 0.82, r(HD), leftward=True, kind="motorbike", shirt=blue)],
              note="car at 40 km/h, motorbike at 32 km/h"))
    add(Scene("vga-10fps-80kbps", VGA, Fraction(10), 30,
              [cross(4, 0.3, 1.3, 0.8, r(VGA), shirt=grey), cross(17, 0.35, 1.2, 0.85, r(VGA), leftward=True)],
              kbps=80, gop_s=4, noise=4, note="80 kbit/s CBR, heavy blocking"))
    add(Scene("vga-12.5fps-3walks-bframes", VGA, Fraction(25, 2), 45,
              [cross(8, 0.3, 1.3, 0.8, r(VGA)), cross(20, 0.25, 1.5, 0.75, r(VGA), leftward=True, shirt=white),
               cross(33, 0.4, 1.1, 0.9, r(VGA), shirt=red)], bframes=3, gop_s=4,
              note="3 walks ~5 s gaps, B-frames, 12.5 fps"))
    add(Scene("cif-12.5fps-dusk-ir-walk", CIF, Fraction(25, 2), 40, [cross(28, 0.4, 1.3, 0.85, r(CIF), shirt=grey)],
              events_light=[lambda t, g, sc: g * max(0.25, 1 - 0.75 * min(t / 20, 1))], light="day",
              noise_growth=lambda t: 1 + 2.5 * min(t / 20, 1),
              note="dusk 20 s (noise x3.5), walker at 28 s"))
    add(Scene("hd-25fps-pts-offset", HD, Fraction(25), 20, [cross(8, 0.3, 1.3, 0.8, r(HD))], start_pts_s=3600,
              note="first frame's pts at 1 h (DVR export)"))
    # quiet
    add(Scene("d1-25fps-tube-start", D1, Fraction(25), 30, light="indoor",
              events_light=[lambda t, g, sc: g * 0.35, tube_start(5, 14, 2.6, 1), tube_start(20, 1e9, 2.6, 2)],
              expect_events=False, note="hall: fluorescent tube blinks on at 5 s, off 14 s, on 20 s"))
    add(Scene("vga-12.5fps-flicker-beat", VGA, Fraction(25, 2), 20, light="indoor",
              events_light=[lambda t, g, sc: g * (1 + 0.12 * math.sin(2 * math.pi * 2.7 * t))
                            * (1 + 0.06 * np.sin(2 * np.pi * (np.linspace(0, 2, sc.size[1]) - 1.1 * t)))[:, None].astype(np.float32)],
              expect_events=False, note="flicker +-12 % at 2.7 Hz + rolling band +-6 %"))
    add(Scene("hd-15fps-room-lights-half", HD, Fraction(15), 30, light="indoor",
              events_light=[step_light(5, 1.8, 12, (0, 0.55)), step_light(18, 0.5, 26, (0.45, 1))],
              expect_events=False, note="half the hall lit 5-12 s, other half dimmed 18-26 s"))
    add(Scene("cif-15fps-rain-near", CIF, Fraction(15), 20, rain=(40, 2), expect_events=False,
              note="rain + big blurred drops near the lens"))
    add(Scene("cif-15fps-rain-far-only", CIF, Fraction(15), 20, rain=(40, 0), expect_events=False, note="rain, far streaks only"))
    add(Scene("cif-15fps-rain-near-only", CIF, Fraction(15), 20, rain=(0, 2), expect_events=False, note="near drops only"))
    add(Scene("cif-15fps-rain-near-faint", CIF, Fraction(15), 20, rain=(40, 2, 35.0), expect_events=False,
              note="near drops at half the brightness"))
    add(Scene("cif-15fps-rain-near-defocus", CIF, Fraction(15), 20, rain=(40, 2, 120.0, 3.0), expect_events=False,
              note="near drops 3x more out of focus, brighter"))
    add(Scene("vga-10fps-rain-near", VGA, Fraction(10), 20, rain=(80, 2), expect_events=False, note="as rain-near at 640x480"))
    add(Scene("vga-10fps-rain-near-1", VGA, Fraction(10), 20, rain=(80, 1, 45.0), expect_events=False,
              note="one fainter near drop a frame, 640x480"))
    add(Scene("vga-15fps-ae-hunting", VGA, Fraction(15), 30, exposure=lambda t: 1 + 0.25 * math.sin(2 * math.pi * t / 6),
              expect_events=False, note="auto-exposure hunting +-25 % every 6 s"))
    add(Scene("d1-25fps-bird-flock", D1, Fraction(25), 16, birds=[(2, 700, 6, 0.15, 4), (6, 900, 9, 0.45, 1),
                                                                 (10, 500, 4, 0.1, 6)],
              expect_events=False, note="flock of 4, a swallow low over the wall, flock of 6"))
    add(Scene("vga-15fps-moth-circling-ir", VGA, Fraction(15), 20, light="night", noise=5,
              events_light=[lambda t, g, sc: g * 0.6], moths=[(2, 4, 0.08), (10, 6, 0.05)],
              expect_events=False, note="moth circling the IR LED smoothly, out of focus"))
    add(Scene("d1-12.5fps-analog-hum-noise", D1, Fraction(25, 2), 20, noise=9, hum=6, kbps=300,
              expect_events=False, note="analog camera via DVR: hum bars, sigma 9 noise, 300 kbps"))
    add(Scene("vga-6fps-10min-quiet", VGA, Fraction(6), 600, noise=3,
              events_light=[lambda t, g, sc: g * (1 - 0.3 * math.sin(math.pi * t / 600))],
              birds=[(100, 800, 5, 0.12, 1), (300, 600, 6, 0.2, 3), (480, 1000, 4, 0.1, 1)],
              expect_events=False, note="10 min: slow light change, 3 bird passes"))
    # more walks and more things that are not walks
    add(Scene("vga-10fps-child-running", VGA, Fraction(10), 16, [cross(4, 0.25, 4.0, 0.75, r(VGA), shirt=red),
                                                                cross(10, 0.35, 5.0, 0.85, r(VGA), leftward=True)],
              note="children running at 4 and 5 m/s"))
    add(Scene("d1-12.5fps-close-to-camera", D1, Fraction(25, 2), 20, [
        cross(3, 1.1, 1.2, 1.05, r(D1), shirt=(30, 30, 35), trousers=(20, 20, 25)),
        cross(12, 1.6, 1.0, 1.3, r(D1), leftward=True, shirt=(25, 25, 30))], light="indoor",
        note="hall camera at head height: people passing 1-2 m from it (110 %, 160 % of the height)"))
    add(Scene("vga-15fps-pigeons-near", VGA, Fraction(15), 16, birds=[(2, 900, 20, 0.3, 1), (6, 1200, 30, 0.5, 1),
                                                                       (10, 700, 26, 0.2, 1), (13, 1500, 36, 0.4, 1)],
              expect_events=False, note="single pigeons/swallows 2-4 m from the camera (ellipse 40-72 px long at 640)"))
    add(Scene("hd-15fps-swallows-near", HD, Fraction(15), 14, birds=[(2, 1000, 16, 0.35, 2), (7, 1300, 22, 0.25, 1)],
              expect_events=False, note="swallows close to a 720p camera"))
    add(Scene("vga-15fps-pigeons-sky", VGA, Fraction(15), 16, birds=[(2, 900, 20, 0.06, 1), (6, 1200, 30, 0.1, 1),
                                                                      (10, 700, 26, 0.07, 1), (13, 1500, 36, 0.09, 1)],
              expect_events=False, note="the same pigeons, over the plain sky"))
    add(Scene("vga-15fps-pigeon-small-wall", VGA, Fraction(15), 12, birds=[(2, 900, 20, 0.4, 1), (6, 700, 16, 0.45, 1)],
              expect_events=False, note="one pigeon (0.1 % of the frame) and one smaller, past the wall"))
    add(Scene("vga-10fps-rain-night-ir", VGA, Fraction(10), 20, light="night", noise=5, rain=(80, 1, 60.0),
              events_light=[lambda t, g, sc: g * 0.6], expect_events=False,
              note="night, IR: rain with one drop a frame near the lens lit by the LEDs"))
    add(Scene("cif-6fps-far-slow", CIF, Fraction(6), 40, [cross(3, 1 / 6, 0.8, 0.6, r(CIF), shirt=grey)], noise=3,
              note="far (1/6 of the height) slow walker, 352x288 at 6 fps"))
    add(Scene("vga-15fps-walk-in-ae-hunting", VGA, Fraction(15), 24, [cross(6, 0.3, 1.2, 0.8, r(VGA), shirt=grey)],
              exposure=lambda t: 1 + 0.25 * math.sin(2 * math.pi * t / 6), note="walk while auto-exposure hunts"))
    add(Scene("vga-15fps-gnats-ir", VGA, Fraction(15), 16, light="night", noise=5, events_light=[lambda t, g, sc: g * 0.6],
              moths=[(2 + 0.3 * k, 9, 0.015) for k in range(6)], expect_events=False,
              note="a swarm of 6 small insects circling the IR LEDs"))
    return S


# what fails at main 0727c8d (default settings), 31 of 36 right: three of the five scenes of drops close
# to the lens, in every frame, now with a 1-4 s event each (the whole scene before the rule of camera/
# motion.py's _was_there; the bird scenes pass since its _objects length rule, held-out birds-near-camera)
FAILING = ("cif-15fps-rain-near", "cif-15fps-rain-near-defocus", "vga-10fps-rain-night-ir",  # drops near the lens
           "vga-15fps-gnats-ir",                                                          # small insects at the IR LEDs
           "vga-15fps-walk-in-ae-hunting")                                                # start +1.3 s under AE drift


def looks(path: Path) -> None:
    """Why: the detector's own view of each look (5 a second, verify as when no event is open, with
    the two frames before as the pipeline gives them):
    threshold, boxes kept, blobs dropped and their pixel-by-pixel ('sure') counts against min_area."""
    import av

    sys.path.insert(0, str(ROOT))
    from camera.motion import MotionDetector

    det, nxt, before = None, 0.0, []   # the two frames before each look, as the pipeline gives them
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            t = float(f.time)
            g = f.to_ndarray(format="gray")
            earlier, before = before, [(t, g)] + before[:1]
            if t + 1e-6 < nxt:
                continue
            nxt = t + 0.2
            det = det or MotionDetector(g.shape[1], g.shape[0])
            m = det.detect(g, True, [(t - bt, lambda bg=bg: bg) for bt, bg in earlier])
            if m.boxes or m.dropped or m.suppressed == "lighting":
                sure = [cv2.countNonZero(det._sure[y // det.factor:(y + h) // det.factor, x // det.factor:(x + w) // det.factor])
                        for x, y, w, h in m.boxes]
                print(f"t={t:6.2f} thr={det.threshold} min_area_px={det.settings.min_area * det.pixels:.0f} "
                      f"kept={m.boxes} sure={sure} dropped={m.dropped} {m.suppressed}")


def analyze(path: Path, record: Path | None, config: Path | None = None) -> dict:
    cmd = [str(LANGSO), "camera", "analyze", str(path), "--json"]
    if record:
        cmd += ["--record", str(record)]
    if config:
        cmd += ["--config", str(config)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": p.stderr[-500:], "events": []}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*")
    ap.add_argument("--out", default="/tmp/langso-scene-probe")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--config")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--failing", action="store_true", help="only the scenes that failed (FAILING)")
    ap.add_argument("--looks", action="store_true", help="also print the detector's looks (why)")
    ap.add_argument("--seed", type=int, help="another noise/texture seed for every scene (files get a -sN suffix)")
    args = ap.parse_args()
    all_scenes = scenes()
    if args.list:
        print("\n".join(all_scenes))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in args.names or (FAILING if args.failing else list(all_scenes)):
        sc = all_scenes[name]
        if args.seed is not None:
            sc.seed = args.seed
        path = out / (f"{name}.mp4" if args.seed is None else f"{name}-s{args.seed}.mp4")
        if not path.exists():
            t0 = time.monotonic()
            encode(sc, path)
            print(f"# encoded {name} in {time.monotonic() - t0:.0f}s", file=sys.stderr)
        rec = out / f"rec-{name}" if args.record else None
        res = analyze(path, rec, Path(args.config) if args.config else None)
        ok, notes = judge(sc, res["events"])
        if "error" in res:
            ok, notes = False, [res["error"]]
        evs = [(e["start"], e["end"], e["tags"]) for e in res["events"]]
        exp = [tuple(round(v, 1) for v in w) for w in walks(sc)] if sc.expect_events else []
        print(json.dumps({"scene": name, "pass": ok, "expected": exp, "frames": res.get("frames"),
                          "fps": res.get("fps"), "events": evs, "notes": notes}))
        if rec:
            src_len = sc.seconds
            for e in res["events"]:
                if e.get("clip") and e.get("snapshot"):
                    print("   clip", Path(e["clip"]).name, check_clip(e["clip"], e["snapshot"], e, src_len=src_len))
                else:
                    print("   event without clip/snapshot", e)
        failed += not ok
        if args.looks:
            looks(path)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
