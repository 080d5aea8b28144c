"""Labelled synthetic scenes written as real H.264 with PyAV (libx264): the demo's
looped camera, and the scene set the tests and bench/ measure the detector on.

A scene is a textured static background with sensor noise plus scripted happenings:
walkers (a person-sized figure crossing the frame), lights switched, dusk, small fast
birds. `Scene.walks` is the ground truth: when each walker enters the frame."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, FPS = 640, 360, 10


@dataclass(frozen=True)
class Walk:
    start: float            # seconds: the figure's first frame inside the picture
    speed: float = 70.0     # px/s, left to right (negative: right to left)
    y: int = 200            # feet line
    height: int = 110       # figure height in px


@dataclass(frozen=True)
class Scene:
    seconds: float
    walks: tuple[Walk, ...] = ()
    lights: tuple[tuple[float, float], ...] = ()   # (time, brightness step), instant
    dusk: tuple[float, float, float] | None = None  # (start, seconds, total darkening)
    birds: tuple[float, ...] = ()                    # start times of small fast flyers
    noise: float = 3.0                               # sensor noise sigma (grey levels)
    seed: int = 1
    labels: dict[str, str] = field(default_factory=dict)


def _background(rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    base = 90 + 40 * (y / HEIGHT) + 10 * np.sin(x / 37.0) * np.cos(y / 23.0)
    base[200:, :] += 25  # road
    blocks = rng.integers(-12, 12, size=(HEIGHT // 20 + 1, WIDTH // 20 + 1)).astype(np.float32)
    base += np.kron(blocks, np.ones((20, 20), np.float32))[:HEIGHT, :WIDTH]
    return base


def _walker_box(walk: Walk, t: float) -> tuple[int, int, int, int] | None:
    if t < walk.start:
        return None
    w = walk.height // 3
    x = int((t - walk.start) * walk.speed)
    x = x if walk.speed > 0 else WIDTH - w + x
    if x >= WIDTH or x + w <= 0:
        return None
    return x, walk.y - walk.height, w, walk.height


def render(scene: Scene, index: int, background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Frame `index` of `scene` as 8-bit grey (HEIGHT x WIDTH)."""
    t = index / FPS
    img = background.copy()
    for walk in scene.walks:
        box = _walker_box(walk, t)
        if box is None:
            continue
        x, y, w, h = box
        x0, x1 = max(x, 0), min(x + w, WIDTH)
        img[y + h // 6:y + h, x0:x1] = 35                       # body
        hx0, hx1 = max(x + w // 4, 0), min(max(x + 3 * w // 4, 0), WIDTH)
        img[y:y + h // 6, hx0:hx1] = 160                         # head
        leg = int(4 * np.sin(t * 8))
        img[y + 2 * h // 3:y + h, max(x0 + leg, 0):max(x0 + leg + w // 3, 0)] = 60
    for when, step in scene.lights:
        if t >= when:
            img += step
    if scene.dusk is not None:
        start, seconds, total = scene.dusk
        img -= total * min(max((t - start) / seconds, 0.0), 1.0)
    for when in scene.birds:
        dt = t - when
        if 0 <= dt < 1.0:
            bx, by = int(dt * 600), int(60 + 40 * dt)
            if bx < WIDTH - 4:
                img[by:by + 3, bx:bx + 4] = 20
    img += rng.normal(0, scene.noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_scene(scene: Scene, path: Path, gop: int = FPS, size: tuple[int, int] = (WIDTH, HEIGHT),
                codec: str = "libx264", step: int = 1) -> Path:
    """Encode `scene` as H.264 (yuv420p, keyframe every `gop` frames) in an MP4 (or an AVI
    when `path` ends in .avi), drawn at 640x360 and scaled to `size` (e.g. (1280, 720) for a
    main stream); codec="mpeg4" or "libx265" (H.265, as many cameras' main streams) makes a
    source that is not H.264 (its clips must be encoded, not copied). step=N keeps every Nth
    frame at its own time: the container still says 10 fps but the real rate is 10/N (as
    OpenCV's tree.avi: 15 fps nominal, about 2.3 real)."""
    import av
    import cv2

    rng = np.random.default_rng(scene.seed)
    background = _background(rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with av.open(str(tmp), "w", format="avi" if path.suffix == ".avi" else "mp4") as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(gop), "crf": "23"}
        elif codec == "libx265":
            stream.options = {"preset": "ultrafast", "x265-params": f"keyint={gop}:log-level=error"}
        else:
            stream.options = {"g": str(gop)}
            stream.bit_rate = 2_000_000
        for i in range(0, int(scene.seconds * FPS), step):
            grey = render(scene, i, background, rng)
            if size != (WIDTH, HEIGHT):
                grey = cv2.resize(grey, size, interpolation=cv2.INTER_LINEAR)
            frame = av.VideoFrame.from_ndarray(np.stack([grey] * 3, axis=-1), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    tmp.replace(path)
    return path


# the labelled scene set of the tests and bench/: name -> scene (ground truth: Scene.walks)
LABELLED_SCENES: dict[str, Scene] = {
    "noise": Scene(seconds=20, noise=5.0, seed=2),
    "lights": Scene(seconds=24, lights=((5, 60), (11, -60), (17, 40)), seed=3),
    "dusk": Scene(seconds=30, dusk=(3, 20, 70), seed=4),
    "birds": Scene(seconds=20, birds=(3, 7.5, 12, 15.2), seed=5),
    "one-walker": Scene(seconds=20, walks=(Walk(4),), seed=6),
    "walkers-with-gaps": Scene(seconds=60, walks=(Walk(2), Walk(18, speed=-90, y=240), Walk(38, speed=60, height=80)), seed=7),
    "walk-in-lights-and-birds": Scene(seconds=30, walks=(Walk(12, speed=80),), lights=((4, 50),), birds=(6, 22), seed=8),
    "slow-far-walker": Scene(seconds=35, walks=(Walk(3, speed=25, height=60, y=150),), seed=9),
    "light-switched-during-walk": Scene(seconds=25, walks=(Walk(3, speed=60),), lights=((8, 50),), seed=10),
    "dusk-during-walk": Scene(seconds=30, walks=(Walk(5, speed=50),), dusk=(3, 15, 70), seed=11),
    "short-gaps": Scene(seconds=25, walks=(Walk(2, speed=200), Walk(8.5, speed=200), Walk(15, speed=-200)), seed=12),
    "heavy-noise": Scene(seconds=20, noise=10.0, seed=13),
}


def demo_scene() -> Scene:
    """30 s looped by `langso demo`: two villagers walk past the gate."""
    return Scene(seconds=30, walks=(Walk(3.0), Walk(17.0, speed=-80, y=230, height=120)))


def ensure_demo_video(path: Path) -> Path:
    """The demo camera's looped clip, made once on first start (about 3 s of CPU)."""
    if not path.exists():
        write_scene(demo_scene(), path)
    return path
