"""The fake org's Slack: everyone who works here, the IT channels, the on-call rotation as a user
group whose default channels are the incident channels, and the coworkers' bots invited where their
work posts (a bot posts only where it was invited, as in Slack)."""

from __future__ import annotations

import asyncpg

from services.skills.connectors.slack import user_id

# name, id, private, purpose
CHANNELS = [
    ("general", "C01GENERAL0", False, "Company-wide announcements"),
    ("it-help", "C01ITHELP00", False, "Ask IT anything"),
    ("it-incidents", "C01ITINCID0", False, "New and ongoing incidents; the on-call engineer is paged here"),
    ("it-oncall", "C01ITONCAL0", True, "The IT on-call rotation"),
    ("it-changes", "C01ITCHANG0", False, "Planned changes (archived: moved to Jira)"),
]
ARCHIVED = {"it-changes"}
#: Which coworkers' bots were invited to which channels.
INVITED = {"jordan": ("it-incidents", "it-oncall", "it-help")}
#: On call this week, and the channels each rotation is paged in.
ROTATIONS = [("S01ITONCALL", "it-oncall", "IT on-call", ("it-incidents", "it-oncall"))]


async def seed_slack(conn: asyncpg.Connection, count: int = 300) -> int:
    """Insert the workspace if not there; return how many people were added."""
    from deploy.sandbox.seed import employees  # seed imports this module

    people = [(user_id(login.split("@")[0]), login.split("@")[0], f"{first} {last}", email, dept) for _, login, email, first, last, _, dept, status in employees(count) if status not in ("STAGED", "DEPROVISIONED")]
    bots = [(user_id(name, bot=True), f"{name}-bot", name.title(), None, None) for name in INVITED]
    result = await conn.execute(
        "INSERT INTO slack_users (id, name, real_name, email, is_bot) SELECT i, n, r, e, e IS NULL FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(i, n, r, e)"
        " ON CONFLICT DO NOTHING",
        *map(list, zip(*[(i, n, r, e) for i, n, r, e, _ in people + bots], strict=True)),
    )
    ids = {name: cid for name, cid, _, _ in CHANNELS}
    await conn.execute(
        "INSERT INTO slack_channels (id, name, is_private, is_archived, purpose) SELECT i, n, p, n = ANY($5::text[]), pu"
        " FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[]) AS c(n, i, p, pu) ON CONFLICT DO NOTHING",
        *map(list, zip(*CHANNELS, strict=True)),
        sorted(ARCHIVED),
    )
    it = [p for p in people if p[4] == "IT"]
    members = [(ids["general"], p[0]) for p in people]
    members += [(ids[c], p[0]) for p in it for c in ("it-help", "it-incidents", "it-oncall")]
    members += [(ids[c], user_id(bot, bot=True)) for bot, channels in INVITED.items() for c in channels]
    await conn.execute(
        "INSERT INTO slack_channel_members (channel_id, user_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
        *map(list, zip(*members, strict=True)),
    )
    on_call = [it[0][0]] if it else []  # this week's engineer: the first of IT
    await conn.execute(
        "INSERT INTO slack_usergroups (id, handle, name, channels, users) SELECT i, h, n, string_to_array(c, ','), $5::text[]"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS g(i, h, n, c) ON CONFLICT DO NOTHING",
        *map(list, zip(*[(i, h, n, ",".join(ids[c] for c in cs)) for i, h, n, cs in ROTATIONS], strict=True)),
        on_call,
    )
    return int(result.split()[-1])
