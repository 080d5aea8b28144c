"""Held-out camera scenes, unlike camera/synthetic.py (on which the detector was tuned):
made the way village cameras differ, written as real H.264 (PyAV libx264) in the test.

A picture is albedo x light, through the camera: a village background (sky, trees,
walls, road; in IR the trees turn bright and the colours go), lit by daylight or the
IR LEDs (a hot centre, dark corners) and by lamps (radial pools of light, switched or
warming up), through a gamma of 1/2.2 (a change of light is a gain, not an offset: bright
parts change more than dark ones), an auto-exposure that follows the mean (about 1 s),
sensor noise that grows with the gain, and the encoder (constant quality, or a low
constant bit rate: blocking and a jump of detail at each keyframe).

In it move people, cyclists, motorbikes (`Mover`: sprites with legs, motion-blurred, that
change size toward or away from the camera), birds, a moth at the IR LEDs (bright,
blurred, erratic, brief) and rain, far (thin streaks) and close to the lens (big bright
streaks, each in one frame only). `walks(scene)` is the ground truth: when each mover is
first and last in the picture."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

PERSON_M = 1.7             # a person's height in metres: sizes in px per metre follow from it
GAMMA = 1 / 2.2
AE_S = 0.35               # auto-exposure time constant: settled in about 1-2 s
HORIZON = 0.3              # the vanishing point's height (fraction of the frame) for movers in depth
LOW = 8                    # light maps are drawn at 1/LOW of the frame and scaled up (they are smooth)


@dataclass(frozen=True)
class Camera:
    size: tuple[int, int] = (640, 360)
    fps: int = 10
    noise: float = 3.0        # sensor noise sigma (grey levels) at the day's gain
    kbps: int = 0             # 0: constant quality (crf 23); else a constant bit rate this low
    gop_s: float = 2.0        # seconds between keyframes
    ir: bool = False          # the night picture from the start: grey, lit by the IR LEDs
    ae: bool = True           # auto-exposure follows the mean brightness
    max_noise: float = 8.0    # the noise sigma the gain can reach (a camera's own denoising stops it)


@dataclass(frozen=True)
class Mover:
    """A person ("walker"), "cyclist" or "motorbike" from `a` to `b`, each (x, feet y,
    height) in fractions of the frame (x of the figure's centre; outside 0..1 = off the
    picture), in `seconds` from `start`. `tone` is its clothes' albedo (0..1)."""
    start: float
    seconds: float
    a: tuple[float, float, float]
    b: tuple[float, float, float]
    kind: str = "walker"
    tone: float = 0.15
    stripes: bool = False
    depth: bool = False     # walking toward or away from the camera: steady in metres, not in pixels


def cross(start: float, height: float, speed: float, y: float = 0.8, leftward: bool = False, aspect: float = 16 / 9,
          kind: str = "walker", tone: float = 0.15, stripes: bool = False) -> Mover:
    """A mover crossing the whole picture sideways at `speed` m/s, `height` of the frame tall;
    it enters (first pixel in the picture) at `start`."""
    half = (height * (1.1 if kind != "walker" else 0.22)) / aspect   # half its width, in frame widths
    metres = height / PERSON_M                                        # frame heights per metre
    seconds = (1 + 4 * half) / (speed * metres / aspect)
    a, b = (-half, y, height), (1 + 3 * half, y, height)
    if leftward:
        a, b = (1 + half, y, height), (-3 * half, y, height)
    return Mover(start, seconds, a, b, kind, tone, stripes)


@dataclass(frozen=True)
class Light:
    """What the light does from `t`:
    - "step": the daylight (or room light) times `amount` at once (e.g. 1.6, 0.5);
    - "lamp": a lamp at `at` (fractions) of radius `radius` adds `amount` x the daylight,
      reaching it in `seconds` (0: switched), off again at `until`;
    - "ir": the camera switches to its IR night picture (`amount` 1) or back to colour (0);
    - "dusk": the daylight goes down to `amount` of itself in `seconds`;
    - "cloud": the daylight dips by `amount` and back in `seconds` (`radius` > 0: a cloud's
      shadow edge sweeping across the picture instead);
    - "flicker": fluorescent light: each frame +-`amount`, and a band rolling up the picture."""
    t: float
    kind: str
    amount: float = 1.0
    seconds: float = 0.0
    at: tuple[float, float] = (0.5, 0.5)
    radius: float = 0.5
    until: float = math.inf


@dataclass(frozen=True)
class Scene:
    camera: Camera
    seconds: float
    movers: tuple[Mover, ...] = ()
    lights: tuple[Light, ...] = ()
    birds: tuple[tuple[float, float, float], ...] = ()   # (start, area: fraction of the frame, px/s at 640 wide)
    moths: tuple[tuple[float, float, float], ...] = ()   # (start, seconds, area as a fraction of the frame)
    rain: float = 0.0                                     # streaks per frame per 100k pixels
    near_rain: float = 0.0                                # drops a frame falling close to the lens
    seed: int = 1
    darkness: float = 1.0                                 # daylight at the start (night scenes: lower)


# the background --------------------------------------------------------------------------
def _texture(rng: np.random.Generator, size: tuple[int, int], cells: int, amount: float) -> np.ndarray:
    w, h = size
    low = rng.normal(0, amount, (max(2, h * cells // w), cells)).astype(np.float32)
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)


def backgrounds(rng: np.random.Generator, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(day, IR) albedo as the picture shows it (after the gamma), float32 0..1: sky, a
    tree line, walls with posts, a road, grass."""
    w, h = size
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    horizon = 0.22 + 0.08 * rng.random()
    label = np.zeros((h, w), np.uint8)                       # 0 sky, 1 trees, 2 wall, 3 road, 4 grass
    trees = (horizon + 0.06 * np.sin(np.linspace(0, 9 + 6 * rng.random(), w) + rng.random() * 6)) * h
    label[(np.arange(h)[:, None] >= trees[None, :])] = 1
    wall_top, road_top = int((horizon + 0.12) * h), int((0.5 + 0.1 * rng.random()) * h)
    for x0 in rng.integers(0, w, 3):
        top, wide = wall_top + int(rng.integers(-h // 20, h // 20)), int(w * (0.15 + 0.2 * rng.random()))
        label[top:road_top, x0:x0 + wide] = 2
    label[road_top:, :] = 3
    verge = int(h * (0.9 + 0.05 * rng.random()))
    label[verge:, :] = 4
    day = np.array([0.75, 0.22, 0.55, 0.42, 0.3], np.float32)[label]
    ir = np.array([0.35, 0.62, 0.5, 0.45, 0.7], np.float32)[label]
    day += 0.12 * (1 - yy) * (label == 0)
    fine = _texture(rng, size, w // 6, 0.05) + _texture(rng, size, 24, 0.06)
    day += fine * np.where(label == 0, 0.2, 1.0)
    ir += 0.6 * fine * np.where(label == 0, 0.2, 1.0)      # IR: flatter, greyer
    for x in rng.integers(0, w, 6):                          # posts, a gate, window frames: sharp edges
        y0 = int(rng.integers(wall_top, road_top))
        cv2.rectangle(day, (int(x), y0), (int(x) + w // 60, road_top), float(0.1 + 0.7 * rng.random()), -1)
        cv2.rectangle(ir, (int(x), y0), (int(x) + w // 60, road_top), float(0.3 + 0.4 * rng.random()), -1)
    return np.clip(day, 0.02, 1), np.clip(ir, 0.02, 1)


# the movers ------------------------------------------------------------------------------
def _state(m: Mover, t: float) -> tuple[float, float, float] | None:
    if not (m.start <= t <= m.start + m.seconds):
        return None
    f = (t - m.start) / m.seconds
    if not m.depth:
        return tuple(a + (b - a) * f for a, b in zip(m.a, m.b))  # type: ignore[return-value]
    # in perspective: the distance (1 / height) changes steadily, and the offsets from the
    # vanishing point (x 0.5, the horizon) shrink with the distance
    (xa, ya, ha), (xb, yb, hb) = m.a, m.b
    height = 1 / (1 / ha + (1 / hb - 1 / ha) * f)
    ground_x = (xa - 0.5) / ha + ((xb - 0.5) / hb - (xa - 0.5) / ha) * f
    ground_y = (ya - HORIZON) / ha + ((yb - HORIZON) / hb - (ya - HORIZON) / ha) * f
    return 0.5 + ground_x * height, HORIZON + ground_y * height, height


def sprite(m: Mover, h: int, t: float, ir: bool, blur_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(albedo, alpha) of the mover `h` px tall at time t, float32."""
    wide = m.kind != "walker"
    w = max(4, int(h * (1.1 if wide else 0.45)))
    pad = int(blur_px) + 2
    alb, alpha = np.zeros((h + 2 * pad, w + 2 * pad), np.float32), np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    cloth = 0.3 + 0.45 * m.tone if ir else m.tone            # IR: clothes come out lighter and alike
    skin, hair = (0.55, 0.3) if ir else (0.5, 0.06)
    phase = math.sin(t * (2 * math.pi * (1.8 if not wide else 3.0)))
    cx = pad + w // 2
    lw = max(1, h // 14)

    def draw(shape, value):  # the same shape into albedo and alpha
        shape(alb, value)
        shape(alpha, 1.0)

    if not wide:
        hip, sh, head = pad + int(0.52 * h), pad + int(0.2 * h), max(2, int(0.065 * h))
        for s in (1, -1):   # legs and arms swinging
            foot = (cx + int(s * phase * 0.14 * h), pad + h - 1)
            draw(lambda img, v: cv2.line(img, (cx + s * lw // 2, hip), foot, v, lw + 1), cloth * 0.8)
            hand = (cx + int(-s * phase * 0.1 * h), pad + int(0.5 * h))
            draw(lambda img, v: cv2.line(img, (cx, sh + lw), hand, v, max(1, lw - 1)), skin)
        body = np.array([[cx - int(0.12 * h), sh], [cx + int(0.12 * h), sh], [cx + int(0.09 * h), hip],
                         [cx - int(0.09 * h), hip]], np.int32)
        draw(lambda img, v: cv2.fillPoly(img, [body], v), cloth)
        if m.stripes:
            for y in range(sh, hip, max(2, h // 30) * 2):
                cv2.line(alb, (cx - int(0.12 * h), y), (cx + int(0.12 * h), y), min(1.0, cloth + 0.35),
                         max(1, h // 30))
        draw(lambda img, v: cv2.circle(img, (cx, pad + head + 1), head, v, -1), skin)
        cv2.ellipse(alb, (cx, pad + head), (head, head // 2 + 1), 0, 180, 360, hair, -1)
    else:
        r = max(2, int(0.2 * h))
        for wx in (pad + r + 1, pad + w - r - 1):
            draw(lambda img, v: cv2.circle(img, (wx, pad + h - r - 1), r, v, max(1, r // 3)), 0.08)
        draw(lambda img, v: cv2.line(img, (pad + r, pad + h - r), (pad + w - r, pad + h - 2 * r), v, max(2, r // 2)),
             cloth if m.kind == "cyclist" else 0.25)
        if m.kind == "motorbike":
            engine = ((pad + w // 4, pad + h - 2 * r - r // 2), (pad + 3 * w // 4, pad + h - r))
            draw(lambda img, v: cv2.rectangle(img, *engine, v, -1), 0.2)
        torso = np.array([[cx - h // 10, pad + int(0.2 * h)], [cx + h // 10, pad + int(0.2 * h)],
                          [cx + h // 8, pad + h - 2 * r], [cx - h // 7, pad + h - 2 * r]], np.int32)
        draw(lambda img, v: cv2.fillPoly(img, [torso], v), cloth)
        draw(lambda img, v: cv2.circle(img, (cx, pad + int(0.1 * h)), max(2, int(0.07 * h)), v, -1),
             0.15 if m.kind == "motorbike" else skin)     # a helmet
    soft = max(0.6, h / 90)
    alpha = cv2.GaussianBlur(alpha, (0, 0), soft)
    alb = cv2.GaussianBlur(alb, (0, 0), soft)
    if blur_px >= 2:   # motion blur over the exposure
        k = (int(blur_px) | 1, 1)
        alpha, alb = cv2.blur(alpha, k), cv2.blur(alb, k)
    return alb, alpha


def _paste(img: np.ndarray, alb: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    """Alpha-composite alb/alpha onto img with the top-left at (x, y), clipped to the picture."""
    h, w = img.shape
    sh, sw = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + sw, w), min(y + sh, h)
    if x0 >= x1 or y0 >= y1:
        return
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    # premultiplied: the sprite's albedo was drawn with alpha 1 where alpha is 1
    region = img[y0:y1, x0:x1]
    region *= 1 - a
    region += alb[y0 - y:y1 - y, x0 - x:x1 - x]


def visible(m: Mover, t: float, size: tuple[int, int], whole: float = 0.0) -> bool:
    """Whether any of the figure (with `whole` 0.5: its middle) is inside the picture at t."""
    state = _state(m, t)
    if state is None:
        return False
    w, h = size
    x, y, height = state
    half = height * h * (0.55 if m.kind != "walker" else 0.22) * (1 - 2 * whole)
    top = (y - height * (1 - whole)) * h
    return x * w + half > 0 and x * w - half < w and top < h and y * h > 0


def walks(scene: Scene) -> list[tuple[float, float, float]]:
    """(first, last, gone) time each mover is in the picture, as the frames show it: its
    first pixel, its middle for the last time, its last pixel."""
    times = np.arange(int(scene.seconds * scene.camera.fps)) / scene.camera.fps
    out = []
    for m in scene.movers:
        seen = [float(t) for t in times if visible(m, float(t), scene.camera.size)]
        middle = [float(t) for t in times if visible(m, float(t), scene.camera.size, 0.5)]
        if seen:
            out.append((seen[0], middle[-1] if middle else seen[-1], seen[-1]))
    return out


# the light and the camera ----------------------------------------------------------------
class Lighting:
    """The light falling on each part of the picture at t (a LOW-times smaller map, 1 = the day's)."""

    def __init__(self, scene: Scene, rng: np.random.Generator):
        self.scene = scene
        w, h = scene.camera.size
        self.small = (max(2, w // LOW), max(2, h // LOW))
        yy, xx = np.mgrid[0:self.small[1], 0:self.small[0]].astype(np.float32)
        self.x, self.y = (xx + 0.5) / self.small[0], (yy + 0.5) / self.small[1]
        aspect = w / h
        self.day = 1.0 - 0.15 * ((self.x - 0.5) ** 2 + (self.y - 0.5) ** 2)       # a little vignetting
        self.infrared = 0.12 + 0.9 * np.exp(-(((self.x - 0.5) * aspect) ** 2 + (self.y - 0.6) ** 2) / 0.35)
        self.aspect = aspect
        self.rng = rng

    def infrared_on(self, t: float) -> bool:
        on = self.scene.camera.ir
        for light in self.scene.lights:
            if light.kind == "ir" and t >= light.t:
                on = bool(light.amount)
        return on

    def map(self, t: float) -> np.ndarray:
        daylight = self.scene.darkness
        shadow = None
        for light in self.scene.lights:
            since = t - light.t
            if since < 0:
                continue
            if light.kind == "step":
                daylight *= light.amount
            elif light.kind == "dusk":
                daylight *= 1 + (light.amount - 1) * min(since / light.seconds, 1.0)
            elif light.kind == "cloud" and since < light.seconds:
                if light.radius > 0:   # a shadow edge sweeping left to right, then leaving
                    edge = 2.4 * since / light.seconds
                    inside = 1 / (1 + np.exp(-(edge - self.x) / 0.06)) / (1 + np.exp(-(self.x - edge + 1.3) / 0.06))
                    shadow = 1 - light.amount * inside
                else:
                    daylight *= 1 - light.amount * math.sin(math.pi * since / light.seconds) ** 2
            elif light.kind == "flicker":
                daylight *= 1 + light.amount * self.rng.uniform(-1, 1)
        light_map = (self.infrared if self.infrared_on(t) else self.day) * daylight
        if shadow is not None:
            light_map = light_map * shadow
        for light in self.scene.lights:
            since = t - light.t
            if light.kind == "lamp" and since >= 0 and t < light.until:
                level = light.amount * (min(since / light.seconds, 1.0) if light.seconds else 1.0)
                d2 = ((self.x - light.at[0]) * self.aspect) ** 2 + (self.y - light.at[1]) ** 2
                light_map = light_map + level * np.exp(-d2 / light.radius ** 2)
            elif light.kind == "flicker" and since >= 0:
                light_map = light_map * (1 + light.amount * np.sin(2 * np.pi * (self.y * 1.5 - 0.4 * t)))
        return light_map.astype(np.float32)


def _bird(img: np.ndarray, start: float, area: float, speed: float, t: float, seed: int) -> None:
    h, w = img.shape
    dt = t - start
    if dt < 0:
        return
    pixels = area * w * h
    length = max(2.0, math.sqrt(pixels * 2.5 / math.pi))      # an ellipse 2.5 times as long as high
    x = -length + dt * speed * w / 640
    if x > w + length:
        return
    y = h * (0.08 + 0.1 * (seed % 3)) + 0.03 * h * math.sin(dt * 3 + seed)
    flap = 0.6 + 0.4 * abs(math.sin(dt * 25))
    cv2.ellipse(img, (int(x), int(y)), (int(length), max(1, int(length / 2.5 * flap))), 0, 0, 360, 0.1, -1)


def _moth(out: np.ndarray, start: float, seconds: float, area: float, t: float, i: int, seed: int) -> None:
    """A moth at the IR LEDs: out of focus, lit from the lens, fluttering erratically."""
    if not (start <= t < start + seconds):
        return
    h, w = out.shape
    rng = np.random.default_rng(seed * 1000 + i)
    home = np.random.default_rng(seed)
    cx = w * (0.2 + 0.6 * home.random()) + w * 0.18 * rng.normal()
    cy = h * (0.2 + 0.6 * home.random()) + h * 0.18 * rng.normal()
    r = math.sqrt(area * w * h / math.pi)
    size = int(3 * r) | 1
    patch = np.zeros((2 * size + 1, 2 * size + 1), np.float32)
    cv2.ellipse(patch, (size, size), (int(r * (0.7 + 0.6 * rng.random())), int(r * 0.7)), float(rng.integers(180)),
                0, 360, 1.0, -1)
    patch = cv2.GaussianBlur(patch, (0, 0), r / 2.5) * (90 + 110 * rng.random())
    _paste(out, patch, np.zeros_like(patch), int(cx) - size, int(cy) - size)


def _rain(out: np.ndarray, per_100k: float, rng: np.random.Generator, night: bool) -> None:
    """Streaks of falling drops lit by the light (IR at night: brighter), added to the picture."""
    h, w = out.shape
    drops = np.zeros_like(out)
    for _ in range(int(per_100k * w * h / 1e5)):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        length = int(h * (0.02 + 0.04 * rng.random()))
        cv2.line(drops, (x, y), (x + length // 6, y + length), float(8 + 20 * rng.random()) * (2 if night else 1), 1)
    out += drops


def _near_rain(out: np.ndarray, per_frame: float, rng: np.random.Generator, night: bool) -> None:
    """Drops falling a hand or two from the lens: a long, wide, bright streak (lit by the IR
    LEDs at night), a little out of focus, crossing the picture within one exposure."""
    h, w = out.shape
    streaks = np.zeros_like(out)
    for _ in range(int(rng.poisson(per_frame))):
        x, y = int(rng.integers(-w // 10, w)), int(rng.integers(-h // 4, h))
        length = int(h * (0.12 + 0.25 * rng.random()))
        cv2.line(streaks, (x, y), (x + length // 8, y + length), float(45 + 45 * rng.random()) * (1.4 if night else 1),
                 max(2, w // 120))
    out += cv2.GaussianBlur(streaks, (0, 0), max(1.0, w / 320))


def write(scene: Scene, path: Path) -> Path:
    """Render `scene` and encode it as the camera would (H.264 in MP4)."""
    import av

    cam = scene.camera
    w, h = cam.size
    rng = np.random.default_rng(scene.seed)
    day, infrared = backgrounds(rng, cam.size)
    lighting = Lighting(scene, rng)
    noise_bank = rng.standard_normal((4, h + 16, w + 16), dtype=np.float32)
    chroma = np.full((h // 2, w), 128, np.uint8)
    exposure, target = 1.0, None
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=cam.fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(int(cam.gop_s * cam.fps)), "bf": "0"}
        if cam.kbps:
            stream.bit_rate = cam.kbps * 1000
            options.update({"maxrate": f"{cam.kbps}k", "bufsize": f"{cam.kbps}k"})
        else:
            options["crf"] = "23"
        stream.options = options
        for i in range(int(scene.seconds * cam.fps)):
            t = i / cam.fps
            night = lighting.infrared_on(t)
            img = (infrared if night else day).copy()
            for m in scene.movers:
                state = _state(m, t)
                if state is None:
                    continue
                x, y, height = state
                px = max(6, int(height * h))
                speed_px = math.hypot(m.b[0] - m.a[0], (m.b[1] - m.a[1]) * h / w) * w / m.seconds
                alb, alpha = sprite(m, px, t, night, speed_px * (1 / 25 if night else 1 / 100))
                pad = (alpha.shape[0] - px) // 2
                _paste(img, alb, alpha, int(x * w - alpha.shape[1] / 2), int(y * h) - px - pad)
            for start, area, speed in scene.birds:
                _bird(img, start, area, speed, t, int(start * 10))
            light_map = lighting.map(t)
            gain = cv2.resize(255 * (light_map * exposure) ** GAMMA, (w, h), interpolation=cv2.INTER_LINEAR)
            out = img * gain
            for k, (start, seconds, area) in enumerate(scene.moths):
                _moth(out, start, seconds, area, t, i, scene.seed + k)
            if scene.rain:
                _rain(out, scene.rain, rng, night)
            if scene.near_rain:
                _near_rain(out, scene.near_rain, rng, night)
            level = float(light_map.mean()) * exposure
            sigma = min(cam.max_noise, cam.noise * max(1.0, level ** -0.5) * (1.4 if night else 1.0))   # more gain, more noise
            k, dy, dx = int(rng.integers(4)), int(rng.integers(16)), int(rng.integers(16))
            out += sigma * noise_bank[k, dy:dy + h, dx:dx + w]
            grey = cv2.convertScaleAbs(out)
            mean = cv2.mean(grey)[0]
            if target is None:
                target = mean
            elif cam.ae and abs(math.log(max(mean, 1) / target)) > 0.05:   # a dead band of 5 %, then about 1 s
                rate = 1 - math.exp(-1 / (AE_S * cam.fps))
                exposure = min(max(exposure * (target / max(mean, 1)) ** (rate / GAMMA), 0.2), 12.0)
            frame = av.VideoFrame.from_ndarray(np.concatenate([grey, chroma]), format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
