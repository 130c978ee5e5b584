"""The README's "Try it" sections, run as written against a live development server.

Every line of their `bash` blocks runs in bash, in order, as a newcomer pasting them into
a second terminal would (the `tenantry` of this checkout's .venv on the PATH), so a command
that no longer exists, an option renamed or a step that fails breaks the suite. The only
change made to the text: the server's address, 127.0.0.1:8000 in the README, is this test
server's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import LiveServer

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("Try it: sign up", "Try it: become the admin", "Try it: run the organization")


def commands_of(readme: str, section: str) -> list[str]:
    """The command lines of a section's ```bash blocks (continuation lines joined)."""
    body = readme.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", body, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip():
                lines.append(line)
    assert lines, f"README section {section!r} has no bash block"
    return lines


@pytest.fixture()
def dev_server(settings) -> Iterator[LiveServer]:
    live = LiveServer(settings.model_copy(update={"dev_mode": True}))
    live.start()
    yield live
    live.stop()


def test_the_readme_try_it_sections_run_as_written(dev_server, database, tmp_path):
    readme = (ROOT / "README.md").read_text()
    host_port = dev_server.url.removeprefix("http://")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    environment.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}",
        TENANTRY_URL=dev_server.url,
        TENANTRY_CONFIG_DIR=str(tmp_path / "config"),
        # Commands that run on the server (`tenantry mail code`) read its database.
        TENANTRY_DATABASE_URL=database.url,
    )
    for section in SECTIONS:
        for line in commands_of(readme, section):
            if line.startswith(". .venv/bin/activate"):
                continue  # this test's interpreter is already the .venv's
            command = line.replace("127.0.0.1:8000", host_port).replace("localhost:8000", host_port)
            ran = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command],
                cwd=tmp_path,
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert ran.returncode == 0, (
                f"README, {section}: `{line}` failed ({ran.returncode})\n{ran.stdout}\n{ran.stderr}"
            )
    # What the sections promise, seen from the server.
    assert database.scalar("SELECT state FROM tenants WHERE display_name = 'contoso.com'") in (
        "managed",
    )
    assert (
        database.scalar(
            "SELECT count(*) FROM users WHERE user_principal_name = 'alain@contoso.com'"
        )
        == 1
    )
