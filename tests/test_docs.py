"""docs/cli.md's reference section is the CLI's real --help output (regenerate with
``python tests/test_docs.py``)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CLI_MD = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
COMMANDS = ("", "eval", "demo", "nms", "convert", "warmup", "explain-gap", "errors")


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


GETTING_STARTED = CLI_MD.parent / "getting-started.md"


def _demo_block(text: str) -> re.Match:
    return re.search(r"detmetrics demo\n```\n\n.*?```text\n(.*?)```", text, flags=re.S)


def demo_output() -> str:
    env = {**os.environ, "COLUMNS": "100"}
    out = subprocess.run([sys.executable, "-m", "detmetrics", "demo"], capture_output=True, text=True, env=env,
                         check=True).stdout
    return out.rstrip() + "\n"


def test_getting_started_shows_the_real_demo_output():
    match = _demo_block(GETTING_STARTED.read_text())
    assert match, "docs/getting-started.md has no demo output block"
    assert match.group(1) == demo_output(), "docs/getting-started.md is stale: run python tests/test_docs.py"


PROTOCOLS_MD = CLI_MD.parent / "protocols.md"
GAP_COMMAND = "detmetrics explain-gap coco/instances_val_crowd.json yolo/predictions"


def _gap_block(text: str) -> re.Match:
    return re.search(re.escape(GAP_COMMAND) + r"\n```\n\n```text\n(.*?)```", text, flags=re.S)


def gap_output() -> str:
    """The explain-gap example's output, run where the bundled samples are (as the page says)."""
    from detmetrics.io import sample_path

    env = {**os.environ, "COLUMNS": "100"}
    args = [sys.executable, "-m", "detmetrics", *GAP_COMMAND.split()[1:]]
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True,
                         cwd=sample_path("yolo").parent).stdout
    return out.rstrip() + "\n"


def test_protocols_page_shows_the_real_explain_gap_output():
    match = _gap_block(PROTOCOLS_MD.read_text())
    assert match, "docs/protocols.md has no explain-gap output block"
    assert match.group(1) == gap_output(), "docs/protocols.md is stale: run python tests/test_docs.py"


RAW = [
    (re.compile(r":(?:func|class|meth|mod|attr|data|obj|exc):`"), "a raw Sphinx role"),
    (re.compile(r"\b(?:[A-Z]+_)*(?:OUTPUT|PLACEHOLDER|TODO|FIXME|TBD|XXX)\b|\{\{|\}\}"), "a placeholder"),
    (re.compile(r"DESIGN\.md"), "a reference to DESIGN.md, which is not in the repository"),
]
KNOWN_CONSTANTS: set = set()  # names that look like placeholders but are real (none so far)


def test_rendered_site_has_no_raw_roles_or_placeholders(tmp_path):
    pytest.importorskip("mkdocs", reason="rendering the site needs the docs extra (pip install '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="rendering the API pages needs mkdocstrings (the docs extra)")
    root = CLI_MD.parent.parent
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=root,
                          capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    problems = []
    for page in sorted(site.rglob("*.html")):
        if page.name == "404.html" or "search" in page.parts:
            continue
        text = re.sub(r"<(script|style)\b.*?</\1>", "", page.read_text(encoding="utf-8"), flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)  # rendered text, not markup
        for pattern, what in RAW:
            for m in pattern.finditer(text):
                if m.group(0) in KNOWN_CONSTANTS:
                    continue
                problems.append(f"{page.relative_to(site)}: {what}: {text[max(0, m.start() - 40):m.end() + 20]!r}")
    assert not problems, "\n".join(problems[:20])


if __name__ == "__main__":
    text = CLI_MD.read_text()
    for command in COMMANDS:
        m = _block(text, command)
        text = text[:m.start(1)] + help_text(command) + text[m.end(1):]
    CLI_MD.write_text(text)
    started = GETTING_STARTED.read_text()
    m = _demo_block(started)
    GETTING_STARTED.write_text(started[:m.start(1)] + demo_output() + started[m.end(1):])
    protocols = PROTOCOLS_MD.read_text()
    m = _gap_block(protocols)
    PROTOCOLS_MD.write_text(protocols[:m.start(1)] + gap_output() + protocols[m.end(1):])
