"""The platform's opt-out link secret (smscore.domain.opt_out_links): 32 random bytes in the Settings table.

Created on first use by whichever function needs it first (a conditional put: two creators race, one wins and both
read the winner's), so no deploy step and no parameter holds it; the table is encrypted with the stack's key and
only the functions that sign or check links read it. One GetItem per execution environment (the caller caches).
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from pynamodb.exceptions import PutError

from smscore.dal.tables import SettingRecord

SETTING = "opt-out-link-key"


def opt_out_link_key() -> bytes:
    try:
        return base64.b64decode(SettingRecord.get(SETTING, consistent_read=True).value)
    except SettingRecord.DoesNotExist:
        pass
    candidate = SettingRecord(
        SETTING, value=base64.b64encode(secrets.token_bytes(32)).decode("ascii"), updated_at=datetime.now(UTC)
    )
    try:
        candidate.save(condition=SettingRecord.setting.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        # another function created it first: use theirs
    return base64.b64decode(SettingRecord.get(SETTING, consistent_read=True).value)
