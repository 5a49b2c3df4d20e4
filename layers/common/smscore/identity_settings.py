"""The authorizer's settings: its region and the three tables it reads, parsed once from the environment.

`smscore.settings.Settings` reads the same variables, the same way, along with everything else a function may need.
The authorizer needs nothing else, and runs before every API request its cache misses: pydantic-settings (its
sources, python-dotenv and pydantic's model machinery) would nearly double what it imports at a cold start, so this
reads the four variables itself. tests/unit/test_identity_settings.py holds the two parses to the same values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_REGION = "us-east-1"  # Settings.aws_region's default
TABLES = ("tokens_table", "members_table", "settings_table")


class MissingSettings(RuntimeError):
    """A variable the function cannot run without is not set."""


@dataclass(frozen=True)
class IdentitySettings:
    """TOKENS_TABLE, MEMBERS_TABLE, SETTINGS_TABLE and AWS_REGION, as Settings reads them."""

    tokens_table: str
    members_table: str
    settings_table: str
    aws_region: str = DEFAULT_REGION

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> IdentitySettings:
        # Names are matched case-insensitively, as pydantic-settings does by default.
        values = {key.lower(): value for key, value in (os.environ if environ is None else environ).items()}
        missing = [name.upper() for name in TABLES if name not in values]
        if missing:
            raise MissingSettings(f"not set: {', '.join(missing)}")
        return cls(
            tokens_table=values["tokens_table"],
            members_table=values["members_table"],
            settings_table=values["settings_table"],
            aws_region=values.get("aws_region", DEFAULT_REGION),
        )
