"""TestSendAllowance on the member's own item: `test_sends_day` and `test_sends`, moved by conditional updates."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from smscore.dal.tables import MemberRecord

CONDITION_FAILED = "ConditionalCheckFailedException"


class DynamoTestSendAllowance:
    __test__ = False  # not a pytest class

    def take(self, member_id: str, day: str, messages: int, cap: int) -> bool:
        """Two conditional UpdateItems at most: add to today's count while it stays within the cap, else start the
        day's count (only when the stored day is another one)."""
        if messages > cap:
            return False
        member = MemberRecord(member_id)
        try:
            member.update(
                actions=[MemberRecord.test_sends.add(messages)],
                condition=(MemberRecord.test_sends_day == day) & (MemberRecord.test_sends <= cap - messages),
            )
            return True
        except UpdateError as exc:
            if exc.cause_response_code != CONDITION_FAILED:
                raise
        try:
            member.update(
                actions=[MemberRecord.test_sends_day.set(day), MemberRecord.test_sends.set(messages)],
                condition=MemberRecord.member_id.exists()
                & (MemberRecord.test_sends_day.does_not_exist() | (MemberRecord.test_sends_day != day)),
            )
            return True
        except UpdateError as exc:
            if exc.cause_response_code != CONDITION_FAILED:
                raise
        return False

    def give_back(self, member_id: str, day: str, messages: int) -> None:
        try:
            MemberRecord(member_id).update(
                actions=[MemberRecord.test_sends.add(-messages)],
                condition=(MemberRecord.test_sends_day == day) & (MemberRecord.test_sends >= messages),
            )
        except UpdateError as exc:
            if exc.cause_response_code != CONDITION_FAILED:
                raise
