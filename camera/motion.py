"""Motion on low-res grey frames: shrink by an integer factor, blur, compare with a
running-average background, threshold, dilate, contours, area limits, masks.

What counts as changed is `threshold` grey levels, or more on a noisy picture: six
times the mean change of the pixels that did not count (what moves and the masks left out).

Whole-frame changes (lights switched, the IR day/night switch, dusk) are not motion:
a uniform brightness shift is subtracted before the comparison, and a change over
more than `max_area` of the frame re-learns the background instead of reporting.
With `verify` (the pipeline asks while no event is open: what starts an event) a blob
must also be an object: big enough in pixels that really changed, not only in its
blurred outline (a bird or an insect flying past is not, nor does it stay where it was);
not explained by a smooth change of light (a lamp's pool, a street light in a corner, a
cloud's shadow: re-learnt at once); with a sharp edge (an insect at the IR LEDs is out of
focus); and, given the frames before (`before`), already there in them (a rain drop falling
close to the lens crosses the picture within one frame). Pure: no threads, no I/O;
`detect(grey, verify, before) -> Motion` on each looked-at frame."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import cv2
import numpy as np

Before = Sequence[tuple[float, Callable[[], np.ndarray]]]   # frames before a look: (seconds earlier, grey)

# one thread per camera already: OpenCV's own worker pool on these tiny frames only adds
# hand-over and spinning (measured: about 0.4 ms of CPU a frame more than the work itself)
cv2.setNumThreads(1)

PRIME_FRAMES = 3        # looks that build the first background, their median (no start-up burst): 0.6 s at 5 fps
LEARN_RATE = 0.05       # running-average weight of each new frame
AFTER_RELEARN = (10, 0.15)  # looks after a re-learn with a faster rate: whoever was in the picture
                            # then is in the background, and their ghost fades in 2 s, not 6
JUMP = 25.0             # a mean brightness jump this large re-learns the background
GAIN_SPAN = 0.25        # light is judged over squares of this fraction of the picture's height
NOISE_K = 6.0           # the threshold is at least this many times the still pixels' mean change (noise)
NOISE_RATE = 0.2        # running-average weight of each look's noise (about a second at 5 looks/s)
NOISE_MAX = 4           # ... and at most this many times `threshold` (light changing all over the
                        # picture, a tree swaying in half of it, would raise it without end)
STRICT = 10             # the person detector is shown the boxes of a threshold this much higher (22 at the
                        # default: people close together are one blob a person there)
SOFT = 0.16             # a change whose steep slopes rise less than this part of its height a small pixel has
                        # no edge (measured: people, vehicles >= 0.18; an insect at the lens <= 0.15)
REACH_S = 0.2           # what starts an event moves at most its own length in this time (a running child,
                        # a car; not a bird near the camera)
RISE = 0.25             # ... and up or down a quarter of its height (walking toward the camera: a tenth)
ONCE = 0.5              # ... and was in the frames before too: at least this part of its change is found
                        # within that reach in each (a rain drop near the lens is in one frame only)


@dataclass(frozen=True)
class MotionSettings:
    detect_height: int = 120
    threshold: int = 12
    min_area: float = 0.002
    max_area: float = 0.35
    masks: tuple[tuple[tuple[float, float], ...], ...] = ()

    @classmethod
    def of(cls, cfg: object) -> "MotionSettings":
        """From a CameraConfig (or anything with the same attributes)."""
        return cls(
            detect_height=getattr(cfg, "detect_height"), threshold=getattr(cfg, "threshold"),
            min_area=getattr(cfg, "min_area"), max_area=getattr(cfg, "max_area"),
            masks=tuple(tuple(tuple(p) for p in poly) for poly in getattr(cfg, "masks")),
        )


@dataclass(frozen=True)
class Motion:
    boxes: list[list[int]] = field(default_factory=list)   # [x, y, w, h] in full-frame pixels
    score: float = 0.0                                       # moving fraction of the frame
    suppressed: str = ""                                     # "priming", "lighting" or ""
    dropped: tuple[str, ...] = ()                            # with verify: why blobs were not objects
                                                             # ("small", "fast", "light", "soft", "once");
                                                             # in an open event: ("once", ...) when none went on

    @property
    def moving(self) -> bool:
        return bool(self.boxes)


# the answers without boxes are shared (never mutated): no allocation on a still frame
STILL, PRIMING, LIGHTING = Motion(), Motion(suppressed="priming"), Motion(suppressed="lighting")


def shrink_factor(height: int, detect_height: int) -> int:
    """Integer factor that brings `height` closest to `detect_height` (never below 1)."""
    return max(1, round(height / detect_height))


class MotionDetector:
    def __init__(self, width: int, height: int, settings: MotionSettings = MotionSettings()):
        self.settings = settings
        self.shape = (height, width)   # of the frames it is made for
        self.factor = shrink_factor(height, settings.detect_height)
        self.size = (width // self.factor, height // self.factor)
        self.crop = (self.size[1] * self.factor, self.size[0] * self.factor)
        self.pixels = self.size[0] * self.size[1]
        self._even = (self.size[1] // 2 * 2, self.size[0] // 2 * 2)
        self._pooled = (self.size[0] // 2, self.size[1] // 2)
        # work images, written in place on each look: no allocation, and they stay in cache
        rows, cols = self.size[1], self.size[0]
        self._taken, self._blurred, self._ref, self._diff, self._changed, self._sure, self._still = (
            np.empty((rows, cols), np.uint8) for _ in range(7))
        self._raw = self._taken
        self._gain_box = max(3, round(rows * GAIN_SPAN) | 1)
        self._pool, self._grown = (np.empty((rows // 2, cols // 2), np.uint8) for _ in range(2))
        self._background: np.ndarray | None = None
        self._last: np.ndarray | None = None
        self._moved: list[int] | None = None   # an open event's biggest box at the last look, if it went on
        self._primed = 0
        self._priming: list[np.ndarray] = []
        self._mean = 0.0
        self._kernel = np.ones((3, 3), np.uint8)
        self._mask = self._build_mask(settings.masks)
        self._unmasked = self.pixels if self._mask is None else cv2.countNonZero(self._mask)
        self.threshold = settings.threshold  # what counts now: raised on a noisy picture
        self._noise: float | None = None
        self._fast = 0   # looks left at the faster learning rate after a re-learn

    def _build_mask(self, masks: Sequence[Sequence[tuple[float, float]]]) -> np.ndarray | None:
        if not masks:
            return None
        mask = np.full((self.size[1], self.size[0]), 255, np.uint8)
        for poly in masks:
            pts = np.array([[x * self.size[0], y * self.size[1]] for x, y in poly], np.int32)
            cv2.fillPoly(mask, [pts], 0)
        return mask

    def _small(self, grey: np.ndarray) -> np.ndarray:
        """Shrink by the integer factor, then blur. Exact halving takes INTER_AREA (OpenCV's
        vectorised path). A larger factor k takes every k-th pixel: every k-th row as a
        numpy view, whose rows read as pixels of k channels, of which channel 0 is kept (half
        the CPU of INTER_NEAREST, a seventh of INTER_AREA at /3); the box blur then does the
        averaging that removes noise."""
        h, w = self.crop
        img = _shrink(grey[:h, :w], self.factor, self.size, self._taken)
        self._raw = img   # unblurred: what really changed, pixel by pixel
        return cv2.boxFilter(img, -1, (5, 5), self._blurred)  # as smooth as a 5x5 Gaussian here, 40 % cheaper

    def detect(self, grey: np.ndarray, verify: bool = False, before: Before = ()) -> Motion:
        """`before`: the frames before this one, the last first, as (seconds earlier, their
        grey asked for only when a blob has to be checked against it): what starts an event
        (with `verify`) and what keeps an open one going (without) must have been in them."""
        last, self._last = self._last, None   # the last look's change, kept only while verifying
        moved, self._moved = self._moved, None   # ... and while an event goes on
        small = self._small(grey)
        mean = cv2.mean(small)[0]
        if self._background is None or self._primed < PRIME_FRAMES:
            self._prime(small)
            return PRIMING
        background = self._background
        offset = mean - self._mean
        if abs(offset) > JUMP:
            self._relearn(small, mean)
            return LIGHTING
        limit = self.settings.max_area * self.pixels
        smallest = self.settings.min_area * self.pixels
        diff = cv2.absdiff(small, cv2.convertScaleAbs(background, self._ref, beta=offset), self._diff)
        _, changed = cv2.threshold(diff, self.threshold, 255, cv2.THRESH_BINARY, self._changed)
        if self._mask is not None:
            cv2.bitwise_and(changed, self._mask, changed)
        count = cv2.countNonZero(changed)
        self._follow_noise(diff, changed, count)
        if count < smallest:  # nothing big enough moves: the common case, done
            self._learn(small, mean, self._rate())
            return STILL
        # most of the picture changed, as it is or after the mean shift: a lamp, not a walker
        # (without a shift of the mean, "as it is" is what was just counted)
        if count > limit or (abs(offset) >= 1.0 and self._raw_count(small) > limit):
            self._relearn(small, mean)
            return LIGHTING
        boxes, areas = self._blobs(changed, smallest)
        dropped: tuple[str, ...] = ()
        if verify and boxes:
            boxes, areas, dropped = self._objects(small, changed, boxes, areas, smallest, last, before)
            self._last = self._sure.copy()
        elif boxes and before:
            biggest = boxes[areas.index(max(areas))]
            if self._goes_on(changed, boxes, areas, before, biggest, moved):
                self._moved = biggest
            else:
                boxes, areas, dropped = [], [], ("once",) * len(boxes)
        # learn everywhere: whatever stops moving (or a ghost left by a re-learn) fades in
        self._learn(small, mean, self._rate())
        return Motion(boxes, round(sum(areas) / self.pixels, 4), "", dropped)

    def strict_boxes(self) -> list[list[int]]:
        """The last look's moving boxes at a threshold STRICT grey levels higher: one box a person
        where people walking close together are one blob at the threshold itself (what the
        HOG person detector is shown: it finds people that fill its window). [] when
        nothing changes that much (clothes close to the background: use the look's boxes)."""
        strict = cv2.threshold(self._diff, self.threshold + STRICT, 255, cv2.THRESH_BINARY, self._still)[1]
        if self._mask is not None:
            cv2.bitwise_and(strict, self._mask, strict)
        return self._blobs(strict, self.settings.min_area * self.pixels)[0]

    def _follow_noise(self, diff: np.ndarray, changed: np.ndarray, count: int) -> None:
        """The threshold for the next look: `threshold`, or NOISE_K times the mean change
        of the pixels that did not count as changed (the picture's noise: sensor, gain at
        night, compression; what moves is left out, and so are the masks: a tree masked
        because it sways does not make the rest less sensitive), whichever is higher, at most
        NOISE_MAX times `threshold`. A clean picture keeps `threshold`; a noisy one (or light
        changing all over it) is judged more strictly."""
        if count >= self._unmasked:
            return
        still = cv2.bitwise_not(changed, self._still)
        if self._mask is not None:
            cv2.bitwise_and(still, self._mask, still)
        # the sum of what is left, not cv2.mean with a mask (ten times slower)
        level = cv2.sumElems(cv2.bitwise_and(diff, still, still))[0] / (self._unmasked - count)
        self._noise = level if self._noise is None else self._noise + NOISE_RATE * (level - self._noise)
        floor = self.settings.threshold
        self.threshold = min(max(floor, round(NOISE_K * self._noise)), NOISE_MAX * floor)

    def _blobs(self, changed: np.ndarray, smallest: float) -> tuple[list[list[int]], list[float]]:
        """Boxes (full-frame pixels) and areas (small pixels) of the changed blobs of at
        least `smallest`. The mask is pooled 2x2 first (exact halving: OpenCV's vectorised
        path; any changed pixel keeps its cell) and dilated once there, which joins parts
        up to 4 small pixels apart as twice 3x3 at full size did, on a quarter of the
        pixels: half the CPU of dilating and tracing the mask as it is."""
        h, w = self._even
        pooled = cv2.resize(changed[:h, :w], self._pooled, self._pool, interpolation=cv2.INTER_AREA)
        pooled = cv2.dilate(pooled, self._kernel, self._grown)
        contours, _ = cv2.findContours(pooled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes, areas, f = [], [], 2 * self.factor
        for contour in contours:
            a = 4 * cv2.contourArea(contour)
            if a >= smallest:
                x, y, bw, bh = cv2.boundingRect(contour)
                boxes.append([x * f, y * f, bw * f, bh * f])
                areas.append(a)
        return boxes, areas

    # verify: is the change an object? ----------------------------------------------------
    def _objects(self, small: np.ndarray, changed: np.ndarray, boxes: list[list[int]], areas: list[float],
                 smallest: float, last: np.ndarray | None, before: Before = ()) -> tuple[list[list[int]], list[float], tuple[str, ...]]:
        """The blobs that are objects (boxes, areas) and why the others are not. Their size is counted in pixels that differ by the
        threshold as they are, not only after the blur (which grows a small object's outline
        most: a bird's 2-4 times): under half of min_area, a blob is none; under min_area,
        it must have come from the last look's change, if that look changed: a bird or an
        insect flying past jumps further than its size between looks (0.2 s), a person or a
        vehicle, of which dim clothes may leave only the head and legs, does not. A bigger
        blob must have come from within its own length (a pigeon near the camera flies
        several lengths in 0.2 s, a running child less than its height). Then changes the
        frames before did not have (before light: a moth's one-frame flash re-learnt as light
        would leave its ghost), light (re-learnt at once, so that its ghost does not linger)
        and changes without an edge are dropped."""
        sure = cv2.absdiff(self._raw, self._ref, self._sure)
        cv2.threshold(sure, self.threshold, 255, cv2.THRESH_BINARY, sure)
        cv2.bitwise_and(sure, changed, sure)
        kept: tuple[list[list[int]], list[float]] = ([], [])
        why: list[str] = []
        for box, area in zip(boxes, areas):
            x, y, w, h = (v // self.factor for v in box)   # in small pixels
            real = sure[y:y + h, x:x + w]
            count = cv2.countNonZero(real)
            if count < smallest / 2 or (count < smallest and last is not None and not _came(real, x, y, last)):
                why.append("small")
            elif last is not None and not _came(real, x, y, last, whole=True):
                why.append("fast")
            elif not self._was_there(changed, before, (x, y, w, h)):
                why.append("once")
            elif self._light(small, (x, y, w, h)):
                why.append("light")
            elif self._soft((x, y, w, h)):
                why.append("soft")
            else:
                kept[0].append(box)
                kept[1].append(area)
        return kept[0], kept[1], tuple(why)

    def _goes_on(self, changed: np.ndarray, boxes: list[list[int]], areas: list[float],
                 before: Before, biggest: list[int], moved: list[int] | None) -> bool:
        """Whether an open event goes on: something in the look was in the frame before too.
        Rain drops falling close to the lens do not keep it going after the person has left.
        First, at no cost: the biggest box and the last look's biggest box overlap by half the
        smaller one (a person 0.2 s later, people walking together or parting; a drop seldom
        falls just where the person was); then the blobs against the frames before, the
        biggest first."""
        if moved is not None and _overlap(biggest, moved) >= ONCE:
            return True
        k = self.factor
        return any(self._was_there(changed, before, (x // k, y // k, w // k, h // k))
                   for _, (x, y, w, h) in sorted(zip(areas, boxes), key=lambda blob: -blob[0]))

    def _was_there(self, changed: np.ndarray, before: Before, box: tuple[int, int, int, int]) -> bool:
        """Whether each of the frames before, up to REACH_S earlier, changed as much (ONCE of
        it) within the reach of `box`: a person or a vehicle moves at most its length in
        REACH_S, so most of it was there; a rain drop close to the lens, lit by the sun or the
        IR LEDs, falls through the picture within one frame: the frames before have nothing
        there, or another drop by chance, which two frames in a row seldom have."""
        return all(self._changed_then(changed, grey, box, gap_s) for gap_s, grey in before if 0 < gap_s <= REACH_S)

    def _changed_then(self, changed: np.ndarray, previous: Callable[[], np.ndarray], box: tuple[int, int, int, int],
                      gap_s: float) -> bool:
        """_was_there for one frame before, `gap_s` earlier."""
        x, y, w, h = box
        reach = math.ceil(max(w, h) * gap_s / REACH_S)          # sideways: a running child, a car
        rise = math.ceil(h * gap_s / REACH_S * RISE)             # up and down: toward or away from the camera
        rows, cols = self._ref.shape
        # the frame before, shrunk and blurred as a look's frame, over the reach only (and the
        # blur's margin, so that the blur is the same there as over the whole picture)
        x0, y0 = max(x - reach - 2, 0), max(y - rise - 2, 0)
        x1, y1 = min(x + w + reach + 2, cols), min(y + h + rise + 2, rows)
        k = self.factor
        img = _shrink(previous()[y0 * k:y1 * k, x0 * k:x1 * k], k, (x1 - x0, y1 - y0))
        before = cv2.absdiff(cv2.boxFilter(img, -1, (5, 5)), self._ref[y0:y1, x0:x1])
        if self._mask is not None:
            cv2.bitwise_and(before, self._mask[y0:y1, x0:x1], before)
        then = cv2.countNonZero(cv2.threshold(before, self.threshold, 255, cv2.THRESH_BINARY, before)[1])
        return then >= ONCE * cv2.countNonZero(changed[y:y + h, x:x + w])

    def _soft(self, box: tuple[int, int, int, int]) -> bool:
        """No sharp edge: the steepest slopes of the change (98th percentile) are gentle for
        its height, as an insect's out of focus at the lens (a person's or a vehicle's
        outline, even at night or blurred by motion, is steeper)."""
        x, y, w, h = box
        diff = self._diff[y:y + h, x:x + w]
        dx, dy = cv2.spatialGradient(diff)   # 3x3 Sobel: 8 times the slope
        return _high(np.hypot(dx, dy)) < 8 * SOFT * max(_high(diff), 1.0)

    def _light(self, small: np.ndarray, box: tuple[int, int, int, int]) -> bool:
        """Whether a smooth change of light explains the change in `box`: the light on each
        pixel is taken as the mean of the square around it (GAIN_SPAN of the picture's
        height), which a lamp's pool or a cloud's shadow multiplies smoothly; divided out,
        nothing is left of them, while an object stays. Light is re-learnt at once."""
        x, y, w, h = box
        k = self._gain_box
        rows, cols = small.shape
        x0, y0, x1, y1 = max(x - k // 2, 0), max(y - k // 2, 0), min(x + w + k // 2, cols), min(y + h + k // 2, rows)
        now, before = small[y0:y1, x0:x1], self._background[y0:y1, x0:x1]
        # judged at half size (the light is smooth; a quarter of the work)
        half = ((x1 - x0) // 2, (y1 - y0) // 2)
        now2 = cv2.resize(now[:2 * half[1], :2 * half[0]], half, interpolation=cv2.INTER_AREA).astype(np.float32)
        before2 = cv2.resize(before[:2 * half[1], :2 * half[0]], half, interpolation=cv2.INTER_AREA)
        k2 = k // 2 | 1
        gain = (cv2.boxFilter(now2, -1, (k2, k2), borderType=cv2.BORDER_REFLECT) + 4) / (
            cv2.boxFilter(before2, -1, (k2, k2), borderType=cv2.BORDER_REFLECT) + 4)
        left = cv2.absdiff(now2, cv2.multiply(before2, gain))[(y - y0) // 2:(y - y0 + h) // 2, (x - x0) // 2:(x - x0 + w) // 2]
        if 4 * cv2.countNonZero(cv2.compare(left, self.threshold, cv2.CMP_GT)) >= self.settings.min_area * self.pixels / 4:
            return False
        now = now.astype(np.float32)
        # re-learnt over the box and, fading out, around it (the light changed there too,
        # if less): a box re-learnt alone would leave its edges in the background
        fade = np.outer(_ramp(y0, y1, y, y + h, k // 2, rows), _ramp(x0, x1, x, x + w, k // 2, cols))
        step = cv2.multiply(cv2.subtract(now, before), fade)
        self._mean += cv2.sumElems(step)[0] / self.pixels
        cv2.add(before, step, before)
        return True

    def _raw_count(self, small: np.ndarray) -> int:
        raw = cv2.absdiff(small, cv2.convertScaleAbs(self._background))
        _, raw = cv2.threshold(raw, self.threshold, 255, cv2.THRESH_BINARY)
        return cv2.countNonZero(raw)

    def _learn(self, small: np.ndarray, mean: float, rate: float) -> None:
        """Running average; its mean follows exactly (the average is linear), so it is
        never measured again."""
        cv2.accumulateWeighted(small, self._background, rate)
        self._mean += rate * (mean - self._mean)

    def _prime(self, small: np.ndarray) -> None:
        """The background from scratch: the median of PRIME_FRAMES looks, pixel by pixel. A
        rain drop, a bird or an insect in one of them leaves no trace (an average would keep a
        third of it, seen as a change in every frame after)."""
        self._priming.append(small.copy())
        self._primed += 1
        if self._primed >= PRIME_FRAMES:
            a, b, c = self._priming   # the median of three, pixel by pixel (a hundredth of np.median's CPU)
            self._background = cv2.max(cv2.min(a, b), cv2.min(cv2.max(a, b), c)).astype(np.float32)
            self._mean = cv2.mean(self._background)[0]
            self._priming = []
        elif self._background is None:
            self._background = small.astype(np.float32)

    def _relearn(self, small: np.ndarray, mean: float) -> None:
        self._background, self._mean = small.astype(np.float32), mean
        self._priming, self._primed = [], 0   # primed again from this look and the next two
        self._prime(small)
        self._fast = AFTER_RELEARN[0]

    def _rate(self) -> float:
        if self._fast:
            self._fast -= 1
            return AFTER_RELEARN[1]
        return LEARN_RATE


def _shrink(grey: np.ndarray, k: int, size: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """`grey` (exactly `size` times k) shrunk k times to `size` (cols, rows): see _small."""
    if k == 2:
        return cv2.resize(grey, size, out, interpolation=cv2.INTER_AREA)
    if k > 2:
        return cv2.extractChannel(grey[::k].reshape(size[1], size[0], k), 0, out)
    return grey


def _overlap(a: list[int], b: list[int]) -> float:
    """How much two [x, y, w, h] boxes overlap: their intersection over the smaller one."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(w, 0) * max(h, 0) / min(a[2] * a[3], b[2] * b[3])


def _high(values: np.ndarray) -> float:
    """The 98th percentile: the top of a change, not its noisiest pixel."""
    flat = values.reshape(-1)
    at = int(0.98 * (flat.size - 1))
    return float(np.partition(flat, at)[at])


def _ramp(start: int, end: int, inner_start: int, inner_end: int, fade: int, size: int) -> np.ndarray:
    """Weights along one axis of [start, end): 1 over [inner_start, inner_end), falling
    linearly to 0 over `fade` pixels on each side, except at the picture's edge (`size`)."""
    at = np.arange(start, end, dtype=np.float32)
    rise = np.ones_like(at) if start == 0 else (at - inner_start + fade + 1) / (fade + 1)
    fall = np.ones_like(at) if end == size else (inner_end - 1 + fade + 1 - at) / (fade + 1)
    return np.clip(np.minimum(rise, fall), 0.0, 1.0)


def _came(real: np.ndarray, x: int, y: int, last: np.ndarray, whole: bool = False) -> bool:
    """Whether the changed pixels `real` (at x, y in small pixels) lie within half their
    size of the last look's changed pixels: where a person or a vehicle was 0.2 s before.
    `whole`: within their full length, either way (a child running sideways moves more than
    its width between looks, not more than its height; a bird near the camera, or a swallow,
    several times its length)."""
    bx, by, w, h = cv2.boundingRect(real)
    rx, ry = (max(w, h),) * 2 if whole else (w // 2, h // 2)
    x0, y0 = max(x + bx - rx, 0), max(y + by - ry, 0)
    return cv2.countNonZero(last[y0:y + by + h + ry, x0:x + bx + w + rx]) > 0
