"""What believing a record costs: signing and verifying, beside decoding the same record.

Per record of a real ticket (``ticket.created`` from the samples), in this process, on the same
machine in the same run: decode it (the work every consumer does anyway, the baseline), verify a
service's HMAC signature, verify a person's or the adapter's Ed25519 signature, sign with each, and
the header-key check. Medians of repeated rounds; ratios against decoding. ADR 0020 chose HMAC
for services from these figures. Results in bench/results/signing.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from contracts import codec
from contracts.topics import APPROVAL_GRANTED, TICKET_CREATED, TICKET_TRIAGED
from deploy import keys, upstream
from runtime import header_keys
from runtime.signing import Keyring

RESULTS = Path(__file__).parent / "results"


def per_call_us(fn: Callable[[], object], *, calls: int, rounds: int) -> float:
    """The median over ``rounds`` of the mean time of one call, in microseconds."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="workforce-keys-"))
    keys.init(folder, people=["priya.raman"])
    ring = Keyring(folder)
    event = upstream.ticket_event(upstream.load()[0])
    key, value = TICKET_CREATED.key(event), codec.encode(event)
    service, adapter = ring.signer("triage"), ring.signer("upstream")
    by_service = service.sign(TICKET_TRIAGED.name, key, value)  # any service topic: the cost is the same
    by_adapter = adapter.sign(TICKET_CREATED.name, key, value)
    by_person = ring.signer("human:priya.raman").sign(APPROVAL_GRANTED.name, key, value)
    headers = [("content-type", b"application/cloudevents+json"), *by_adapter]
    assert ring.verify(TICKET_TRIAGED, key, value, by_service) == "triage"
    assert ring.verify(TICKET_CREATED, key, value, by_adapter) == "upstream"
    assert ring.verify(APPROVAL_GRANTED, key, value, by_person) == "human:priya.raman"

    measure = {
        "decode ticket.created (baseline)": lambda: codec.decode_as(value, TICKET_CREATED.event),
        "verify a service's HMAC-SHA256": lambda: ring.verify(TICKET_TRIAGED, key, value, by_service),
        "verify the adapter's Ed25519": lambda: ring.verify(TICKET_CREATED, key, value, by_adapter),
        "sign as a service (HMAC-SHA256)": lambda: service.sign(TICKET_TRIAGED.name, key, value),
        "sign as the adapter (Ed25519)": lambda: adapter.sign(TICKET_CREATED.name, key, value),
        "header keys check": lambda: header_keys.why_unreadable(headers),
    }
    figures = {name: round(per_call_us(fn, calls=args.calls, rounds=args.rounds), 2) for name, fn in measure.items()}
    baseline = figures["decode ticket.created (baseline)"]
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "record_bytes": len(value),
        "calls_per_round": args.calls,
        "rounds": args.rounds,
        "us_per_record": figures,
        "times_decoding": {name: round(us / baseline, 3) for name, us in figures.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "signing.json").write_text(json.dumps(result, indent=2) + "\n")
    for name, us in figures.items():
        print(f"{name:<36} {us:>8.2f} us   {us / baseline:>6.2f}x decoding")


if __name__ == "__main__":
    main()
