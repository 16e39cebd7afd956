from pathlib import Path

from pydantic import Field

from runtime.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]


class DeskSettings(ServiceSettings):
    #: Which systems are wired, how their webhooks authenticate, team rules, users, groups.
    desk_config: Path = ROOT / "deploy" / "desk" / "desk.yaml"
    #: Each system's REST API base URL, overriding the file's ``api.url`` (the local stack points
    #: them at the simulator): ``{"jira": "http://...", ...}``.
    desk_systems: dict[str, str] = {}
    #: A webhook body larger than this is refused (413) before it is read whole.
    desk_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: How long a webhook waits for the broker to acknowledge its event before answering 503.
    desk_publish_timeout_s: float = Field(default=10.0, gt=0)
    #: Write-back: attempts per call on 429/5xx/unreachable, and the longest wait between them.
    desk_write_attempts: int = Field(default=5, ge=1)
    desk_write_wait_cap_s: float = Field(default=30.0, gt=0)
    #: Requests per second per system (client-side, before the vendor's own limit).
    desk_rate_limit_per_s: float = Field(default=10.0, gt=0)
    db_pool_size: int = Field(default=4, ge=1)
    batch_max_records: int = Field(default=100, ge=1)
