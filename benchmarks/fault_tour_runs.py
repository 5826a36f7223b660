"""The fault tour's machinery: one `invoke` run as a person types it, and the tour's temporary state.

`Tour.invoke` runs the stock `invoke` script of this environment as a subprocess, in its own process group,
stdout and stderr merged in one pipe (unbuffered, so in the order written); `Tour.start` does the same for
a run to be signalled. The tour's temporary folder holds every file; `Tour.close` stops by pid whatever
a run or the tour left. Used by benchmarks/fault_tour.py (the cases are in fault_tour_cases.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import certifi  # noqa: E402

from lightonocr_validation.core.errors import EXIT_CODES  # noqa: E402
from lightonocr_validation.core.redaction import written_forms  # noqa: E402
from lightonocr_validation.serve import processes  # noqa: E402
from tests.fakevllm import server as fake_server  # noqa: E402
from tests.faults import hostile as hostile_server  # noqa: E402
from tests.processes import free_port  # noqa: E402
from tests.serve.test_serve_processes import STAND_IN  # noqa: E402

# absolute: a relative PATH entry (PATH=.nox/unit/bin:$PATH) gives a relative sys.executable, which the runs in a
# copy of the checkout (another working directory) would not find.
PYTHON = str(Path(sys.executable).absolute())
INVOKE = Path(PYTHON).parent / "invoke"
DOCUMENTED = {code for _, code, _ in EXIT_CODES}
KEY = "sk-tour-key-0123456789abcdef"  # VLLM_API_KEY of every run: it must appear nowhere
SERVER_KEY = "sk-tour-server-key-5555"  # the key a server wants, when the run's is the wrong one
PASSWORD = "pw-tour-98765-secret"  # a password in the URL
VLLM_KEY = "sk-tour-vllm-flag-424242"  # a key written on vllm's command line
SECRETS = {KEY: "<key>", SERVER_KEY: "<server key>", PASSWORD: "<password>", VLLM_KEY: "<vllm key>"}
REPORT_NAMES = ("r.json", "r.xml", "r.md")
# What the product's pieces must never show the user (the raw exceptions issue 12 found).
RAW_ERRORS = ("IncompleteRead", "JSONDecodeError", "AttributeError", "ConnectionResetError", "KeyError", "ValueError:")
VERDICT = re.compile(r"^(validated|skip-no-gpu|issue:)")
# Runs its arguments and writes their peak RSS (KiB, Linux's ru_maxrss) to the file named first; same exit code.
PEAK_RSS = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(code)"
)

# The fake's and the hostile server's handler threads fail to write once the client stops reading (a capped
# answer, a stopped run): expected here, and socketserver would print each such traceback on this stderr.
fake_server._Server.handle_error = lambda self, request, address: None  # type: ignore[method-assign]
hostile_server._Server.handle_error = lambda self, request, address: None  # type: ignore[method-assign]


# --- one run of invoke ----------------------------------------------------------------------------------------


@dataclass
class Run:
    """One `invoke` run: what the user typed, what came back, and the facts the row adds."""

    command: str
    code: int | None = None
    output: str = ""  # stdout and stderr merged in the order written, as a terminal shows them
    wall: float = 0.0
    after_signal: float | None = None  # seconds from the first signal sent to the exit
    leftover: list[int] = field(default_factory=list)  # processes of the run's group alive after it ended
    written: list[Path] = field(default_factory=list)  # files the run wrote: no secret may be in them
    facts: list[tuple[bool, str]] = field(default_factory=list)  # (holds, what is wrong when it does not)

    def fact(self, holds: bool, otherwise: str) -> None:
        self.facts.append((bool(holds), otherwise))

    def says(self, words: str) -> bool:
        return words in " ".join(self.output.split())

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.output.splitlines() if line.strip()]

    def first_line(self) -> str:
        return (self.lines() or [""])[0].strip()

    def cause_line(self) -> str:
        """The first `error:` line (a report not written comes after a verdict), else the verdict of a check or
        bench run (its last `validated`/`issue:` line), else the last line."""
        lines = [line.strip() for line in self.lines()]
        errors = [line for line in lines if line.startswith("error:")]
        verdicts = [line for line in lines if VERDICT.match(line)]
        return (errors or verdicts[-1:] or lines[-1:] or [""])[0]


class Live:
    """`invoke ARGS` running in its own process group, its merged output read as it comes."""

    def __init__(self, tour: Tour, args: list[str], env: dict[str, str], cwd: Path, wrapper: list[str]) -> None:
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*wrapper, str(INVOKE), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its group is its own: what it leaves behind is found by the group's id
        )
        tour.groups.append(self.process.pid)
        self.signalled: float | None = None
        self.chunks: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.chunks.append(line)

    @property
    def output(self) -> str:
        return "".join(self.chunks)

    def wait_for(self, condition: Callable[[], bool], seconds: float = 60) -> bool:
        deadline = time.monotonic() + seconds
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def printed(self, text: str) -> Callable[[], bool]:
        return lambda: text in self.output

    def signal(self, number: int) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, number)
            self.signalled = self.signalled or time.monotonic()

    def finish(self, run: Run, timeout: float = 120) -> Run:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            run.fact(False, f"still running after {timeout:.0f} s: killed")
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        ended = time.monotonic()
        run.wall = ended - self.started
        run.after_signal = ended - self.signalled if self.signalled else None
        self._reader.join(timeout=10)
        run.code = self.process.returncode
        run.output = self.output
        time.sleep(0.2)  # a child that outlives its parent by a moment is not a leftover
        run.leftover = group_members(self.process.pid)
        return run


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


# --- the tour -------------------------------------------------------------------------------------------------


class Tour:
    """The temporary folder, the environment every run gets, and what must be stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.groups: list[int] = []  # every invoke run's process group
        self.own: list[subprocess.Popen[Any]] = []  # processes the tour itself started
        self.stand_in_dirs: list[Path] = []
        self.ports: set[int] = set()
        self.pids: set[int] = set()
        self._copy: Path | None = None
        self._help: dict[str, str] = {}

    def case_folder(self, number: int) -> Path:
        path = self.folder / f"case-{number:02d}"
        path.mkdir()
        return path

    def port(self) -> int:
        port = free_port()
        self.ports.add(port)
        return port

    def env(self, **extra: str) -> dict[str, str]:
        """The caller's environment without anything that would change a run (INVOKE_*, CA bundles, a key
        of theirs), plus the tour's key, a wide terminal and unbuffered output (so stdout and stderr keep
        their order in one pipe)."""
        drop = ("VLLM_API_KEY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "CUDA_VISIBLE_DEVICES")
        base = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("INVOKE_")}
        # No real server may be stopped or started by accident: serve and stop get a pid file of their own.
        base |= {"INVOKE_SERVER_PID_FILE": str(self.folder / "no-server.pid")}
        return base | {"VLLM_API_KEY": KEY, "NO_COLOR": "1", "COLUMNS": "400", "PYTHONUNBUFFERED": "1"} | extra

    def invoke(
        self,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
        shown: str = "",
        wrapper: list[str] | None = None,
    ) -> Run:
        run = Run(shown or "invoke " + shlex.join(args))
        live = Live(self, args, env or self.env(), cwd, wrapper or [])
        return live.finish(run)

    def start(self, args: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT) -> Live:
        return Live(self, args, env or self.env(), cwd, [])

    def invoke_measured(self, args: list[str], folder: Path) -> tuple[Run, int]:
        """`invoke ARGS` and its peak resident memory in bytes (the largest of the processes it waited for,
        itself included: getrusage's RUSAGE_CHILDREN of a parent that only runs it)."""
        peak = folder / "peak-rss-kib"
        run = self.invoke(args, wrapper=[PYTHON, "-c", PEAK_RSS, str(peak)])
        return run, int(peak.read_text()) * 1024 if peak.is_file() else 0

    def check_reports(self, folder: Path) -> list[str]:
        """The flags that write `invoke check`'s three reports into ``folder``."""
        json_report, junit, markdown = (str(folder / name) for name in REPORT_NAMES)
        return ["--report-json", json_report, "--junit", junit, "--report-md", markdown]

    def written(self, folder: Path) -> list[Path]:
        return [path for path in folder.rglob("*") if path.is_file()]

    def stand_in(self, folder: Path, **extra: str) -> dict[str, str]:
        """The environment of `invoke serve` and `invoke stop` with a stand-in `vllm`
        (tests/serve/test_serve_processes.py)."""
        executable = folder / "vllm"
        executable.write_text(STAND_IN.format(python=PYTHON))
        executable.chmod(0o755)
        (folder / "stand-in").mkdir()
        self.stand_in_dirs.append(folder)
        settings = {
            "INVOKE_SERVER_EXECUTABLE": str(executable),
            "INVOKE_SERVER_PORT": str(self.port()),
            "INVOKE_SERVER_PID_FILE": str(folder / "server.pid"),
            "INVOKE_SERVER_LOG_FILE": str(folder / "vllm-serve.log"),
            "INVOKE_SERVER_STOP_TIMEOUT": "2",
            "STAND_IN_DIR": str(folder / "stand-in"),
        }
        return self.env(**(settings | extra))

    def checkout_copy(self) -> Path:
        """What `invoke` needs of the checkout, copied: a place to put a project invoke.yaml or to break a
        bundled sample without touching the checkout."""
        if self._copy is None:
            self._copy = self.folder / "checkout"
            ignore = shutil.ignore_patterns("__pycache__")
            for name in ("lightonocr_validation", "checks", "samples"):
                shutil.copytree(ROOT / name, self._copy / name, ignore=ignore)
            for name in ("tasks.py", "pyproject.toml"):
                shutil.copy2(ROOT / name, self._copy / name)
        return self._copy

    def help(self, task: str) -> str:
        """`invoke --help TASK`'s text."""
        if task not in self._help:
            self._help[task] = subprocess.run(
                [str(INVOKE), "--help", task], cwd=ROOT, env=self.env(), capture_output=True, text=True
            ).stdout
        return self._help[task]

    def stranger(self) -> subprocess.Popen[bytes]:
        """An unrelated program leading its own group, as a reused pid might be: it must never be signalled."""
        process = subprocess.Popen(["sleep", "600"], start_new_session=True)
        self.own.append(process)
        self.pids.add(process.pid)
        processes.identify_started(process.pid)
        return process

    def child_fake(self, port: int, delay: float) -> subprocess.Popen[bytes]:
        """The fake vLLM in a process of its own, so that it can be killed mid-run."""
        code = (
            "import sys, time; sys.path.insert(0, sys.argv[1]); "
            "from tests.fakevllm.server import FakeVllm, Faults; "
            "fake = FakeVllm(Faults(delay=float(sys.argv[3])), port=int(sys.argv[2])).__enter__(); "
            "print('ready', flush=True); time.sleep(600)"
        )
        process = subprocess.Popen(
            [PYTHON, "-c", code, str(ROOT), str(port), str(delay)], stdout=subprocess.PIPE, cwd=ROOT
        )
        self.own.append(process)
        assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
        return process

    def close(self) -> list[str]:
        """Stop everything started here, by pid; what had to be stopped is said (none is the norm)."""
        said = []
        for pgid in self.groups:
            for pid in group_members(pgid):
                said.append(f"killed pid {pid}, left by an invoke run (group {pgid})")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for folder in self.stand_in_dirs:
            for info in (folder / "stand-in").glob("*.json"):
                leader = json.loads(info.read_text())["pids"][0]
                live = processes.identify(leader)
                if live and live.pgid == leader and str(folder / "vllm") in live.argv:
                    said.append(f"stopped a stand-in vllm's group {leader}")
                    processes.stop_groups([leader], grace=0.5)
        for process in self.own:
            if process.poll() is None:
                process.kill()
            process.wait()
        return said

    def show(self, text: str) -> str:
        """Text for the table: the temporary folder as $TMP, ports as PORT, pids as PID, secrets named."""
        text = text.replace(str(self.folder), "$TMP")
        for secret, name in SECRETS.items():
            for form in written_forms(secret):
                text = text.replace(form, name)
        text = text.replace(certifi.where(), "$CERTIFI")
        for port in sorted(self.ports, key=lambda p: -len(str(p))):
            text = re.sub(rf"(?<![0-9]){port}(?![0-9])", "PORT", text)
            text = re.sub(rf"(?<![0-9]){port + 1}(?![0-9])", "PORT+1", text)
        for pid in self.pids:
            text = re.sub(rf"(?<![0-9]){pid}(?![0-9])", "PID", text)
        return text
