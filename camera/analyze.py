"""`langso camera analyze VIDEO`: the live pipeline run over a file, as fast as it decodes.
Times are seconds from the file's start; with a record dir each event's clip and
snapshot are written there exactly as the daemon writes them."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from camera.config import CameraConfig
from camera.people import PersonDetector
from camera.pipeline import CameraPipeline
from camera.sources import Packet, PyavSource

logger = logging.getLogger(__name__)


def analyze(video: Path, camera: CameraConfig | None = None, record_dir: Path | None = None) -> dict[str, Any]:
    camera = camera or CameraConfig(name="analyze", source=str(video))
    started = time.monotonic()
    logger.info("analyze start video=%s record=%s", video, record_dir)
    source = PyavSource(str(video), packets=record_dir is not None)
    pipeline = CameraPipeline(camera, clip_dir=record_dir, persons=PersonDetector())
    stop = threading.Event()
    try:
        items = source.items(stop)
        first = next(items, None)
        raw = source.copy_template is None
        pipeline.source_fps = source.fps
        if record_dir is not None and not raw:
            pipeline.use_template(source.copy_template)
        if first is not None:
            pipeline.feed(first, raw)
        for item in items:
            if not (raw and isinstance(item, Packet)):
                pipeline.feed(item, raw)
        pipeline.finish()
    finally:
        source.close()
    span = pipeline.last_t - (pipeline.first_t or 0.0)
    fps = (pipeline.frames - 1) / span if span > 0 else 0.0
    events = [{"start": round(e["start"], 2), "end": round(e["end"], 2), "score": e["score"], "boxes": e["boxes"],
               "tags": e["tags"], **({"snapshot": e["snapshot"], "clip": e["clip"]} if record_dir else {})}
              for e in pipeline.finished]
    logger.info("analyze done video=%s frames=%d events=%d seconds=%.2f", video, pipeline.frames, len(events),
                time.monotonic() - started)
    return {"frames": pipeline.frames, "fps": round(fps, 3), "events": events}
