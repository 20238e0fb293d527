"""The README's promise (issue 17, item 8): a failing command prints one line on stderr,
starting with ``error:``, and exits non-zero; never a traceback, never click's usage block."""

from __future__ import annotations

import subprocess
import sys

import pytest

BAD = [
    (["analyse", "coverage", "NOPE"], "no region with code 'NOPE'"),
    (["analyse", "gaps", "NOPE", "--cell-km", "-1"], "--cell-km"),
    (["users", "disable", "nobody"], "no user named 'nobody'"),
    (["tokens", "revoke", "999"], "token 999 not found"),
    (["regions", "load", "/nonexistent.geojson"], "no such file"),
    (["export", "outlets", "--format", "csv", "--region", "NOPE"], "NOPE"),
    (["report", "NOPE"], "NOPE"),
    (["db", "downgrade", "zzz"], "zzz"),
    (["users", "create", "ab", "--role", "boss"], "'boss' is not one of"),
    (["import", "outlets", "/nonexistent.csv"], "/nonexistent.csv"),
    (["export", "outlets", "--format", "pdf"], "'pdf' is not one of"),
    (["analyse", "coverage"], "Missing argument 'REGION'"),
    (["users", "nosuchcommand"], "No such command 'nosuchcommand'"),
]


def _one_error_line(stderr: str, fragment: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("args, fragment", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_failing_command_prints_one_error_line(cli, args, fragment):
    result = cli.invoke(args=args)
    assert result.exit_code in (1, 2), (result.exit_code, result.stderr, result.exception)
    _one_error_line(result.stderr, fragment)


def test_usage_errors_of_the_installed_command_are_one_line_too():
    """``geo-crm`` itself (the FlaskGroup entry point), as a user runs it."""
    for args, fragment in ((["nosuchcommand"], "No such command"), (["--bogus"], "--bogus")):
        proc = subprocess.run(
            [sys.executable, "-m", "geo_crm", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        _one_error_line(proc.stderr, fragment)
