"""Character limit each provider declares for one message body; the API refuses longer texts up front."""

from __future__ import annotations

DEFAULT_CHARACTER_LIMIT = 1600

CHARACTER_LIMITS: dict[str, int] = {
    "sandbox": 1600,
    "aws_sms": 1600,  # AWS End User Messaging SMS: up to 1,600 characters in one SendTextMessage
    "twilio": 1600,  # Twilio Programmable Messaging: Body up to 1,600 characters
}
