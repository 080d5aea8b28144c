"""The village head's phone page and the JSON API: `create_app(house, test_config=None)`.

The factory lives in web/app_factory.py and is imported on first use, so that reading the
config (controller.config imports web.config) does not pull Flask into every CLI command.
"""
from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from web.app_factory import create_app

        return create_app
    raise AttributeError(f"module 'web' has no attribute {name!r}")
