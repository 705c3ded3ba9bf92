"""docs/cli.md's reference section is the CLI's real --help output (regenerate with
``python tests/test_docs.py``)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CLI_MD = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
COMMANDS = ("", "eval", "demo", "nms", "warmup")


def help_text(command: str) -> str:
    env = {**os.environ, "COLUMNS": "100"}
    args = [sys.executable, "-m", "detmetrics"] + ([command] if command else []) + ["--help"]
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout
    return out.replace("usage: __main__.py", "usage: detmetrics").rstrip() + "\n"


def _block(text: str, command: str) -> re.Match:
    heading = re.escape(f"### detmetrics {command}".rstrip())
    return re.search(heading + r"\n\n```text\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_reference_is_the_real_help(command):
    match = _block(CLI_MD.read_text(), command)
    assert match, f"docs/cli.md has no help block for 'detmetrics {command}'"
    # compared up to line wrapping (argparse wraps by terminal width and Python version)
    assert match.group(1).split() == help_text(command).split(), "docs/cli.md is stale: run python tests/test_docs.py"


if __name__ == "__main__":
    text = CLI_MD.read_text()
    for command in COMMANDS:
        m = _block(text, command)
        text = text[:m.start(1)] + help_text(command) + text[m.end(1):]
    CLI_MD.write_text(text)
