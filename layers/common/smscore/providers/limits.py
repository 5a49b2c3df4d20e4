"""Character limit each provider declares for one message body; the API refuses longer texts up front.

Derived from the provider classes, so a provider's declaration is the only place a limit is written.
"""

from __future__ import annotations

from smscore.providers.registry import PROVIDER_CLASSES

DEFAULT_CHARACTER_LIMIT = 1600

CHARACTER_LIMITS: dict[str, int] = {cls.name: cls.character_limit for cls in PROVIDER_CLASSES}
