"""Structured logs: one JSON object per line, with the ticket, event and coworker bound per handler.

structlog renders both its own loggers and the standard library's (FastStream, aiokafka, uvicorn),
so every line of a service has the same shape.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from runtime.redact import redact

def _redact_secrets(_: object, __: str, event: dict[str, Any]) -> dict[str, Any]:
    return redact(event)


_SHARED = [
    structlog.contextvars.merge_contextvars,
    _redact_secrets,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure(service: str, *, level: str = "INFO", fmt: str = "json") -> None:
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # FastStream and LiteLLM install their own handlers; route them through ours instead.
    for name in ("faststream", "LiteLLM"):
        own = logging.getLogger(name)
        own.handlers.clear()
        own.propagate = True
    # Per-message INFO lines from the framework would dominate the log at thousands of events/s.
    for noisy in ("aiokafka", "faststream", "uvicorn.access", "LiteLLM", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.bind_contextvars(service=service)


def get(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def level_number(level: str) -> int:
    return logging.getLevelNamesMapping()[level.upper()]
