"""Settings every service reads from the environment. Each service subclasses this once."""

from __future__ import annotations

import os
import socket

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Environment variables are the upper-case field names, e.g. ``KAFKA_BOOTSTRAP_SERVERS``."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    #: Replication of the topics this service creates when they are missing (3 on a production cluster).
    kafka_replication_factor: int = Field(default=1, ge=1)
    database_url: str | None = Field(default=None, repr=False)
    #: Where the health endpoints listen; 0 picks a free port (several instances on one host).
    health_host: str = "127.0.0.1"
    health_port: int = 0
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|console)$")
    #: The most records one handler call receives (a batch is what has arrived; it is not waited for).
    batch_max_records: int = Field(default=500, ge=1)
    #: How long the broker may hold a fetch when no data waits, for a quiet consumer (runtime/fetching.py).
    fetch_max_wait_ms: int = Field(default=1000, ge=1)
    #: ... and while records keep coming; on Apache Kafka, which answers a held fetch when data
    #: arrives, set it to ``fetch_max_wait_ms``. A consumer is quiet after ``fetch_idle_after_s`` without records.
    fetch_busy_wait_ms: int = Field(default=25, ge=1)
    fetch_idle_after_s: float = Field(default=2.0, gt=0)
    max_event_bytes: int = Field(default=256 * 1024, ge=1024)
    #: How many times a batch that raises is retried before its events are tried one by one.
    poison_retries: int = Field(default=2, ge=0)
    #: A consumer is stuck (``/ready`` 503, ``workforce_consumer_stuck`` 1) when its pending work was
    #: delivered more than this many times, or it has had work this long, with no batch handled.
    stuck_max_attempts: int = Field(default=3, ge=1)
    stuck_after_s: float = Field(default=180.0, gt=0)
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
