"""SQS fair queues on the local stack: moto returns a standard queue's messages in the order they were sent, so
a tenant's 10 messages sent after another tenant's backlog would wait for all of it. AWS's fair queues (a standard
queue whose messages carry a MessageGroupId) return a quiet group's messages ahead of a noisy group's backlog
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-fair-queues.html).

Emulated here by the order moto walks a standard queue's visible messages in: round-robin over the message groups
(each group's messages in their own order; messages without a group form one group), so a receive of ten takes
the first message of every group before the second of any. FIFO queues are left alone.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

_original: Any = None


def fair_order(messages: list[Any]) -> list[Any]:
    """`messages` (visible, in sent order) interleaved round-robin by group id."""
    groups: dict[str | None, list[Any]] = defaultdict(list)
    for message in messages:
        groups[getattr(message, "group_id", None)].append(message)
    if len(groups) <= 1:
        return messages
    ordered: list[Any] = []
    queues = list(groups.values())
    for position in range(max(len(q) for q in queues)):
        ordered.extend(q[position] for q in queues if position < len(q))
    return ordered


def install() -> None:
    """Patch moto's Queue.messages (the visible messages a receive walks) once per process."""
    global _original
    if _original is not None:
        return
    from moto.sqs.models import Queue

    original = _original = Queue.messages

    def messages(self: Any) -> list[Any]:
        visible: list[Any] = original.fget(self)  # type: ignore[attr-defined]
        return visible if self.fifo_queue else fair_order(visible)

    Queue.messages = property(messages)  # type: ignore[assignment,method-assign]


def uninstall() -> None:
    """moto's own order again (tests that install it in a shared process)."""
    global _original
    if _original is None:
        return
    from moto.sqs.models import Queue

    Queue.messages = _original  # type: ignore[method-assign]
    _original = None
