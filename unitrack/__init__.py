"""unitrack: training-free, unified tracking evaluation of frozen appearance models."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate", "score", "Result", "load_config"]


def __getattr__(name: str):
    # Lazy: `import unitrack` stays cheap (no torch import) until the API is used.
    if name in ("evaluate", "score"):
        from unitrack import api

        return getattr(api, name)
    if name == "Result":
        from unitrack.results import Result

        return Result
    if name == "load_config":
        from unitrack.config import load_config

        return load_config
    raise AttributeError(name)
