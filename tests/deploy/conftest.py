"""Shared fixtures of the deploy-kit tests (dashboards, rules, docs, Helm, the live stack).

They run the real `salespulse` binary that `deploy/test.sh` builds (`target/debug/salespulse`, or
`$SALESPULSE_BIN`) and the real tools that `deploy/local/tools.sh` installs.
"""

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = Path(
    os.environ.get("SALESPULSE_TOOLS_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "salespulse-tools"
)


def salespulse_binary() -> Path:
    """The binary under test; built by `cargo build` before the tests run."""
    path = Path(os.environ.get("SALESPULSE_BIN") or REPO / "target" / "debug" / "salespulse")
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `cargo build --workspace` first")
    return path


def tool(name: str) -> str:
    """An installed tool: first the tools directory (helm), then the PATH."""
    candidate = TOOLS / "bin" / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run deploy/local/tools.sh")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def family_types(exposition: str) -> dict[str, str]:
    """Metric family name -> type, from the `# TYPE` lines of a text exposition."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, flags=re.MULTILINE))


def replay(*args: str, stdin: str | None = None) -> str:
    """Runs `salespulse replay` and returns the exposition it prints."""
    result = subprocess.run(
        [str(salespulse_binary()), "replay", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


@pytest.fixture(scope="session")
def example_exposition() -> str:
    """The full exposition of the bundled example (every family `replay` prints)."""
    return replay("--events", str(REPO / "examples" / "events.jsonl"))
