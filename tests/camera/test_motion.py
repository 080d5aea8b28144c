"""MotionDetector and EventTracker as pure code on rendered synthetic frames."""
from __future__ import annotations

import numpy as np
import pytest

from camera.config import CameraConfig
from camera.motion import PRIME_FRAMES, MotionDetector, MotionSettings, shrink_factor
from camera.synthetic import FPS, HEIGHT, WIDTH, Scene, Walk, _background, render
from camera.tracker import EventTracker


def frames(scene: Scene) -> list[np.ndarray]:
    rng = np.random.default_rng(scene.seed)
    background = _background(rng)
    return [render(scene, i, background, rng) for i in range(int(scene.seconds * FPS))]


def run(scene: Scene, settings: MotionSettings = MotionSettings()):
    detector = MotionDetector(WIDTH, HEIGHT, settings)
    return [detector.detect(f) for f in frames(scene)]


def test_shrinks_by_an_integer_factor_to_about_the_detect_height():
    assert shrink_factor(360, 144) == 2 and shrink_factor(720, 144) == 5 and shrink_factor(1080, 144) == 8
    assert shrink_factor(100, 144) == 1
    assert MotionDetector(WIDTH, HEIGHT).size == (213, 120)            # default detect_height 120: /3
    assert MotionDetector(1280, 720).size == (213, 120) and MotionDetector(768, 576).size == (153, 115)


def test_shrinking_takes_every_kth_pixel_of_the_luma_view_then_blurs():
    import cv2

    luma = np.random.default_rng(3).integers(0, 256, (360, 704), np.uint8)[:, :WIDTH]   # a padded line, as decoded
    detector = MotionDetector(WIDTH, HEIGHT)
    expected = cv2.boxFilter(np.ascontiguousarray(luma[:360:3, :639:3]), -1, (5, 5))
    assert np.array_equal(detector._small(luma), expected)
    halving = MotionDetector(WIDTH, HEIGHT, MotionSettings(detect_height=180))
    assert halving.factor == 2 and np.array_equal(
        halving._small(luma), cv2.boxFilter(cv2.resize(luma, (320, 180), interpolation=cv2.INTER_AREA), -1, (5, 5)))


def test_background_is_primed_without_a_start_up_burst():
    results = run(Scene(seconds=2))
    assert [m.suppressed for m in results[:PRIME_FRAMES]] == ["priming"] * PRIME_FRAMES
    assert results[PRIME_FRAMES].suppressed == ""
    assert not any(m.moving for m in results)


def test_something_in_one_priming_frame_leaves_no_trace_in_the_background():
    """The background is the median of the priming looks: a rain drop close to the lens (or a
    bird) in one of them is not a third there, which every later frame would show as a change."""
    still = frames(Scene(seconds=2))
    drop = still[1].copy()
    drop[60:200, 300:316] = 255
    detector = MotionDetector(WIDTH, HEIGHT)
    results = [detector.detect(f) for f in [still[0], drop, still[2], *still[3:]]]
    assert [m.suppressed for m in results[:PRIME_FRAMES]] == ["priming"] * PRIME_FRAMES
    assert not any(m.moving for m in results[PRIME_FRAMES:])


def test_a_change_the_frame_before_did_not_have_starts_nothing():
    """A drop falling close to the lens is a bright streak in one frame only: when the frame
    before is given and had nothing there, it is "once". A figure that was there is kept."""
    still = frames(Scene(seconds=3))
    streak = still[-1].copy()
    streak[40:220, 300:318] = 250

    def looked(before: np.ndarray, now: np.ndarray):
        detector = MotionDetector(WIDTH, HEIGHT)
        for f in still[:-1]:
            detector.detect(f, verify=True)
        return detector.detect(now, True, [(1 / 15, lambda: before)])

    once = looked(still[-2], streak)
    assert once.boxes == [] and once.dropped == ("once",)
    there = looked(streak, streak)   # the same in the frame before: an object, as far as this rule goes
    assert len(there.boxes) == 1 and there.dropped == ()
    assert MotionDetector(WIDTH, HEIGHT).detect(streak, True).dropped == ()   # no frame before: not judged


def test_an_open_event_goes_on_only_with_what_the_frame_before_had_too():
    """While an event is open (no verify), a look whose only change is a streak in one frame
    has no motion, so rain close to the lens does not keep the event going; a change the
    frame before had too is motion, as it always was."""
    still = frames(Scene(seconds=3))
    streak = still[-1].copy()
    streak[40:220, 300:318] = 250
    detector = MotionDetector(WIDTH, HEIGHT)
    for f in still[:-1]:
        detector.detect(f)
    once = detector.detect(streak, False, [(1 / 15, lambda: still[-2])])
    assert not once.moving and once.dropped == ("once",)
    assert detector.detect(streak, False, [(1 / 15, lambda: streak)]).moving
    assert detector.detect(streak, False, [(1.0, lambda: still[-2])]).moving   # a frame long before: not judged


def test_walker_found_where_it_walks():
    results = run(Scene(seconds=4, walks=(Walk(1.0, speed=120),)))
    assert not any(m.moving for m in results[:10])
    moving = [(i, m) for i, m in enumerate(results) if m.moving]
    assert moving and moving[0][0] <= 12
    for i, m in moving:
        x, y, w, h = max(m.boxes, key=lambda b: b[2] * b[3])
        walker_x = (i / FPS - 1.0) * 120
        assert x - 16 <= walker_x + 36 and walker_x <= x + w + 16   # the box overlaps the figure
        assert 80 <= y + h <= 216


def test_lights_switched_are_not_motion():
    results = run(Scene(seconds=6, lights=((2.0, 70), (4.0, -70))))
    assert not any(m.moving for m in results)
    assert "lighting" in {m.suppressed for m in results}


def test_uneven_light_change_over_most_of_the_frame_is_not_motion():
    base = frames(Scene(seconds=2))
    detector = MotionDetector(WIDTH, HEIGHT)
    for f in base[:10]:
        detector.detect(f)
    lamp = base[10].astype(np.int16)
    lamp[:, : WIDTH * 3 // 4] += 30           # a lamp lights three quarters of the picture
    result = detector.detect(np.clip(lamp, 0, 255).astype(np.uint8))
    assert not result.moving


def test_birds_and_noise_are_too_small():
    assert not any(m.moving for m in run(Scene(seconds=6, birds=(1.0, 3.0), noise=6.0)))


def test_the_threshold_follows_the_noise_of_the_picture():
    """A clean picture keeps the configured threshold (sensitive to clothes close to the
    background); on a noisy one (a cheap sensor at night: sigma 20 grey levels) it rises
    with the noise, so that noise never counts as motion."""
    rng = np.random.default_rng(5)
    background = rng.integers(60, 200, (HEIGHT, WIDTH)).astype(np.float32)
    for sigma, raised in ((2.0, False), (20.0, True)):
        detector = MotionDetector(WIDTH, HEIGHT)
        looks = [detector.detect(np.clip(background + rng.normal(0, sigma, background.shape), 0, 255).astype(np.uint8),
                                 verify=True) for _ in range(40)]
        assert not any(m.moving for m in looks), sigma
        assert (detector.threshold > MotionSettings().threshold) is raised, (sigma, detector.threshold)
    # ... on the pixels that are not masked: a masked tree that sways does not raise it
    left = MotionSettings(masks=(((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)),))
    masked = MotionDetector(WIDTH, HEIGHT, left)
    for _ in range(40):
        picture = background + rng.normal(0, 2.0, background.shape)
        picture[:, :WIDTH // 2] += rng.normal(0, 40.0, (HEIGHT, WIDTH // 2))
        masked.detect(np.clip(picture, 0, 255).astype(np.uint8), verify=True)
    assert masked.threshold == left.threshold
    # ... and on the pixels that did not change: a walker does not raise it
    walker = MotionDetector(WIDTH, HEIGHT)
    for m in map(walker.detect, frames(Scene(seconds=6, walks=(Walk(1.0, speed=120),), noise=2.0))):
        assert walker.threshold == MotionSettings().threshold


def test_masked_area_is_ignored():
    walk = Scene(seconds=4, walks=(Walk(1.0, speed=120),))
    masked = MotionSettings(masks=(((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)),))
    assert any(m.moving for m in run(walk)) and not any(m.moving for m in run(walk, masked))


def test_tracker_hysteresis_start_frames_and_quiet_time():
    from camera.motion import Motion

    tracker = EventTracker(start_frames=3, quiet_s=1.0)
    move, still = Motion(boxes=[[0, 0, 10, 10]], score=0.1), Motion()
    changes = [tracker.feed(t / 10, move if 10 <= t < 20 or t == 25 else still) for t in range(50)]
    assert changes.index("start") == 12 and tracker.track is None
    assert changes.count("start") == 1 and changes.count("end") == 1
    ended = tracker.ended()
    assert ended.start == pytest.approx(1.0) and ended.end == pytest.approx(2.5)   # the blip at 2.5 s extends it
    assert changes.index("end") == 35
    single = EventTracker(3, 1.0)
    assert [single.feed(t / 10, move if t == 5 else still) for t in range(20)] == [None] * 20  # one frame: no event


def test_an_event_is_dated_from_the_look_that_first_saw_it_new():
    """Someone coming into the picture is, at the first look that sees them, more than the
    frames before had ("once", as a rain drop at the lens): the event that the next looks
    start is dated from that look. A look that saw nothing new does not date it."""
    from camera.motion import Motion

    move, new, still = Motion(boxes=[[0, 0, 10, 10]], score=0.1), Motion(dropped=("once",)), Motion()
    tracker = EventTracker(start_frames=3, quiet_s=1.0)
    feeds = [still, still, new, move, move, move, still]
    assert [tracker.feed(t / 5, m) for t, m in enumerate(feeds)][5] == "start"
    assert tracker.track.start == pytest.approx(0.4)
    tracker = EventTracker(start_frames=3, quiet_s=1.0)
    for t, m in enumerate([new, still, move, move, move]):
        tracker.feed(t / 5, m)
    assert tracker.track.start == pytest.approx(0.4)
    tracker = EventTracker(start_frames=3, quiet_s=1.0)
    for t, m in enumerate([new, move, new, move, move, move]):   # a run cut by a new look: from that look
        tracker.feed(t / 5, m)
    assert tracker.track.start == pytest.approx(0.4)


def test_config_rejects_bad_masks_and_names_the_field():
    with pytest.raises(ValueError, match="masks\\[0\\].*outside 0..1"):
        CameraConfig(name="cam", source="x.mp4", masks=[[(0, 0), (2, 0), (1, 1)]])
    with pytest.raises(ValueError, match="at least 3"):
        CameraConfig(name="cam", source="x.mp4", masks=[[(0, 0), (1, 1)]])


def _settled(scene: Scene, looks: int = 20) -> tuple[MotionDetector, list[np.ndarray]]:
    """A detector that has watched the first `looks` frames of `scene`, and those frames."""
    shown = frames(scene)
    detector = MotionDetector(WIDTH, HEIGHT)
    for f in shown[:looks]:
        detector.detect(f)
    return detector, shown


def test_a_street_light_coming_on_in_a_corner_is_light_and_relearnt_at_once():
    detector, shown = _settled(Scene(seconds=3))
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    pool = 1 + 0.8 * np.exp(-((x - WIDTH) ** 2 + y ** 2) / (2 * 90.0 ** 2))   # a lamp top right: +80 % there
    lit = [np.clip(f * pool, 0, 255).astype(np.uint8) for f in shown[20:]]
    assert detector.detect(lit[0]).moving                      # the old detector: a change of 20-30 % of the frame
    detector, _ = _settled(Scene(seconds=3))
    first = detector.detect(lit[0], verify=True)
    assert not first.moving and first.dropped == ("light",)
    assert not any(detector.detect(f).moving for f in lit[1:])   # no ghost left, even without verify


def test_a_blurred_insect_at_the_lens_has_no_edge_but_a_walker_has():
    detector, shown = _settled(Scene(seconds=3))
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    moth = 150 * np.exp(-((x - 300) ** 2 + (y - 150) ** 2) / (2 * 18.0 ** 2))   # bright, out of focus, 2 % of the frame
    seen = detector.detect(np.clip(shown[20] + moth, 0, 255).astype(np.uint8), verify=True)
    assert not seen.moving and seen.dropped == ("soft",)
    walker = frames(Scene(seconds=3, walks=(Walk(0.0, speed=150),)))
    detector, _ = _settled(Scene(seconds=3))
    assert detector.detect(walker[20], verify=True).moving


def test_a_bird_flying_past_is_never_motion_twice_in_a_row_when_verifying():
    """A black bird of 0.16 % of the frame crossing the sky at 300 px/s: its blurred outline
    is over min_area (0.2 %), so it is motion look after look; verified, what it changes is
    under min_area and not where it changed the look before, so no event can start."""
    _, shown = _settled(Scene(seconds=4))
    flight = []
    for i, f in enumerate(shown[20:30]):
        bird = f.copy()
        bird[60:72, 20 + i * 60:50 + i * 60] = 0   # 30x12 px, 60 px a look (0.2 s)
        flight.append(bird)
    plain, _ = _settled(Scene(seconds=4))
    assert all(plain.detect(f).moving for f in flight)
    verifying, _ = _settled(Scene(seconds=4))
    seen = [verifying.detect(f, verify=True).moving for f in flight]
    assert not any(a and b for a, b in zip(seen, seen[1:])), seen


def test_a_6_fps_camera_is_looked_at_5_times_a_second():
    from camera.config import CameraConfig
    from camera.pipeline import CameraPipeline
    from camera.sources import Frame

    still = frames(Scene(seconds=1))[0]
    for rate, looks in ((6, 50), (10, 50), (25, 50), (3, 30)):
        pipeline = CameraPipeline(CameraConfig(name="cam", source="x.mp4", record=False, person_tags=False))
        for i in range(10 * rate):
            pipeline.feed(Frame(i / rate, None, still))
        assert pipeline.analysed == looks, rate


def test_after_a_camera_reconnects_its_frames_are_looked_at_again():
    """A camera that drops comes back as a new source whose times count from 0 again: the
    detector goes on looking at once (it used to wait until the new times passed the old
    ones: as long as the camera had been up) and the walker is an event of its own."""
    from camera.config import CameraConfig
    from camera.pipeline import CameraPipeline
    from camera.sources import Frame

    pipeline = CameraPipeline(CameraConfig(name="cam", source="x.mp4", record=False, person_tags=False))
    for i, grey in enumerate(frames(Scene(seconds=30))):
        pipeline.feed(Frame(i / FPS, None, grey))
    pipeline.finish()
    looked = pipeline.analysed
    for i, grey in enumerate(frames(Scene(seconds=12, walks=(Walk(2.0),)))):
        pipeline.feed(Frame(i / FPS, None, grey))
    pipeline.finish()
    assert pipeline.analysed - looked == 60
    assert [(e["start"], e["end"]) for e in pipeline.finished] == [(pytest.approx(2.0), pytest.approx(11.0))]


def test_a_camera_back_with_another_picture_size_is_watched_whole():
    """The technician changes the substream's size and the camera comes back with it: the
    detector is made again for the new size. It used to keep the old one and look at the
    old size's top-left corner of a bigger picture (a walker on the right never seen), or
    fail on every frame of a smaller one."""
    from camera.config import CameraConfig
    from camera.pipeline import CameraPipeline
    from camera.sources import Frame

    def walk(size: tuple[int, int], x0: int, speed: int) -> list[np.ndarray]:
        w, h = size
        rng = np.random.default_rng(5)
        background = (110 + 40 * rng.random((h // 8, w // 8))).repeat(8, 0).repeat(8, 1).astype(np.uint8)
        out = []
        for i in range(60):
            f = background.copy()
            if i >= 10:
                x = x0 + (i - 10) * speed
                f[h // 3:h // 3 + h // 4, x:x + h // 12] = 30
            out.append(f)
        return out

    pipeline = CameraPipeline(CameraConfig(name="cam", source="x.mp4", record=False, person_tags=False))
    for size, x0, speed in (((640, 360), 100, 8), ((1280, 720), 800, 12), ((352, 288), 40, 5)):
        for i, grey in enumerate(walk(size, x0, speed)):
            pipeline.feed(Frame(i / 10, None, grey))
        pipeline.finish()
    assert len(pipeline.finished) == 3
    assert pipeline.finished[1]["boxes"][0][0] >= 700   # on the right of the 1280-wide picture
    assert all(e["start"] == pytest.approx(1.0, abs=0.5) for e in pipeline.finished)


def test_a_run_of_motion_cut_by_the_end_of_the_source_does_not_go_on_in_the_next():
    from camera.motion import Motion

    tracker = EventTracker(start_frames=3, quiet_s=1.0)
    move = Motion(boxes=[[0, 0, 10, 10]], score=0.1)
    assert [tracker.feed(t, move) for t in (99.6, 99.8)] == [None, None]
    assert tracker.flush(99.8) is None
    assert tracker.feed(0.0, move) is None and tracker.track is None   # a new source: its own run, from 0
    assert [tracker.feed(t, move) for t in (0.2, 0.4)] == [None, "start"] and tracker.track.start == 0.0
