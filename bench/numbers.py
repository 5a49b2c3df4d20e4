"""Number handling: our normalise + dedupe against bare phonenumbers parse + validate + format on the same inputs."""

from __future__ import annotations

import random
import time

import phonenumbers

from bench.harness import Row


def _inputs(count: int, distinct: int) -> list[str]:
    """A contact list as it arrives: mixed formats, numbers repeated across tags and contacts."""
    rng = random.Random(7)
    formats = ("300{:07d}", "+57 300 {:03d} {:04d}", "57300{:07d}", "(300) {:03d}-{:04d}")
    pool = []
    for i in range(distinct):
        form = formats[i % len(formats)]
        pool.append(form.format(i) if form.count("{") == 1 else form.format(i // 10_000, i % 10_000))
    return [rng.choice(pool) for _ in range(count)]


def _bare(numbers: list[str]) -> int:
    seen = set()
    for raw in numbers:
        try:
            parsed = phonenumbers.parse(raw, "CO")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            seen.add(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    return len(seen)


def _ours(numbers: list[str]) -> int:
    from smscore.domain.campaign import build_audience
    from smscore.domain.model import TagRecipient

    return len(build_audience([TagRecipient(f"c{i}", raw) for i, raw in enumerate(numbers)], "CO").recipients)


def measure(count: int = 100_000, distinct: int = 40_000) -> Row:
    from smscore.domain.phone import normalise

    numbers = _inputs(count, distinct)
    normalise.cache_clear()
    start = time.perf_counter()
    ours = _ours(numbers)
    ours_rate = count / (time.perf_counter() - start)
    start = time.perf_counter()
    bare = _bare(numbers)
    bare_rate = count / (time.perf_counter() - start)
    return Row(
        name=f"numbers: normalise + dedupe ({count:,} inputs, {distinct:,} distinct)",
        value=round(ours_rate),
        unit="numbers/s",
        baseline=round(bare_rate),
        target=">= 0.9x bare phonenumbers",
        passed=ours_rate >= 0.9 * bare_rate,
        details={"recipients": ours, "bare_distinct_valid": bare},
    )
