"""Several server processes behind HAProxy, on one Redis: `python -m maraum.cluster`.

The production layout of deploy/haproxy.cfg, on one machine: `make run-cluster` runs it for
you to try (two processes; PROCESSES=n for more), and the bench measures it. Each process is
`maraum.serve` on a loopback port (PORT+1, PORT+2, … for `make run-cluster`, which prints
each process's pid and port) with --proxy-headers (the balancer strips a client's
X-Forwarded-For and sets its own, so the login throttles see the real address); HAProxy
listens on HOST:PORT.
A process that exits (a SIGTERM to it drains it first) is started again on its port, so a
rolling restart is a SIGTERM to one process at a time; so is HAProxy. Ctrl+C or SIGTERM to the
cluster stops them all, the processes gracefully.
"""

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
HAPROXY_CONFIG = BASE_DIR / "deploy" / "haproxy.cfg"


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port} after {timeout} s")


def port_is_free(host: str, port: int) -> bool:
    """Nothing listens on it. Connections closed lately (TIME-WAIT) do not count: as for the
    servers, which bind with SO_REUSEADDR; without it, a cluster stopped a moment ago could not
    be started again (the attacker's replay)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def cluster(
    processes: int = 2,
    host: str = "127.0.0.1",
    port: int = 8000,
    env: dict | None = None,
    app: str = "maraum.asgi:application",
    log_dir: Path | None = None,
    ports: list[int] | None = None,
):
    """Start `processes` servers (on `ports`, or free ones) and HAProxy in front of them;
    yields (balancer, servers)."""
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        raise SystemExit("HAProxy is missing: apt-get install haproxy")
    env = dict(os.environ, **(env or {}))
    if not env.get("REDIS_URL"):
        raise SystemExit("several processes share one Redis: set REDIS_URL")
    ports = ports or [free_port() for _ in range(processes)]
    if len(ports) != processes:
        raise ValueError("a port per process")
    for number, taken in enumerate([port, *ports]):
        if not port_is_free(host if number == 0 else "127.0.0.1", taken):
            raise SystemExit(f"port {taken} is in use: choose another PORT")
    balancer = config = None

    def log(name: str):
        return open(log_dir / f"{name}.log", "a") if log_dir else None

    def start(number: int) -> subprocess.Popen:
        command = [sys.executable, "-m", "maraum.serve", "--proxy-headers"]
        command += ["-b", "127.0.0.1", "-p", str(ports[number - 1]), app]
        output = log(f"app{number}")
        try:
            return subprocess.Popen(  # noqa: S603 (our own command line)
                command,
                cwd=BASE_DIR,
                env=env,
                stdout=output,
                stderr=output,
                start_new_session=True,  # Ctrl+C reaches them as SIGTERM, from here
            )
        finally:
            if output:
                output.close()  # the process has its own copy

    start.ports = ports
    servers = Servers(start)
    try:
        for number in range(1, processes + 1):
            servers.append(start(number))
        for server, server_port in zip(servers, ports, strict=True):
            wait_for_port(server_port, server)
        balancer_env = dict(env, MARAUM_LISTEN=f"{host}:{port}")
        for number, server_port in enumerate(ports, 1):
            balancer_env[f"MARAUM_APP{number}"] = f"127.0.0.1:{server_port}"
        config = tempfile.NamedTemporaryFile("w", prefix="haproxy-", suffix=".cfg")
        config.write(balancer_config(processes))
        config.flush()

        def start_balancer() -> subprocess.Popen:
            output = log("haproxy")
            try:
                return subprocess.Popen(  # noqa: S603 (our own command line)
                    [haproxy, "-db", "-f", config.name],
                    env=balancer_env,
                    stdout=output,
                    stderr=output,
                    start_new_session=True,
                )
            finally:
                if output:
                    output.close()

        balancer = Balancer(start_balancer)
        wait_for_port(port, balancer.process)
        yield balancer, servers
    finally:
        for process in servers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in servers:
            try:
                process.wait(40)
            except subprocess.TimeoutExpired:
                process.kill()
        if balancer and balancer.poll() is None:
            balancer.process.terminate()
            balancer.process.wait(10)
        if config:
            config.close()


def failed_at_once(process: subprocess.Popen, started_at: float) -> bool:
    """Exited with an error within five seconds of its start: broken, not to be started again
    in a loop. One stopped (exit 0, a SIGTERM's drain) or killed (kill -9, the OOM killer) is
    started again however soon."""
    return process.returncode > 0 and time.monotonic() - started_at < 5


class Balancer:
    """HAProxy, started again when it exits: the cluster had run on with nothing on its port
    (the attacker's replay)."""

    def __init__(self, start):
        self._start = start
        self.process = start()
        self._started_at = time.monotonic()

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def restart_if_exited(self) -> bool:
        if self.process.poll() is None:
            return False
        if failed_at_once(self.process, self._started_at):
            raise RuntimeError(f"HAProxy exited with {self.process.returncode} at once")
        self.process = self._start()
        self._started_at = time.monotonic()
        return True


class Servers(list):
    """The server processes, in order; one that has exited can be started again on its port
    (its number's): a rolling restart is a SIGTERM to one process at a time."""

    def __init__(self, start):
        super().__init__()
        self._start = start
        self._started_at: dict[int, float] = {}

    def describe(self, number: int) -> str:
        return f"pid {self[number - 1].pid} on 127.0.0.1:{self._start.ports[number - 1]}"

    def append(self, process: subprocess.Popen) -> None:
        super().append(process)
        self._started_at[len(self)] = time.monotonic()

    def restart_exited(self) -> list[int]:
        """Start again each process that has exited; their numbers. One that failed at once
        is broken: RuntimeError (a second restart within five seconds, a SIGTERM's or a
        kill -9, had stopped the whole cluster: the attacker's replay)."""
        restarted = []
        for number, process in enumerate(self, 1):
            if process.poll() is None:
                continue
            if failed_at_once(process, self._started_at[number]):
                raise RuntimeError(f"process {number} exited with {process.returncode} at once")
            self[number - 1] = self._start(number)
            self._started_at[number] = time.monotonic()
            restarted.append(number)
        return restarted


def balancer_config(processes: int) -> str:
    """deploy/haproxy.cfg with a `server` line per process, MARAUM_APP1 … MARAUM_APPn (the
    file names two, as the model a deployment copies), run in the foreground."""
    if processes < 1:
        raise ValueError("at least one process")
    # In the foreground (-db) HAProxy prints its warnings itself: a log to stderr printed each
    # twice, so the file's logging goes (its request log is off anyway: warnings only).
    logging = ("log ", "option httplog", "option dontlognull")
    lines = [
        line
        for line in HAPROXY_CONFIG.read_text().splitlines()
        if not line.strip().startswith(logging)
    ]
    at = [i for i, line in enumerate(lines) if line.lstrip().startswith("server app")]
    indent = lines[at[0]][: len(lines[at[0]]) - len(lines[at[0]].lstrip())]
    servers = [f'{indent}server app{n} "${{MARAUM_APP{n}}}"' for n in range(1, processes + 1)]
    return "\n".join(lines[: at[0]] + servers + lines[at[-1] + 1 :]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--processes", type=int, default=int(os.environ.get("PROCESSES", "2")))
    args = parser.parse_args()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    ports = [args.port + number for number in range(1, args.processes + 1)]
    with cluster(args.processes, args.host, args.port, ports=ports) as (balancer, servers):
        print(
            f"Maraum on http://{args.host}:{args.port}/ (HAProxy, {args.processes} processes);"
            " Ctrl+C stops",
            flush=True,
        )
        for number in range(1, args.processes + 1):
            print(f"process {number}: {servers.describe(number)}", flush=True)
        print("a rolling restart: kill -TERM one process's pid; it is started again", flush=True)
        try:
            while not stop:
                for number in servers.restart_exited():
                    print(f"process {number} exited; again: {servers.describe(number)}", flush=True)
                if balancer.restart_if_exited():
                    print(f"HAProxy exited; again: pid {balancer.pid}", flush=True)
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
