"""The shape of the code (issue 12): faces (web/, api/, commands/) parse, call one domain or
analysis function and render; they run no SQL."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQL = re.compile(r"(?<![\w])(select|text)\(|\.execute\(|get_session\(\)\.query")
BUDGET = re.compile(r"^_FACE_SQL_BUDGET = (\d+)", re.M)


def test_faces_run_no_sql():
    over = []
    for face in ("web", "api", "commands", "ogc"):
        for path in sorted((ROOT / "geo_crm" / face).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            hits = [i for i, line in enumerate(text.splitlines(), 1) if SQL.search(line)]
            allowed = int(m.group(1)) if (m := BUDGET.search(text)) else 0
            if len(hits) > allowed:
                over.append(f"{path.relative_to(ROOT)}: SQL on lines {hits} (budget {allowed})")
    assert not over, "faces call domain/analysis functions; they run no SQL:\n" + "\n".join(over)
