"""Webhook intake: verify (``signatures``), parse each vendor's payload into one ``Inbound``
(``jira``, ``servicenow``, ``zendesk``), map it to our event (``events``). All pure; the HTTP door
is ``services.desk.webhooks``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from services.desk.intake import jira, servicenow, zendesk
from services.desk.intake.inbound import Inbound

PARSERS: dict[str, Callable[[bytes, Mapping[str, str]], Inbound]] = {
    "jira": jira.parse,
    "servicenow": servicenow.parse,
    "zendesk": zendesk.parse,
}
