"""DynamoDB implementation of the SenderGate: one item per sender in the Senders table.

Item: `sender` (key), `next_free` (epoch seconds of the next free send slot: the token bucket, GCRA style),
`paused_until` / `pause_code` / `paused_at` (the circuit breaker; absent when closed).

A reservation of `n` slots is one UpdateItem:
- busy sender (`next_free` >= now): `ADD next_free n/rate` on condition `next_free` >= now and < now + horizon
  and not paused; the new value says where the granted slots end;
- idle sender (`next_free` < now or absent): `SET next_free = now + n/rate` on condition idle and not paused.
With fairness, `held_until#<tenant>` records where each tenant's latest slots may end; once
STALE_HOLDS_TO_FORGET of them lie in the past, the next granted reservation removes those (one more UpdateItem,
conditional on each still being past), so the item does not grow with every tenant that ever sent.
Which one is tried first follows the last value this process saw; a failed condition (1 write unit) is
followed by one consistent read of the item, and the answer decides: the other form, wait, or probe a paused
sender whose cool-down has passed (`SET paused_until = now + probe hold` on condition it is unchanged, so
exactly one invocation of the fleet probes).
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from smscore.domain.pacing import PROBE_LEASE_SECONDS
from smscore.domain.ports import Reservation

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_ROUNDS = 4
NOT_PAUSED = "attribute_not_exists(paused_until)"
HELD_PREFIX = "held_until#"
STALE_HOLDS_TO_FORGET = 8  # expired held_until markers tolerated on the item before one write removes them
MAX_HOLDS_FORGOTTEN = 50  # per write, to keep the expression small


def _n(value: float) -> dict[str, str]:
    return {"N": str(Decimal(repr(round(value, 6))))}


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoSenderGate:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table
        self._busy: dict[str, bool] = {}  # per sender: was it busy when last seen (which update to try first)
        self._lock = threading.Lock()
        self.writes = 0  # UpdateItem calls, failed conditions included (each one write unit: the items are tiny)

    def _update(
        self,
        sender: str,
        expression: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """The item's new attributes, or None when the condition failed."""
        with self._lock:
            self.writes += 1
        extra: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"sender": {"S": sender}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                **extra,
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise
        return response.get("Attributes", {})

    def _read(self, sender: str) -> dict[str, Any]:
        response = self._client.get_item(TableName=self._table, Key={"sender": {"S": sender}}, ConsistentRead=True)
        return response.get("Item", {})

    def reserve(
        self,
        sender: str,
        rate: float,
        count: int,
        now: float,
        horizon: float,
        *,
        tenant: str | None = None,
        holding_horizon: float | None = None,
    ) -> Reservation:
        if rate <= 0:
            return self._unlimited(sender, now)
        span = count / rate
        interval = 1 / rate
        busy = self._busy.get(sender, False)
        fair = tenant is not None and holding_horizon is not None and holding_horizon < horizon
        names = {"#held": f"held_until#{tenant}"} if fair else None
        for _ in range(MAX_ROUNDS):
            if busy:
                if fair:
                    assert holding_horizon is not None
                    # A tenant holding slots (held_until#tenant >= now) starts only within the shorter horizon;
                    # held_until is the latest its slots can end (the exact end is only known after the ADD).
                    item = self._update(
                        sender,
                        "ADD next_free :span SET #held = :held",
                        "next_free >= :now AND (next_free < :low OR (next_free < :limit AND "
                        f"(attribute_not_exists(#held) OR #held < :now))) AND {NOT_PAUSED}",
                        {
                            ":span": _n(span),
                            ":now": _n(now),
                            ":low": _n(now + holding_horizon),
                            ":limit": _n(now + horizon),
                            ":held": _n(now + horizon + span),
                        },
                        names,
                    )
                else:
                    item = self._update(
                        sender,
                        "ADD next_free :span",
                        f"next_free >= :now AND next_free < :limit AND {NOT_PAUSED}",
                        {":span": _n(span), ":now": _n(now), ":limit": _n(now + horizon)},
                    )
                if item is not None:
                    self._busy[sender] = True
                    self._forget_expired_holds(sender, item, now)
                    start = float(item["next_free"]["N"]) - span
                    return Reservation(slots=tuple(start + i * interval for i in range(count)))
            else:
                item = self._update(
                    sender,
                    "SET next_free = :end" + (", #held = :end" if fair else ""),
                    f"(attribute_not_exists(next_free) OR next_free < :now) AND {NOT_PAUSED}",
                    {":end": _n(now + span), ":now": _n(now)},
                    names,
                )
                if item is not None:
                    self._busy[sender] = True
                    self._forget_expired_holds(sender, item, now)
                    return Reservation(slots=tuple(now + i * interval for i in range(count)))
            current = self._read(sender)
            if "paused_until" in current:
                return self._paused(sender, current, rate, now)
            next_free = float(current.get("next_free", {}).get("N", 0))
            reach = horizon
            if fair and float(current.get(f"held_until#{tenant}", {}).get("N", 0)) >= now:
                assert holding_horizon is not None
                reach = holding_horizon
            if next_free >= now + reach:
                self._busy[sender] = True
                return Reservation(retry_at=next_free - reach)
            busy = next_free >= now
        return Reservation(retry_at=now + 1)  # contended beyond reason: come back in a second

    def _forget_expired_holds(self, sender: str, item: dict[str, Any], now: float) -> None:
        """Remove the tenants' markers that lie in the past (they mean the same as absent), once enough piled up;
        a marker refreshed meanwhile fails the condition and nothing is removed (tried again on a later grant)."""
        expired = [
            name for name, value in item.items() if name.startswith(HELD_PREFIX) and float(value.get("N", 0)) < now
        ]
        if len(expired) < STALE_HOLDS_TO_FORGET:
            return
        names = {f"#h{i}": name for i, name in enumerate(expired[:MAX_HOLDS_FORGOTTEN])}
        self._update(
            sender,
            "REMOVE " + ", ".join(names),
            " AND ".join(f"{alias} < :now" for alias in names),
            {":now": _n(now)},
            names,
        )

    def _unlimited(self, sender: str, now: float) -> Reservation:
        """No bucket: only the breaker matters (one read)."""
        current = self._read(sender)
        if "paused_until" in current:
            return self._paused(sender, current, 0.0, now)
        return Reservation()

    def _paused(self, sender: str, current: dict[str, Any], rate: float, now: float) -> Reservation:
        paused_until = float(current["paused_until"]["N"])
        if paused_until > now:
            return Reservation(retry_at=paused_until, paused=True)
        # Cool-down over: exactly one caller takes the half-open probe.
        expression = "SET paused_until = :hold"
        values = {":hold": _n(now + PROBE_LEASE_SECONDS), ":seen": current["paused_until"]}
        if rate > 0:
            expression += ", next_free = :next"
            values[":next"] = _n(max(float(current.get("next_free", {}).get("N", 0)), now) + 1 / rate)
        if self._update(sender, expression, "paused_until = :seen", values) is None:
            return Reservation(retry_at=now + PROBE_LEASE_SECONDS, paused=True)
        return Reservation(slots=(now,), paused=True, probe=True)

    def pause(self, sender: str, until: float, code: str, now: float) -> bool:
        with self._lock:
            self.writes += 1
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"sender": {"S": sender}},
                UpdateExpression="SET paused_until = :until, pause_code = :code, paused_at = :now",
                ConditionExpression="attribute_not_exists(paused_until) OR paused_until < :until",
                ExpressionAttributeValues={":until": _n(until), ":code": {"S": code}, ":now": _n(now)},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False  # already paused for longer by someone else
            raise
        old = response.get("Attributes", {})
        if "paused_until" not in old:
            return True
        # Re-opened after a probe's hold (which is shorter than any cool-down): alarm again.
        return float(old["paused_until"]["N"]) <= now + PROBE_LEASE_SECONDS

    def resume(self, sender: str) -> None:
        with self._lock:
            self.writes += 1
        self._client.update_item(
            TableName=self._table,
            Key={"sender": {"S": sender}},
            UpdateExpression="REMOVE paused_until, pause_code, paused_at",
        )

    def paused_until(self, sender: str) -> float | None:
        item = self._read(sender)
        return float(item["paused_until"]["N"]) if "paused_until" in item else None
