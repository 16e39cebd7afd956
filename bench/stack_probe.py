"""What a running local stack spends: CPU seconds per component (broker, PostgreSQL, the simulated
systems, each service), and the records each service's consumers got through (their ``/metrics``).
Read from outside, with psutil and HTTP, as an operator would."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

import psutil
from prometheus_client.parser import text_string_to_metric_families

from deploy.stack import Stack


def _tree_cpu(process: psutil.Process) -> float:
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def components(stack: Stack) -> dict[str, list[psutil.Process]]:
    """The processes of each component of ``stack`` (PostgreSQL: the embedded server's, by its data folder)."""
    out: dict[str, list[psutil.Process]] = {}
    if stack.broker and stack.broker.process:
        out["broker"] = [psutil.Process(stack.broker.process.pid)]
    if stack.simulator and stack.simulator.process:
        out["systems (simulator)"] = [psutil.Process(stack.simulator.process.pid)]
    for name, procs in stack.running.items():
        out[name] = [psutil.Process(p.process.pid) for p in procs if p.process is not None]
    data = str((stack.var / "postgres").resolve())
    postmasters = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            cmdline = " ".join(p.info["cmdline"] or [])
        except psutil.Error:
            continue
        if (p.info["name"] or "").startswith("postgres") and data in cmdline:
            postmasters.append(p)
    if postmasters:
        out["postgres"] = postmasters
    return out


@dataclass
class CpuSnapshot:
    seconds: dict[str, float]

    @classmethod
    def take(cls, parts: dict[str, list[psutil.Process]]) -> CpuSnapshot:
        return cls({name: sum(_tree_cpu(p) for p in procs) for name, procs in parts.items()})

    def since(self, earlier: CpuSnapshot) -> dict[str, float]:
        return {name: self.seconds[name] - earlier.seconds.get(name, 0.0) for name in self.seconds}


def handled(stack: Stack) -> dict[str, float]:
    """Records handled so far by each service's consumers (sum over its handlers)."""
    out: dict[str, float] = {}
    for name, procs in stack.running.items():
        total = 0.0
        for proc in procs:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{proc.health_port}/metrics", timeout=5) as response:
                    text = response.read().decode()
            except OSError:
                continue
            for family in text_string_to_metric_families(text):
                if family.name == "workforce_consumer_records":
                    total += sum(s.value for s in family.samples if s.name.endswith("_total") and s.labels.get("outcome") == "handled")
        out[name] = total
    return out
