"""Config section owned by the web wing ([web])."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class WebConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = Field("0.0.0.0:8080", description='address:port the page and API listen on, e.g. "0.0.0.0:8080" (port 0: any free port)')
    threads: int = Field(16, ge=2, le=64, description="waitress worker threads (live page updates hold one each; keep 4 for requests)")
    session_days: int = Field(30, ge=1, le=365, description="a login lasts at most this many days")
    session_idle_hours: int = Field(168, ge=1, le=8760, description="a login unused this long expires")
    tls_cert: str = Field("", description="PEM certificate for HTTPS (phones need HTTPS to record); empty = plain HTTP")
    tls_key: str = Field("", description="PEM private key matching tls_cert")

    @model_validator(mode="after")
    def _tls_pair(self) -> "WebConfig":
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("set both tls_cert and tls_key (langso web cert makes them), or neither")
        return self

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError('must be "address:port", e.g. "0.0.0.0:8080"')
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])
