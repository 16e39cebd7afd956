"""Every event type of Workforce: its payload (a noun) and its envelope (the CloudEvents ``type``).

One model per event is the single truth for validation, serialisation, JSON Schema and the
AsyncAPI document. Payloads refuse unknown fields; text fields carry hard size limits so an
oversized or hostile ticket is refused with a clear error instead of travelling on.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, JsonValue, PlainSerializer

from contracts.coworkers import CoworkerManifest, LifecycleState
from contracts.envelope import UPSTREAM_REF, Envelope, Payload, WireActor

# --- shared field types ---------------------------------------------------------------------

Id = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s]+$")]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
ShortText = Annotated[str, Field(max_length=500)]
LongText = Annotated[str, Field(max_length=20_000)]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
Usd = Annotated[
    Decimal,
    Field(ge=0, max_digits=20, decimal_places=10, description="US dollars, as an exact decimal string."),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
UsdRate = Annotated[
    Decimal,
    Field(ge=0, max_digits=40, decimal_places=28, description="US dollars per unit (token or second), as an exact decimal string."),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
Attributes = Annotated[dict[str, JsonValue], Field(max_length=50)]

MAX_TITLE = 500
MAX_DESCRIPTION = 20_000
#: No single model call reads or writes more tokens than this; a larger count is an error, not a bill.
MAX_TOKENS = 10_000_000


# --- tickets --------------------------------------------------------------------------------


class Requester(Payload):
    """The person who asked. Personal data: stays in events and the requester's memory scope only."""

    id: Id
    email: Annotated[str | None, Field(max_length=320)] = None
    name: Annotated[str | None, Field(max_length=200)] = None
    vip: bool = False
    country: Annotated[str | None, Field(max_length=2, min_length=2, description="ISO 3166-1 alpha-2")] = None


class Attachment(Payload):
    """A file attached to a ticket, as text (the upstream system extracts it)."""

    name: Annotated[str, Field(min_length=1, max_length=255)]
    content_type: Annotated[str, Field(max_length=100)] = "text/plain"
    text: Annotated[str, Field(max_length=MAX_DESCRIPTION)] = ""


class Ticket(Payload):
    """A request as the upstream ticketing system sent it."""

    ticket_id: Id
    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] = ""
    requester: Requester
    channel: Literal["portal", "email", "chat", "phone", "api"] = "portal"
    opened_at: datetime | None = None
    attachments: Annotated[list[Attachment], Field(max_length=10)] = []
    parent_id: Annotated[Id | None, Field(description="The ticket this one was split from.")] = None

    @property
    def text(self) -> str:
        """Title, body and attachments as one text, the way classifiers and memory read a ticket.
        Attachments are read like everything else a requester wrote: as data, never as orders."""
        parts = [self.title, self.description, *(f"[attachment {a.name}]\n{a.text}" for a in self.attachments)]
        return "\n".join(p for p in parts if p).strip()


class Candidate(Payload):
    skill: Name
    coworker: Name | None = None  # who would take it; None when no active coworker does
    score: Score


Priority = Literal["P1", "P2", "P3", "P4"]


class CategoryScore(Payload):
    category: Annotated[str, Field(max_length=100)]
    probability: Score


class TriageDecision(Payload):
    """Where triage sent a ticket, how sure it was, how urgent it is, and by what method."""

    ticket_id: Id
    category: Annotated[str, Field(max_length=100)]
    coworker: Name
    coworker_version: Annotated[int, Field(ge=1)]
    skill: Name
    confidence: Annotated[Score, Field(description="Calibrated: of decisions at this confidence, this share is right.")]
    priority: Priority
    priority_reason: ShortText
    method: Annotated[str, Field(max_length=100, description="router (the skill router decided), learned-example (people said), or llm (the model named the category).")]
    fallback: Annotated[str | None, Field(max_length=300, description="Why the configured method was not used, when it was not.")] = None
    model: Annotated[str, Field(max_length=200)]
    model_version: Annotated[str, Field(max_length=100)]
    categories: Annotated[list[CategoryScore], Field(max_length=10, description="The likeliest categories, best first.")] = []
    candidates: Annotated[list[Candidate], Field(max_length=10, description="The best-matching skills, best first.")] = []
    inputs: Attributes = {}


class Turn(Payload):
    """One message of the working conversation on a ticket."""

    actor: WireActor
    text: LongText
    at: datetime


class Attempt(Payload):
    """Something a coworker or service tried before handing over."""

    what: ShortText
    outcome: Literal["succeeded", "failed", "skipped", "not_attempted"]
    detail: LongText = ""


class Handoff(Payload):
    """Everything a human needs to take over without asking the requester again."""

    ticket: Ticket
    why: LongText
    transcript: Annotated[list[Turn], Field(max_length=500)] = []
    tried: Annotated[list[Attempt], Field(max_length=50)] = []
    candidates: Annotated[list[Candidate], Field(max_length=10)] = []
    facts: Annotated[list[ShortText], Field(max_length=50, description="What was established on the way: category, priority, inputs, answers.")] = []
    recall: Annotated[list[RecalledMemory], Field(max_length=20, description="The memories recalled for the ticket (see memory.recall).")] = []
    next_action: Annotated[ShortText, Field(description="What the person taking over should do first.")] = ""


class Escalation(Payload):
    ticket_id: Id
    reason_code: Literal["low_confidence", "out_of_scope", "skill_failed", "policy_denied", "budget_exhausted", "needs_human", "unreadable", "not_a_ticket", "identity_mismatch"]
    reason: ShortText
    queue: Name
    handoff: Handoff
    category: Annotated[str | None, Field(max_length=100)] = None
    priority: Priority | None = None


class Resolution(Payload):
    """A ticket was resolved, by a coworker or by a person; what was done, in words."""

    ticket_id: Id
    ticket: Ticket
    resolution: LongText
    skill: Name | None = None


class Child(Payload):
    ticket_id: Id
    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]
    skill: Name


class Split(Payload):
    """A ticket that held several requests became linked child tickets, one request each."""

    ticket_id: Id
    category: Annotated[str, Field(max_length=100)]
    children: Annotated[list[Child], Field(min_length=2, max_length=10)]
    reason: ShortText


class Question(Payload):
    """A targeted question to the requester: a skill needs something the ticket does not say."""

    ticket_id: Id
    category: Annotated[str, Field(max_length=100)]
    skill: Name
    field: Name
    question: ShortText
    to: Requester


class Answer(Payload):
    """The requester's answer to a question, from the ticketing system."""

    ticket_id: Id
    text: LongText


class Reroute(Payload):
    """A person corrected where a ticket should have gone; triage learns from it."""

    ticket_id: Id
    ticket: Ticket
    category: Annotated[str, Field(max_length=100)]
    skill: Name | None = None
    reason: ShortText = ""


UpstreamRef = Annotated[str, Field(max_length=300, pattern=UPSTREAM_REF, description="An upstream ticket as system:id.")]


class WriteBack(Payload):
    """What the service-desk connector wrote on the upstream ticket for one of our events."""

    ticket_id: Id
    upstream: UpstreamRef
    cause_type: Annotated[str, Field(max_length=100, description="The event written back: ticket.question, ticket.resolved, ticket.escalated, ticket.split.")]
    cause_id: Id
    actions: Annotated[list[ShortText], Field(min_length=1, max_length=20, description="What was done on the ticket, in words, with the system's own ids.")]
    attempts: Annotated[int, Field(ge=1)] = 1


class WriteBackFailure(Payload):
    """An event the service-desk connector could not write on its upstream ticket: given up, never silent."""

    ticket_id: Id
    upstream: UpstreamRef
    cause_type: Annotated[str, Field(max_length=100)]
    cause_id: Id
    reason_code: Literal["refused", "unreachable", "not_found", "not_configured"]
    reason: ShortText
    done: Annotated[list[ShortText], Field(max_length=20, description="What had been written before it failed.")] = []
    attempts: Annotated[int, Field(ge=1)] = 1


# --- skills ---------------------------------------------------------------------------------


class Delegation(Payload):
    """How a request reached its coworker: who handed it on, and how many hands it passed."""

    chain: Annotated[list[Name], Field(min_length=1, max_length=10, description="Coworkers the request passed through, first to last.")]

    @property
    def hops(self) -> int:
        return len(self.chain)


MemoryScope = Literal["requester", "coworker", "team", "ticket"]


class RecalledMemory(Payload):
    memory_id: Id
    scope: MemoryScope
    kind: Annotated[str, Field(max_length=40, description="resolution, history, preference, correction, turn, lesson, knowledge")] = ""
    text: LongText
    score: Annotated[float, Field(description="Similarity, recency and scope weight combined; higher first.")]
    similarity: float
    tokens: Annotated[int, Field(ge=0)]
    valid_from: datetime
    ticket_id: Id | None = None


class SkillRequest(Payload):
    ticket_id: Id
    skill: Name
    coworker: Name
    coworker_version: Annotated[int, Field(ge=1, description="The manifest version the work started on; it finishes on it.")]
    ticket: Ticket
    inputs: Attributes = {}
    confidence: Score
    delegation: Delegation | None = None
    recall: Annotated[list[RecalledMemory], Field(max_length=20, description="What memory recalled for the request, for a skill that asks memory before its first step (filled by the skills service from memory.recall).")] = []


class StepRecord(Payload):
    """One action a skill took on one external system. Inputs and outputs are redacted."""

    ticket_id: Id
    skill: Name
    coworker: Name
    step: Annotated[int, Field(ge=1, le=5)]
    name: Name
    system: Name
    operation: Annotated[str, Field(max_length=200)]
    idempotency_key: Annotated[str, Field(max_length=400)]
    kind: Literal["action", "compensation"] = Field(default="action", description="The step's action, or its undo after a later step failed.")
    attempts: Annotated[int, Field(ge=1, le=20, description="How many attempts it took (transient failures are retried).")] = 1
    status: Literal["done", "failed"]
    inputs: Attributes = {}
    outputs: Attributes = {}
    error: ShortText | None = None


class SkillOutcome(Payload):
    ticket_id: Id
    skill: Name
    coworker: Name
    steps: Annotated[int, Field(ge=0, le=5)]
    summary: LongText


class SkillFailure(Payload):
    ticket_id: Id
    skill: Name
    coworker: Name
    failed_step: Annotated[int | None, Field(ge=1, le=5)] = None
    error_code: Name
    reason: ShortText
    compensated: Annotated[list[Name], Field(max_length=5, description="Earlier steps undone after the failure, newest first.")] = []
    requester_id: Annotated[Id | None, Field(description="Whose ticket it was: memory keeps them out of the coworker's lessons.")] = None


# --- models, memory, budgets ----------------------------------------------------------------


class TokenUsage(Payload):
    """One model call (chat or embedding) and what it cost."""

    purpose: Annotated[str, Field(max_length=100, description="What the call was for, e.g. triage.embed.")]
    model: Annotated[str, Field(max_length=200)]
    provider: Annotated[str, Field(max_length=100)]
    prompt_tokens: Annotated[int, Field(ge=0, le=MAX_TOKENS, description="Input tokens, cached ones included.")]
    completion_tokens: Annotated[int, Field(ge=0, le=MAX_TOKENS)] = 0
    cost_usd: Annotated[Usd, Field(description="The caller's own figure. Billing prices the tokens itself from its versioned price table.")]
    latency_ms: Annotated[float, Field(ge=0, le=86_400_000)] = 0.0
    ticket_id: Id | None = None
    coworker: Name | None = None
    skill: Name | None = None
    cached_tokens: Annotated[int, Field(ge=0, le=MAX_TOKENS, description="Of the prompt tokens, those read from the provider's prompt cache.")] = 0
    leases: Annotated[list[Id], Field(max_length=4, description="The budget leases the call was reserved against (scope, and ticket when capped).")] = []

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class MemoryRecord(Payload):
    memory_id: Id
    scope: Literal["requester", "coworker", "team", "ticket"]
    ticket_id: Id | None = None
    collection: Name
    embedding_model: Annotated[str, Field(max_length=200)]
    dimensions: Annotated[int, Field(ge=1)]




class RecallRequest(Payload):
    """A service asks memory what it knows that bears on ``text``, within a token budget.

    The envelope's team is the only team searched; ticket, requester and coworker weigh the
    memories closest to them higher."""

    request_id: Id
    text: LongText
    ticket_id: Id | None = None
    requester_id: Id | None = None
    coworker: Name | None = None
    token_budget: Annotated[int, Field(ge=1, le=32_000, description="The most tokens the recalled texts may add up to.")] = 500
    limit: Annotated[int, Field(ge=1, le=50)] = 10
    context_budget: Annotated[int, Field(ge=0, le=32_000, description="Tokens for the ticket's working conversation (recent turns, a summary of older ones, the older ones that bear on `text`); 0: none.")] = 0


class RecallResult(Payload):
    """Memory's answer to a recall request: ranked memories that fit the token budget."""

    request_id: Id
    ticket_id: Id | None = None
    items: Annotated[list[RecalledMemory], Field(max_length=50)] = []
    tokens: Annotated[int, Field(ge=0, description="The tokens the items add up to (at most the budget).")] = 0
    token_budget: Annotated[int, Field(ge=1)]
    embedding_model: Annotated[str, Field(max_length=200)]
    context: Annotated[LongText, Field(description="The ticket's working conversation within `context_budget`, when asked for.")] = ""
    context_tokens: Annotated[int, Field(ge=0)] = 0
    context_turns: Annotated[int, Field(ge=0, description="Turns of the conversation memory holds for the ticket.")] = 0


class KnowledgeChunk(Payload):
    """One chunk of an organisation's document (a runbook, a policy page), to be kept as team knowledge.
    Redacted before it is sent; chunks of one document share ``document_id`` and count ``chunks``."""

    document_id: Id
    source: Annotated[str, Field(min_length=1, max_length=1000, description="Where the document came from: a path or URL.")]
    title: Annotated[str, Field(max_length=MAX_TITLE)] = ""
    chunk: Annotated[int, Field(ge=0)]
    chunks: Annotated[int, Field(ge=1)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_DESCRIPTION)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="Of the whole document's text, so an unchanged re-ingest is recognised.")]


class ErasureRequest(Payload):
    """A person asks memory to forget everything about a subject (a right-to-be-forgotten request)."""

    scope: MemoryScope
    subject: Id
    reason: ShortText


class BudgetThreshold(Payload):
    budget: Annotated[str, Field(max_length=200, description="Which budget, e.g. team:it-support.")]
    period: Annotated[str, Field(max_length=40, description="The budget period, e.g. 2026-11.")]
    threshold_pct: Annotated[int, Field(ge=1, le=100)]
    spent_usd: Usd
    limit_usd: Usd


class MemoryErasure(Payload):
    """Memories deleted: by a retention policy, an offboarding or a right-to-be-forgotten request."""

    scope: Literal["requester", "coworker", "team", "ticket"]
    subject: Id
    deleted: Annotated[int, Field(ge=0)]
    reason: ShortText


class BudgetStatus(Payload):
    """A budget's state now: one record per budget on a compacted topic, readable by any service."""

    budget: Annotated[str, Field(max_length=200, description="Which budget, e.g. coworker:jordan.")]
    period: Annotated[str, Field(max_length=40, description="e.g. 2026-11")]
    spent_usd: Usd
    limit_usd: Usd
    reserved_usd: Annotated[Usd, Field(description="Leased to callers and not yet booked as spent.")] = Decimal(0)
    period_start: datetime | None = None
    period_end: Annotated[datetime | None, Field(description="When the budget resets.")] = None

    @property
    def exhausted(self) -> bool:
        return self.spent_usd >= self.limit_usd


class Price(Payload):
    """What one model costs, per the billing price table version named beside it."""

    usd_per_input_token: UsdRate = Decimal(0)
    usd_per_output_token: UsdRate = Decimal(0)
    usd_per_cached_input_token: UsdRate = Decimal(0)
    usd_per_second: Annotated[UsdRate, Field(description="For local models priced by CPU time.")] = Decimal(0)

    def cost(self, prompt_tokens: int, completion_tokens: int = 0, cached_tokens: int = 0, seconds: float = 0.0) -> Decimal:
        """The cost of one call; cached tokens are part of the prompt tokens, priced at the cache rate."""
        cached = min(cached_tokens, prompt_tokens)
        total = (
            (prompt_tokens - cached) * self.usd_per_input_token
            + cached * self.usd_per_cached_input_token
            + completion_tokens * self.usd_per_output_token
            + Decimal(str(round(seconds, 6))) * self.usd_per_second
        )
        return total.quantize(Decimal("0.0000000001"))


class LeaseRequest(Payload):
    """A caller instance asks billing for a slice of the budgets that apply to its calls."""

    lease_id: Id
    holder: Annotated[str, Field(min_length=1, max_length=200, description="The caller instance that will spend it.")]
    kind: Literal["scope", "ticket"] = Field(description="scope: the team, coworker and skill budgets; ticket: one ticket's cap.")
    coworker: Name | None = None
    skill: Name | None = None
    ticket_id: Id | None = None
    amount_usd: Usd
    models: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=10, description="Models whose prices the caller needs.")] = []


class LeaseGrant(Payload):
    """Billing's answer: how much the holder may spend, against which budgets, until when. Zero is a refusal."""

    lease_id: Id
    holder: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["scope", "ticket"]
    budgets: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=10, description="Every budget the slice is counted against.")]
    amount_usd: Annotated[Usd | None, Field(description="None: no budget applies, spending is not capped.")]
    expires_at: datetime
    reason: ShortText = ""
    ticket_cap_usd: Annotated[Usd | None, Field(description="The per-ticket cap that applies to this scope; each ticket then needs a ticket lease.")] = None
    prices: Annotated[dict[Annotated[str, Field(max_length=200)], Price], Field(max_length=10)] = {}
    price_version: Annotated[str, Field(max_length=100)] = ""


class LeaseReturn(Payload):
    """A holder is done with a lease: what it spent on it, so the rest goes back to the budgets."""

    lease_id: Id
    holder: Annotated[str, Field(min_length=1, max_length=200)]
    used_usd: Usd
    calls: Annotated[int, Field(ge=0)]


class SpendLine(Payload):
    name: Annotated[str, Field(max_length=200)]
    cost_usd: Usd
    calls: Annotated[int, Field(ge=0)]
    tokens: Annotated[int, Field(ge=0)]


class SpendSummary(Payload):
    """A team's spend over a period, for finance: totals, the top spenders, and what it saved."""

    team: Annotated[str, Field(max_length=100)]
    period: Annotated[str, Field(max_length=40)]
    period_start: datetime
    period_end: datetime
    cost_usd: Usd
    calls: Annotated[int, Field(ge=0)]
    tokens: Annotated[int, Field(ge=0)]
    budget_usd: Usd | None = None
    top_coworkers: Annotated[list[SpendLine], Field(max_length=20)] = []
    top_skills: Annotated[list[SpendLine], Field(max_length=20)] = []
    top_models: Annotated[list[SpendLine], Field(max_length=20)] = []
    tickets: Annotated[int, Field(ge=0, description="Tickets that cost anything this period.")] = 0
    resolved_tickets: Annotated[int, Field(ge=0, description="Of those, resolved by a coworker.")] = 0
    cost_per_ticket_usd: Usd | None = None
    cost_per_resolved_ticket_usd: Usd | None = None
    human_cost_per_ticket_usd: Usd | None = None
    savings_usd: Annotated[Decimal | None, Field(description="Resolved tickets at the human baseline minus what the AI cost (negative: it cost more).")] = None
    price_versions: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=10)] = []


# --- coworkers: lifecycle owned by governance -----------------------------------------------

CommandName = Literal["apply", "publish", "suspend", "resume", "offboard"]


class CoworkerCommand(Payload):
    """A person asks governance to change a coworker: apply a manifest, publish, suspend, resume, offboard."""

    command: CommandName
    coworker: Name
    manifest: CoworkerManifest | None = None
    reason: ShortText = ""


class CoworkerChange(Payload):
    """Governance changed a coworker (the lifecycle's record of a command it accepted)."""

    command: CommandName
    coworker: Name
    from_state: LifecycleState | None
    to_state: LifecycleState
    version: Annotated[int, Field(ge=1, description="The version the command was about.")]
    active_version: Annotated[int | None, Field(ge=1)] = None


class CommandRejection(Payload):
    """Governance refused a command, and why."""

    command: CommandName
    coworker: Name
    reason: ShortText


class CoworkerState(Payload):
    """A coworker as it is now: one record per coworker on a compacted topic, readable by any service."""

    coworker: Name
    revision: Annotated[int, Field(ge=1, description="Counts accepted changes. A coworker's records share a partition, so the last one read is the highest.")]
    state: LifecycleState
    active_version: Annotated[int | None, Field(ge=1)] = None
    active: CoworkerManifest | None = None
    draft_version: Annotated[int | None, Field(ge=1)] = None
    draft: CoworkerManifest | None = None
    changed_at: datetime


# --- authorisation and approvals ------------------------------------------------------------

PolicyRule = Literal["coworker-known", "coworker-active", "holds-skill", "holds-scope", "within-budget", "approved", "delegation"]


class PolicyDecision(Payload):
    """An authorisation decision, recorded like a decision log: what was asked, by which rule, and why."""

    decision_id: Id
    ticket_id: Id
    coworker: Name
    coworker_version: Annotated[int | None, Field(ge=1)] = None
    skill: Name
    step: Annotated[int | None, Field(ge=1, le=5)] = None
    system: Name | None = None
    scope: Annotated[str | None, Field(max_length=100)] = None
    allowed: bool
    rule: PolicyRule
    reason: ShortText
    inputs: Attributes = {}
    #: The policy the rule was applied under (deploy/workforce/policy.yaml): its version and SHA-256.
    policy_version: Annotated[str | None, Field(max_length=100)] = None
    policy_sha256: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None


class PolicyChange(Payload):
    """The authorisation policy skills applies changed: from which version (none: the first
    announced) to which, and how the file differs."""

    previous_version: Annotated[str | None, Field(max_length=100)] = None
    previous_sha256: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None
    version: Annotated[str, Field(min_length=1, max_length=100)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    path: Annotated[str, Field(max_length=500)]
    #: The whole file as applied (the next change's diff is taken against it).
    text: LongText
    #: A unified diff of the previous file to this one (the whole file, for the first).
    diff: LongText


class ApprovalRequest(Payload):
    """A supervised coworker asks its manager before acting."""

    approval_id: Id
    ticket_id: Id
    coworker: Name
    coworker_version: Annotated[int, Field(ge=1)]
    skill: Name
    step: Annotated[int, Field(ge=1, le=5)]
    system: Name
    operation: Annotated[str, Field(max_length=200)]
    action: ShortText
    inputs: Attributes = {}
    approver: Name


class ApprovalDecision(Payload):
    """A person decided on an approval; the envelope's actor says who."""

    approval_id: Id
    ticket_id: Id
    coworker: Name
    skill: Name
    step: Annotated[int, Field(ge=1, le=5)]
    comment: ShortText = ""


# --- the dead letter ------------------------------------------------------------------------

#: Why a record was refused. Decoding: not_json, schema, unknown_type, wrong_topic, oversized.
#: Authentication (checked before anything is read): unsigned (no signature), forged (a signature
#: that does not verify, or a signer no key is known for), not_a_writer (a signer the topic does not
#: accept, or an actor the signer may not speak for). Meaning: conflict (an event id seen before with
#: other content), unknown_model (usage of a model nobody prices), not_a_row (a tombstone, or a key
#: that is not text or not the event's own, on a table topic). processing: the handler failed on it.
DeadLetterCode = Literal[
    "not_json", "schema", "unknown_type", "wrong_topic", "oversized", "processing",
    "unsigned", "forged", "not_a_writer", "conflict", "unknown_model", "not_a_row",
]


class DeadLetter(Payload):
    """A record that could not be processed, with the reason and the record itself.

    ``original`` holds the record's exact bytes (URL-safe base64 in JSON), or, for a record larger
    than 128 KiB, its first 128 KiB: ``original_size`` and ``original_sha256`` describe the whole
    record, which stays at ``source_topic``/``partition``/``offset`` for that topic's retention.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    reason_code: DeadLetterCode
    reason: Annotated[str, Field(max_length=4_000)]
    service: Name
    source_topic: Annotated[str, Field(max_length=249)]
    partition: Annotated[int, Field(ge=0)]
    offset: Annotated[int, Field(ge=0)]
    key: Annotated[bytes | None, Field(max_length=4_096)] = None
    headers: Annotated[dict[str, str], Field(max_length=50)] = {}
    original: Annotated[bytes, Field(max_length=128 * 1024)]
    original_size: Annotated[int, Field(ge=0)]
    original_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    original_type: Annotated[str | None, Field(max_length=200)] = None
    original_id: Annotated[str | None, Field(max_length=200)] = None

    @property
    def truncated(self) -> bool:
        return len(self.original) < self.original_size


# --- the events: one envelope subclass per CloudEvents type ---------------------------------


class TicketCreated(Envelope[Ticket]):
    """A new ticket from an upstream ticketing system."""

    type: Literal["ticket.created"] = "ticket.created"


class TicketTriaged(Envelope[TriageDecision]):
    """Triage routed a ticket to a coworker's skill."""

    type: Literal["ticket.triaged"] = "ticket.triaged"


class TicketEscalated(Envelope[Escalation]):
    """A ticket went to a human queue, with the handoff package."""

    type: Literal["ticket.escalated"] = "ticket.escalated"


class TicketResolved(Envelope[Resolution]):
    """A ticket was resolved, with what resolved it."""

    type: Literal["ticket.resolved"] = "ticket.resolved"


class TicketSplit(Envelope[Split]):
    """A ticket was split into linked child tickets."""

    type: Literal["ticket.split"] = "ticket.split"


class TicketQuestion(Envelope[Question]):
    """A question to the requester; the ticket waits for the answer."""

    type: Literal["ticket.question"] = "ticket.question"


class TicketAnswered(Envelope[Answer]):
    """The requester answered; the ticket goes on."""

    type: Literal["ticket.answered"] = "ticket.answered"


class TicketRerouted(Envelope[Reroute]):
    """A person corrected a ticket's route."""

    type: Literal["ticket.rerouted"] = "ticket.rerouted"


class TicketWrittenBack(Envelope[WriteBack]):
    """Our question, resolution, escalation or split is on the requester's upstream ticket."""

    type: Literal["ticket.written_back"] = "ticket.written_back"


class TicketWriteBackFailed(Envelope[WriteBackFailure]):
    """Writing one of our events on its upstream ticket failed for good; a person should look."""

    type: Literal["ticket.write_back_failed"] = "ticket.write_back_failed"


class SkillRequested(Envelope[SkillRequest]):
    """A coworker is asked to run one of its skills on a ticket."""

    type: Literal["skill.requested"] = "skill.requested"


class SkillStep(Envelope[StepRecord]):
    """One action on an external system, taken by a skill."""

    type: Literal["skill.step"] = "skill.step"


class SkillCompleted(Envelope[SkillOutcome]):
    """A skill ran all its steps."""

    type: Literal["skill.completed"] = "skill.completed"


class SkillFailed(Envelope[SkillFailure]):
    """A skill stopped; the reason says why."""

    type: Literal["skill.failed"] = "skill.failed"


class LlmUsage(Envelope[TokenUsage]):
    """Tokens spent on one model call, and their cost."""

    type: Literal["llm.usage"] = "llm.usage"


class MemoryRecorded(Envelope[MemoryRecord]):
    """Something was stored in memory."""

    type: Literal["memory.recorded"] = "memory.recorded"


class BudgetAlert(Envelope[BudgetThreshold]):
    """A budget crossed a threshold."""

    type: Literal["budget.alert"] = "budget.alert"


class MemoryForgotten(Envelope[MemoryErasure]):
    """Memories were deleted, and why."""

    type: Literal["memory.forgotten"] = "memory.forgotten"


class MemoryRecallRequested(Envelope[RecallRequest]):
    """A service asks memory for what bears on a ticket; the answer comes on memory.recall."""

    type: Literal["memory.recall.requested"] = "memory.recall.requested"


class MemoryRecalled(Envelope[RecallResult]):
    """Memory's ranked answer to a recall request, within its token budget."""

    type: Literal["memory.recall"] = "memory.recall"


class MemoryKnowledgeIngested(Envelope[KnowledgeChunk]):
    """A chunk of an organisation's document, for memory to keep as the team's knowledge."""

    type: Literal["memory.knowledge"] = "memory.knowledge"


class MemoryErasureRequested(Envelope[ErasureRequest]):
    """A person asked memory to forget a requester (or another subject); memory.forgotten follows."""

    type: Literal["memory.erasure.requested"] = "memory.erasure.requested"


class BudgetState(Envelope[BudgetStatus]):
    """A budget's current state (compacted: the latest per budget)."""

    type: Literal["budget.state"] = "budget.state"


class BudgetLeaseRequested(Envelope[LeaseRequest]):
    """A caller instance asks billing for a slice of a budget, before it calls a model."""

    type: Literal["budget.lease.requested"] = "budget.lease.requested"


class BudgetLeaseGranted(Envelope[LeaseGrant]):
    """Billing grants (or refuses, with amount zero) a slice of the budgets that apply."""

    type: Literal["budget.lease.granted"] = "budget.lease.granted"


class BudgetLeaseReturned(Envelope[LeaseReturn]):
    """A caller is done with a lease; what it did not spend goes back to the budgets."""

    type: Literal["budget.lease.returned"] = "budget.lease.returned"


class SpendReport(Envelope[SpendSummary]):
    """A team's spend over a period with its top coworkers, skills and models, for finance."""

    type: Literal["spend.report"] = "spend.report"


class CoworkerCommanded(Envelope[CoworkerCommand]):
    """A person asked for a lifecycle change of a coworker."""

    type: Literal["coworker.command"] = "coworker.command"


class CoworkerChanged(Envelope[CoworkerChange]):
    """A coworker's lifecycle changed."""

    type: Literal["coworker.changed"] = "coworker.changed"


class CoworkerRejected(Envelope[CommandRejection]):
    """A lifecycle command was refused, with the reason."""

    type: Literal["coworker.rejected"] = "coworker.rejected"


class CoworkerStated(Envelope[CoworkerState]):
    """A coworker's current state and manifest (compacted: the latest per coworker)."""

    type: Literal["coworker.state"] = "coworker.state"


class PolicyAllowed(Envelope[PolicyDecision]):
    """An action was authorised."""

    type: Literal["policy.allowed"] = "policy.allowed"


class PolicyDenied(Envelope[PolicyDecision]):
    """An action was refused, by which rule and why."""

    type: Literal["policy.denied"] = "policy.denied"


class PolicyChanged(Envelope[PolicyChange]):
    """The authorisation policy changed (compacted: the latest is the policy in force), keyed by subject "policy"."""

    type: Literal["policy.changed"] = "policy.changed"


class ApprovalRequested(Envelope[ApprovalRequest]):
    """A supervised action waits for a person's approval."""

    type: Literal["approval.requested"] = "approval.requested"


class ApprovalGranted(Envelope[ApprovalDecision]):
    """A person approved an action."""

    type: Literal["approval.granted"] = "approval.granted"


class ApprovalRejected(Envelope[ApprovalDecision]):
    """A person rejected an action."""

    type: Literal["approval.rejected"] = "approval.rejected"


class DeadLettered(Envelope[DeadLetter]):
    """A record a service could not process, with the reason and the original bytes."""

    type: Literal["deadletter"] = "deadletter"


EVENT_TYPES: tuple[type[Envelope], ...] = (
    TicketCreated,
    TicketTriaged,
    TicketEscalated,
    TicketResolved,
    TicketSplit,
    TicketQuestion,
    TicketAnswered,
    TicketRerouted,
    TicketWrittenBack,
    TicketWriteBackFailed,
    SkillRequested,
    SkillStep,
    SkillCompleted,
    SkillFailed,
    LlmUsage,
    MemoryRecorded,
    BudgetAlert,
    MemoryForgotten,
    MemoryRecallRequested,
    MemoryRecalled,
    MemoryErasureRequested,
    MemoryKnowledgeIngested,
    BudgetState,
    BudgetLeaseRequested,
    BudgetLeaseGranted,
    BudgetLeaseReturned,
    SpendReport,
    CoworkerCommanded,
    CoworkerChanged,
    CoworkerRejected,
    CoworkerStated,
    PolicyAllowed,
    PolicyDenied,
    PolicyChanged,
    ApprovalRequested,
    ApprovalGranted,
    ApprovalRejected,
    DeadLettered,
)
