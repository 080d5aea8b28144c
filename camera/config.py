"""Config section owned by the camera wing ([[cameras]])."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class CameraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$", description='camera name, e.g. "cong-lang"')
    source: str = Field(min_length=1, description="rtsp://..., /dev/videoN, picamera2, or a video file")
    record_source: str = Field("", description="optional main stream, stream-copied into clips")
    pre_s: float = Field(5.0, ge=0, le=30, description="seconds of pre-roll kept before motion")
    post_s: float = Field(10.0, ge=0, le=120, description="seconds recorded after motion ends")
    masks: list[list[tuple[float, float]]] = Field(
        default_factory=list, description="polygons in relative coords [[x,y],...] where motion is ignored"
    )
    # motion detection (defaults suit a 640x360 substream at 10 fps)
    fps: float = Field(5.0, gt=0, le=30, description="frames per second looked at for motion (every frame is decoded; the others are not analysed)")
    detect_height: int = Field(120, ge=60, le=360, description="height in px the frame is shrunk to (by an integer factor) before detection")
    threshold: int = Field(12, ge=5, le=120, description="grey-level change that counts as motion, at least (raised on a noisy picture)")
    min_area: float = Field(0.002, gt=0, lt=1, description="smallest moving blob, as a fraction of the frame (birds, insects are smaller)")
    max_area: float = Field(0.35, gt=0, le=1, description="a change over more than this fraction of the frame is lighting, not motion")
    start_frames: int = Field(3, ge=1, le=50, description="consecutive motion frames that start an event")
    quiet_s: float = Field(2.0, ge=0.2, le=60, description="seconds without motion that end an event")
    max_event_s: float = Field(120.0, ge=10, le=3600, description=(
        "longest event in seconds: motion that goes on is cut into consecutive events (each with "
        "its own clip and pre-roll, no gap), so clips stay short and the card can be freed"))
    person_tags: bool = Field(True, description="tag events with 'person' using OpenCV's HOG people detector")
    record: bool = Field(True, description="write a clip (.mp4) and a snapshot (.jpg) for each event")

    @field_validator("masks")
    @classmethod
    def _masks(cls, masks: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
        for i, poly in enumerate(masks):
            if len(poly) < 3:
                raise ValueError(f"masks[{i}] has {len(poly)} points; a polygon needs at least 3 [x, y] points")
            for x, y in poly:
                if not (0 <= x <= 1 and 0 <= y <= 1):
                    raise ValueError(f"masks[{i}] point [{x}, {y}] is outside 0..1; use coordinates relative to the frame")
        return masks
