"""The goals of issue 4 on the labelled scene set and on real footage, through the
command the acceptance uses: `langso camera analyze VIDEO --json`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from camera.synthetic import LABELLED_SCENES, WIDTH
from controller.cli import main

QUIET = ["noise", "lights", "dusk", "birds", "heavy-noise"]
WALKS = ["one-walker", "walkers-with-gaps", "walk-in-lights-and-birds", "slow-far-walker", "light-switched-during-walk",
         "dusk-during-walk", "short-gaps"]


def analyze_json(video: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["camera", "analyze", str(video), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", QUIET)
def test_no_events_from_lights_dusk_birds_or_noise(name: str, scene_video: Callable[[str], Path], capsys):
    result = analyze_json(scene_video(name), capsys)
    assert result["frames"] == int(LABELLED_SCENES[name].seconds * 10)
    assert result["fps"] == pytest.approx(10.0, rel=0.01)
    assert result["events"] == []


@pytest.mark.parametrize("name", WALKS)
def test_every_walk_found_with_its_start_within_one_second(name: str, scene_video: Callable[[str], Path], capsys):
    events = analyze_json(scene_video(name), capsys)["events"]
    walks = LABELLED_SCENES[name].walks
    assert len(events) == len(walks), events
    for walk, event in zip(walks, events):
        assert abs(event["start"] - walk.start) <= 1.0, (walk, event)
        leaves = walk.start + WIDTH / abs(walk.speed)      # the figure is out of the picture then
        assert leaves - 1.0 <= event["end"] <= leaves + 0.5, (walk, event)   # covered until it leaves
        assert event["score"] > 0
        x, y, w, h = event["boxes"][0]
        assert walk.y - walk.height - 16 <= y <= walk.y and h >= walk.height * 0.7  # the box is on the walker


def test_plaza_people_covered_end_to_end_and_tagged_person(opencv_clip: Callable[[str], Path], capsys):
    """OpenCV's vtest.avi: people cross a plaza for the whole clip."""
    result = analyze_json(opencv_clip("vtest.avi"), capsys)
    duration = (result["frames"] - 1) / result["fps"]
    covered = sum(e["end"] - e["start"] for e in result["events"])
    assert covered >= 0.95 * duration, result["events"]
    assert result["events"][0]["start"] <= 1.0
    assert all("person" in e["tags"] for e in result["events"] if e["end"] - e["start"] > 5)


def test_tree_in_the_wind_never_tagged_person(opencv_clip: Callable[[str], Path], capsys):
    result = analyze_json(opencv_clip("tree.avi"), capsys)
    assert result["frames"] > 0
    assert all("person" not in e["tags"] for e in result["events"])
