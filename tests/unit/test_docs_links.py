"""Every relative link of README.md and docs/*.md resolves: the file exists and the #anchor is a heading there.

Given the README and the pages under docs/
When every relative markdown link and image link is read (http(s) and mailto links are skipped)
Then its target is a file inside the repository, and a #anchor matches a heading of the target page under
GitHub's slug rules; and the README stays a short front page (at most 300 lines) that links every page.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_MAX_LINES = 300

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target), with an optional "title"; the text may hold one level of brackets.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SKIPPED_SCHEMES = ("http:", "https:", "mailto:")


def pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the lines outside fenced code blocks."""
    lines, fence = [], ""
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if fence:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = ""
            continue
        if match:
            fence = match.group(1)
            continue
        lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lowercased, punctuation but - and _ dropped, spaces -> -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link renders as its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")  # inline HTML and code markers render as nothing
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings; a repeated slug gets -1, -2, ... in order."""
    seen: Counter[str] = Counter()
    found = set()
    for _, line in prose_lines(page.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        found.add(base if seen[base] == 0 else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


def links(page: Path) -> list[tuple[int, str]]:
    """(line number, target) of every relative link and image of a page, outside code."""
    found = []
    for number, line in prose_lines(page.read_text(encoding="utf-8")):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            target = match.group(1)
            if not target.lower().startswith(SKIPPED_SCHEMES):
                found.append((number, target))
    return found


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each relative link of a page, as `page:line: target: reason`; empty when all resolve."""
    problems = []
    for number, target in links(page):
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / unquote(path_part)).resolve() if path_part else page
        where = f"{page.relative_to(root)}:{number}: {target}"
        if not resolved.is_relative_to(root):
            problems.append(f"{where}: outside the repository")
        elif not resolved.exists():
            problems.append(f"{where}: no such file")
        elif anchor and resolved.suffix != ".md":
            problems.append(f"{where}: an anchor into a file that is not markdown")
        elif anchor and unquote(anchor) not in anchors(resolved):
            problems.append(f"{where}: no heading with that anchor in {resolved.relative_to(root)}")
    return problems


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_and_heading(page: Path) -> None:
    # Given a page of the documentation / When its relative links are followed
    problems = broken_links(page)
    # Then each reaches a file of the repository and, for an anchor, one of that page's headings
    assert problems == [], "\n".join(problems)


def test_the_readme_is_a_front_page_that_links_every_docs_page() -> None:
    # Given the README
    text = README.read_text(encoding="utf-8")
    # When its lines and link targets are counted
    linked = {(ROOT / target.partition("#")[0]).resolve() for _, target in links(README)}
    # Then it is at most 300 lines, and every page under docs/ is reachable from it
    assert len(text.splitlines()) <= README_MAX_LINES
    assert [page.name for page in pages()[1:] if page.resolve() not in linked] == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Opt-outs: STOP / START keyword replies", "opt-outs-stop--start-keyword-replies"),
        ("Cost preview: `POST /api/messages/sms/tags/preview`", "cost-preview-post-apimessagessmstagspreview"),
        ("Senders, pacing and waiting", "senders-pacing-and-waiting"),
        ("Admin CLI: `smsctl`", "admin-cli-smsctl"),
        ("Local stack (`make dev`, no Docker)", "local-stack-make-dev-no-docker"),
        ("snake_case and [a link](x.md) in Bogotá", "snake_case-and-a-link-in-bogotá"),
    ],
)
def test_slugs_follow_githubs_rules(heading: str, anchor: str) -> None:
    # Given a heading / When GitHub's anchor is computed / Then it is the one GitHub renders
    assert slug(heading) == anchor


def test_a_broken_link_or_anchor_is_reported(tmp_path: Path) -> None:
    # Given a page with a good link, a missing file, a missing anchor, a link out of the tree, and links to skip
    (tmp_path / "other.md").write_text("# Title\n\n## Same\n\n## Same\n\n```\n# not a heading\n```\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#same-1) [ok](#here) ![ok](other.md) [web](https://example.com/x.md#y) `[code](nowhere.md)`\n"
        "\n## Here\n\n[gone](missing.md) [bad anchor](other.md#same-2) [code anchor](other.md#not-a-heading)\n"
        "[out](../../outside.md)\n\n```\n[in a fence](nowhere.md)\n```\n"
    )
    # When its links are checked
    problems = broken_links(page, root=tmp_path)
    # Then exactly the broken ones are reported, with their line
    assert problems == [
        "page.md:5: missing.md: no such file",
        "page.md:5: other.md#same-2: no heading with that anchor in other.md",
        "page.md:5: other.md#not-a-heading: no heading with that anchor in other.md",
        "page.md:6: ../../outside.md: outside the repository",
    ]
