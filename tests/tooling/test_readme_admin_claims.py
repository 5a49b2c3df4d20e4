"""Every claim the README makes about the admin names the test that checks it (docs/admin-ui.md, "What the README
promises"): this fails when a claim of that table is no longer in the README, when its test is gone, or when the
README's admin paragraph gains a sentence no row of the table covers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from smsdev.template import ROOT

README = ROOT / "README.md"
ADMIN_UI = ROOT / "docs" / "admin-ui.md"


def flat(text: str) -> str:
    return " ".join(text.split())


def claims() -> list[tuple[str, str]]:
    section = ADMIN_UI.read_text().split("## What the README promises", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(.+?)` \| `(tests/[^`]+)` \|$", section, flags=re.M)
    return [(claim, test) for claim, test in rows]


def defined_tests(path: Path) -> set[str]:
    return {node.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)}


def test_the_table_is_not_empty() -> None:
    assert len(claims()) >= 15


def test_every_claim_of_the_table_is_in_the_readme() -> None:
    readme = flat(README.read_text())
    assert [claim for claim, _ in claims() if flat(claim) not in readme] == []


def test_every_named_test_exists() -> None:
    missing = []
    for _, test in claims():
        path, name = test.split("::")
        if not (ROOT / path).exists() or name not in defined_tests(ROOT / path):
            missing.append(test)
    assert missing == []


def test_every_sentence_of_the_readmes_admin_paragraph_is_claimed() -> None:
    # The tour's step 3 is the README's paragraph about the admin: each of its sentences holds a claim of the table
    paragraph = flat(README.read_text().split("**3. Open the admin UI**", 1)[1].split("\n\n", 1)[0])
    sentences = [s for s in re.split(r"(?<=[.)])\s+(?=[A-Z])", paragraph) if s]
    uncovered = [s for s in sentences if not any(flat(claim) in s for claim, _ in claims())]
    # the first sentence says where the admin is; the last one points to this table
    assert [s for s in uncovered if "make dev" not in s and "What the README promises" not in s] == []
