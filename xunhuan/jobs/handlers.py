"""Which function runs a job of each kind. Apps above register theirs in ``AppConfig.ready``,
so this low layer never imports them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from xunhuan.jobs.models import Job


class Progress(Protocol):
    """What a handler calls to report how far it got (written to the job row)."""

    def __call__(self, *, done: int, total: int | None = None, message: str = "") -> None: ...


JobHandler = Callable[[Job, Progress], None]
_HANDLERS: dict[str, JobHandler] = {}


def job_handler_register(kind: str, handler: JobHandler) -> None:
    """Register ``handler`` for jobs of ``kind``; registering the same function again is a no-op."""
    existing = _HANDLERS.get(kind)
    if existing is not None and existing is not handler:
        raise ValueError(f"job kind {kind!r} already has a handler")
    _HANDLERS[kind] = handler


def job_handler_get(kind: str) -> JobHandler | None:
    return _HANDLERS.get(kind)
