from pathlib import Path

from pydantic import Field, SecretStr

from runtime.settings import ServiceSettings

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "deploy" / "workforce" / "skills.yaml"


class GovernanceSettings(ServiceSettings):
    batch_max_records: int = Field(default=5000, ge=1)
    #: The audit consumer keeps each record as received after a cheap envelope check (the producer
    #: validated its payload; its signature says who did); false: every payload fully validated
    #: first, as before issue 17 (for comparison, bench/governance_service.py).
    audit_envelope_only: bool = True
    db_pool_size: int = Field(default=4, ge=1)
    skills_catalog: Path = DEFAULT_CATALOG
    #: Where signed checkpoints of the audit chain heads are written (ideally storage the database's
    #: administrators cannot rewrite); every ``audit_checkpoint_interval_s`` when a head moved, 0: never.
    audit_checkpoint_dir: Path = Path(".var") / "audit" / "checkpoints"
    audit_checkpoint_interval_s: float = Field(default=300.0, ge=0)
    #: The checkpoints' Ed25519 signing secret (any text; hashed to the key). Unset: derived from
    #: ``WORKFORCE_SECRETS_KEY``. Never logged.
    audit_signing_key: SecretStr | None = None
    workforce_secrets_key: SecretStr | None = None
    #: The people (handles) who may give any lifecycle command; everyone else only for the coworkers
    #: they manage. The local stack's administrator by default (deploy/keys.py).
    workforce_admins: frozenset[str] = frozenset({"workforce.admin"})
    #: Retention of the audit trail for teams without a setting of their own (`workforce audit retention`).
    audit_retention_days: int = Field(default=2557, ge=1)  # seven years
