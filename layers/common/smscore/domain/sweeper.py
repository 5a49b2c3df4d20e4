"""The sweeper: paid messages that delivery gave up on are sent once more, or refunded; never left waiting.

A delivery record that keeps failing for a reason that is not the provider's (DynamoDB throttling, a timeout, a
crash) is received `maxReceiveCount` times, each after the queue's visibility timeout, and then moved by SQS to the
delivery dead-letter queue with its messages still QUEUED (or SENDING under an expired lease), paid. So every record
there names messages past their bound (lease + visibility timeout x maxReceiveCount), and the dead-letter queue is
where the sweeper finds them. Each scheduled run takes up to `max_records` dead-lettered records and, per message:

- finished (SENT, FAILED, DELIVERED, ...; the deliver function dead-letters its exhausted messages FAILED and
  refunded) or gone: nothing to do;
- SENDING under a live lease: its owner is still at work, so the record stays for a later run;
- QUEUED or SENDING past its lease, redriven fewer than `max_redrives` times: re-enqueued, fenced by one conditional
  write (the message's claim token `attempts` unchanged and its `redrives` count below the cap, then `redrives` + 1):
  two overlapping runs, or a run racing a late delivery, enqueue it once;
- past the cap: claimed (the same fenced claim delivery uses) and FAILED with code STRANDED, its credits refunded
  with a REFUND ledger entry in the same transaction (MessageStore.fail_all): it will never be sent, so it is not
  paid for.

A record is deleted from the dead-letter queue once none of its messages is left for a later run, so the queue's
alarm means "the sweeper is not keeping up or not running"; the SweeperRefunded metric (its own alarm) counts what
was given up. No boto3 here: the dead-letter queue, the redrive marks and the stores are ports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from smscore.domain.model import MessageStatus, QueueBatch, StoredMessage
from smscore.domain.ports import DeliveryQueue, FailedSend, MessageStore, PermanentFailure

log = logging.getLogger(__name__)

STRANDED_CODE = "STRANDED"
SWEEPABLE = frozenset({MessageStatus.QUEUED, MessageStatus.SENDING})


@dataclass(frozen=True)
class DeadLetter:
    """One record of the delivery dead-letter queue: its receipt handle and the batch it names (None, with the
    reason, when its body is not a delivery record: reported and deleted, there is nothing to redrive)."""

    handle: str
    batch: QueueBatch | None
    message_id: str = ""
    unreadable: str | None = None


class DeadLetterQueue(Protocol):
    def take(self, limit: int) -> list[DeadLetter]:
        """Up to `limit` records, hidden from other readers until deleted or the queue's visibility timeout."""
        ...

    def delete(self, letter: DeadLetter) -> None: ...


@dataclass(frozen=True)
class Redrives:
    """How often the sweeper re-enqueued a message, and when it last did."""

    count: int = 0
    last_at: datetime | None = None


class RedriveMarks(Protocol):
    def read(self, message_ids: Sequence[str]) -> dict[str, Redrives]:
        """Each message's redrives, strongly consistent (absent: never redriven)."""
        ...

    def mark(self, message: StoredMessage, seen: Redrives, now: datetime) -> bool:
        """`redrives` + 1 and its time on the message, only while it is as read: the same claim token `attempts`,
        QUEUED or SENDING past its lease, and still `seen.count` redrives. False, changing nothing, otherwise."""
        ...


class Verdict(StrEnum):
    FINISHED = "FINISHED"  # terminal or gone: nothing to do
    LIVE = "LIVE"  # under a live lease: its record stays for a later run
    REDRIVEN = "REDRIVEN"  # enqueued once more
    REFUNDED = "REFUNDED"  # FAILED (STRANDED) and refunded
    LOST_RACE = "LOST_RACE"  # another run or a delivery moved it first: theirs
    NOT_ENQUEUED = "NOT_ENQUEUED"  # marked, but SQS refused it: given up one bound later


@dataclass
class SweepReport:
    records: int = 0
    deleted: int = 0
    verdicts: dict[Verdict, int] = field(default_factory=dict)
    credits_refunded: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (SQS message id, reason)

    def count(self, verdict: Verdict) -> int:
        return self.verdicts.get(verdict, 0)

    def add(self, verdict: Verdict, n: int = 1) -> None:
        if n:
            self.verdicts[verdict] = self.verdicts.get(verdict, 0) + n


class Sweeper:
    def __init__(
        self,
        dead_letters: DeadLetterQueue,
        messages: MessageStore,
        marks: RedriveMarks,
        queue: DeliveryQueue,
        max_redrives: int,
        bound_seconds: int,
        claim_seconds: int,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._dead_letters = dead_letters
        self._messages = messages
        self._marks = marks
        self._queue = queue
        self._max_redrives = max_redrives
        self._bound = timedelta(seconds=bound_seconds)
        self._claim_seconds = claim_seconds
        self._now = now

    def sweep(self, max_records: int) -> SweepReport:
        report = SweepReport()
        for letter in self._dead_letters.take(max_records):
            report.records += 1
            if letter.batch is None:
                report.unreadable.append((letter.message_id, letter.unreadable or "unreadable"))
                self._dead_letters.delete(letter)
                report.deleted += 1
                continue
            if self._sweep_record(letter, letter.batch, report):
                self._dead_letters.delete(letter)
                report.deleted += 1
        if report.records:
            log.info(
                "Dead-lettered delivery records swept",
                extra={
                    "records": report.records,
                    "deleted": report.deleted,
                    **{verdict.value.lower(): n for verdict, n in report.verdicts.items()},
                    "credits_refunded": report.credits_refunded,
                },
            )
        return report

    def _sweep_record(self, letter: DeadLetter, batch: QueueBatch, report: SweepReport) -> bool:
        """Decide every message of one record; True when the record is done (nothing left for a later run)."""
        now = self._now()
        stored = self._messages.load(batch.message_ids)
        open_ids = [mid for mid in batch.message_ids if self._verdict(stored.get(mid), now) is None]
        seen = self._marks.read(open_ids) if open_ids else {}
        redrive: list[str] = []
        give_up: list[StoredMessage] = []
        done = True
        for message_id in batch.message_ids:
            message = stored.get(message_id)
            verdict = self._verdict(message, now)
            if verdict is None and message is not None:
                verdict = self._decide(message, seen.get(message_id, Redrives()), now, redrive, give_up)
            if verdict is Verdict.LIVE:
                done = False
            if verdict is not None:
                report.add(verdict)
        if redrive:
            failed = self._queue.enqueue([QueueBatch(batch.tenant_id, batch.queue_id, redrive)])
            if failed:
                # Marked but not enqueued: the record stays, and a run one bound later gives them up (refunds them).
                done = False
                report.add(Verdict.NOT_ENQUEUED, len(redrive))
            else:
                report.add(Verdict.REDRIVEN, len(redrive))
        if give_up:
            refunded = self._refund(give_up, now)
            report.add(Verdict.REFUNDED, len(refunded))
            report.add(Verdict.LOST_RACE, len(give_up) - len(refunded))
            report.credits_refunded += sum(m.credits for m in give_up if m.message_id in refunded)
        return done

    def _verdict(self, message: StoredMessage | None, now: datetime) -> Verdict | None:
        """FINISHED or LIVE when there is nothing to do now; None when the message is the sweeper's to decide."""
        if message is None or message.status not in SWEEPABLE:
            return Verdict.FINISHED
        if message.status is MessageStatus.SENDING and message.lease_until is not None and message.lease_until > now:
            return Verdict.LIVE
        return None

    def _decide(
        self, message: StoredMessage, seen: Redrives, now: datetime, redrive: list[str], give_up: list[StoredMessage]
    ) -> Verdict | None:
        """Redrive (fenced) while under the cap; past it, and past the bound of its last redrive, give it up."""
        if seen.count < self._max_redrives:
            if self._marks.mark(message, seen, now):
                redrive.append(message.message_id)
                return None  # counted once the enqueue is known
            return Verdict.LOST_RACE  # claimed, or redriven by an overlapping run, since our read
        if seen.last_at is not None and now < seen.last_at + self._bound:
            # Redriven less than one bound ago (another record of it can still be in flight): not yet stranded.
            return Verdict.LIVE
        give_up.append(message)
        return None

    def _refund(self, messages: Sequence[StoredMessage], now: datetime) -> set[str]:
        """Claim each (fenced, as delivery does), then FAILED + refund in one transaction per record's worth."""
        lease_until = now + timedelta(seconds=self._claim_seconds)
        failures = []
        for message in messages:
            claimed = self._messages.claim(message, now, lease_until)
            if claimed is not None:
                failure = PermanentFailure(STRANDED_CODE, "delivery kept failing; refunded by the sweeper")
                failures.append(FailedSend(claimed, claimed.provider, failure))
        return set(self._messages.fail_all(failures, now)) if failures else set()
