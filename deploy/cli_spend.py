"""``workforce spend``: what the AI workforce cost, per team and coworker, skill or model, against
its budgets and against what people would have cost; ``--plot`` draws spend over time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import typer

from deploy.stack import ROOT

DEFAULT_VAR = ROOT / ".var"


def spend(
    team: Annotated[str | None, typer.Option(help="One team (default: every team).")] = None,
    by: Annotated[Literal["coworker", "skill", "model", "team"], typer.Option(help="What to break the spend down by.")] = "coworker",
    period: Annotated[Literal["day", "week", "month"], typer.Option(help="The current day, week or month (UTC).")] = "month",
    plot: Annotated[Path | None, typer.Option(help="Also draw cumulative spend per day against the budget into this PNG.")] = None,
    config: Annotated[Path, typer.Option(help="Billing's configuration (budgets, human baseline).", envvar="BILLING_CONFIG")] = ROOT / "deploy" / "workforce" / "budgets.yaml",
    var: Annotated[Path, typer.Option(help="Where the running stack keeps its address.")] = DEFAULT_VAR,
) -> None:
    """Print spend per team and coworker (or skill, model), with cost per ticket and what it saved."""
    from deploy.endpoints import NoStack, endpoints
    from services.billing.config import load_config

    try:
        _, database = endpoints(var)
    except NoStack as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if not database:
        typer.echo("no database: set DATABASE_URL, or start the stack with `workforce up`", err=True)
        raise typer.Exit(1)
    loaded = load_config(config)
    typer.echo(asyncio.run(_report(database, loaded, team, by, period, plot)))


async def _report(database: str, config, team: str | None, by: str, period: str, plot: Path | None) -> str:  # noqa: ANN001
    import asyncpg

    from services.billing import reports
    from services.billing.periods import Period

    window = Period(period).window(datetime.now(UTC))  # type: ignore[arg-type]
    conn = await asyncpg.connect(database)
    try:
        rows = await reports.table(conn, window, team=team, by=by)  # type: ignore[arg-type]
        teams = [team] if team else await reports.teams_with_spend(conn, window)
        summaries = [await reports.summary(conn, t, window, config) for t in teams]
        series = await reports.daily(conn, window.start, window.end, team=team) if plot else []
    finally:
        await conn.close()
    lines = [f"spend {window.label} ({window.start:%Y-%m-%d} to {window.end - timedelta(seconds=1):%Y-%m-%d} UTC){' for ' + team if team else ''}, by {by}", ""]
    total = sum((r["cost_usd"] for r in rows), Decimal(0))
    header = f"{'team':<20} {by:<28} {'calls':>8} {'tokens':>12} {'cost USD':>14} {'share':>6}"
    lines += [header, "-" * len(header)]
    for r in rows:
        tokens = r["prompt_tokens"] + r["completion_tokens"]
        share = f"{r['cost_usd'] / total:.0%}" if total else "-"
        lines.append(f"{r['team']:<20} {(r['name'] or '(none)'):<28} {r['calls']:>8,} {tokens:>12,} {r['cost_usd']:>14.6f} {share:>6}")
    lines += ["-" * len(header), f"{'total':<49} {sum(r['calls'] for r in rows):>8,} {'':>12} {total:>14.6f}", ""]
    for s in summaries:
        budget = f"{s.budget_usd} USD a month ({s.cost_usd / s.budget_usd:.1%} used)" if s.budget_usd else "no monthly team budget"
        per_ticket = f"{s.cost_per_ticket_usd} USD a ticket over {s.tickets} ticket(s)" if s.cost_per_ticket_usd is not None else "no ticket cost anything"
        per_resolved = f"{s.cost_per_resolved_ticket_usd} USD per resolved ticket ({s.resolved_tickets} resolved)" if s.cost_per_resolved_ticket_usd is not None else f"{s.resolved_tickets} resolved"
        lines.append(f"{s.team}: {s.cost_usd:.6f} USD; {budget}; {per_ticket}; {per_resolved}")
        if s.human_cost_per_ticket_usd is not None:
            verb = "saved" if (s.savings_usd or 0) >= 0 else "cost more than people by"
            lines.append(f"    against {s.human_cost_per_ticket_usd} USD a ticket handled by a person: {verb} {abs(s.savings_usd or 0)} USD")
    if plot:
        budget = summaries[0].budget_usd if team and summaries else None
        _plot(plot, series, window, budget, team)
        lines.append(f"\nplot written to {plot}")
    return "\n".join(lines)


def _plot(path: Path, series: list, window, budget: Decimal | None, team: str | None) -> None:  # noqa: ANN001
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days, cumulative, running = [], [], Decimal(0)
    for r in series:
        running += r["cost_usd"]
        days.append(r["day"])
        cumulative.append(float(running))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.step(days, cumulative, where="post", label="spend (cumulative)")
    if budget is not None:
        ax.axhline(float(budget), color="crimson", linestyle="--", label=f"budget {budget} USD")
    ax.set_xlim(window.start.date(), (window.end - timedelta(seconds=1)).date())
    ax.set_ylabel("USD")
    ax.set_title(f"spend {window.label}{' - ' + team if team else ''}")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
