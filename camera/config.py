"""Config section owned by the camera wing ([[cameras]])."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
