"""stdlib logging, set up once, for journald: one line per record, key=value."""
from __future__ import annotations

import logging
import sys


class KeyValueFormatter(logging.Formatter):
    """`level=info logger=controller.house relay switched name=tv state=on by=cli`.
    systemd's journal adds the time; on a terminal we add it ourselves."""

    def __init__(self, with_time: bool):
        super().__init__()
        self.with_time = with_time

    def format(self, record: logging.LogRecord) -> str:
        line = f"level={record.levelname.lower()} logger={record.name} {record.getMessage()}"
        if self.with_time:
            line = f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} {line}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(KeyValueFormatter(with_time=sys.stdout.isatty()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("waitress.queue",):
        logging.getLogger(noisy).setLevel(logging.ERROR)
