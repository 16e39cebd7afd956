"""ServiceNow's Table API in the composite simulator, under ``/servicenow``
(``/servicenow/api/now/table/incident``, ``.../sys_journal_field``): the instance of
``deploy/sandbox/servicenow.py`` (its HTTP side and incident rules, unchanged), over the simulator's
schema, one transaction per request.

Auth is an instance's Basic auth, ``Authorization: Basic base64(<user>:<password>)``, where the
password is an API token the administration API issued for system ``servicenow``
(``POST /_sandbox/tokens {"system": "servicenow", "coworker": "<user>", ...}``) and the user name is
the coworker it was issued to: as on an instance, a password is one user's, so the token under any
other user name is a 401. That name is who the instance records as acting (``sys_created_by``,
``sys_updated_by``, the journal's authors). ``Authorization: Bearer <token>`` (an instance's OAuth)
is accepted too, acting as the coworker the token was issued to. A revoked token is a 401; the
scopes a token carries are not checked (an instance's roles and ACLs are not simulated).

Faults and holds come from the simulator's shared ``/_sandbox/faults`` and ``/_sandbox/holds``; the
standalone instance's own hooks are not served here (``python -m deploy.sandbox seed --reset``
empties the instance along with everything else).
"""

from __future__ import annotations

from aiohttp import web

from deploy.sandbox import servicenow, tokens
from deploy.sandbox.server import SandboxState
from deploy.sandbox.servicenow import IncidentStore

SYSTEM = "servicenow"


async def issued_token(request: web.Request, store: IncidentStore) -> str | None:
    """The user a request acts as: the coworker whose issued token it carries, or None (a 401)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        caller = await tokens.authenticate(store.db, SYSTEM, value.strip())
        return caller.coworker if caller is not None else None
    if (credentials := servicenow.basic_credentials(request)) is None:
        return None
    user, password = credentials
    caller = await tokens.authenticate(store.db, SYSTEM, password)
    return user if caller is not None and caller.coworker == user else None


def create_app(state: SandboxState) -> web.Application:
    return servicenow.table_api(IncidentStore(state), issued_token)
