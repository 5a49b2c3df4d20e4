"""The text a recipient receives, composed in one place for the send, the preview and the charge.

    final = encode(prefix(senderName) + render(merge fields, per recipient) + footer(opt-out))

`encode` is the send's encoding option (smscore.domain.gsm). Segments, credits, the preview and the debit all
count `final`, so what is previewed is what is charged and what the outbox receives.
"""

from __future__ import annotations

from smscore.domain.gsm import EncodingOption, encode


def final_text(rendered: str, option: EncodingOption = EncodingOption.AUTO, prefix: str = "", footer: str = "") -> str:
    """`rendered` (the message with this recipient's merge fields) framed by the sender prefix and the opt-out
    footer, then encoded."""
    return encode(prefix + rendered + footer, option)
