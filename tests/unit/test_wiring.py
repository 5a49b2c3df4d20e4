"""The composition root's one registry: built once per execution environment, all forgotten by reset()."""

from __future__ import annotations

import itertools

import pytest

from smscore import wiring


def test_a_factory_builds_once_and_reset_forgets_it_without_being_listed_anywhere() -> None:
    # Given a new adapter factory, declared the way wiring declares its own
    counter = itertools.count()

    @wiring.memoised
    def adapter() -> int:
        return next(counter)

    # When it is asked twice / Then it was built once
    assert (adapter(), adapter()) == (0, 0)
    # When the process caches are reset / Then the next call builds it again
    wiring.reset()
    assert adapter() == 1


def test_reset_forgets_the_settings_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a function's environment as the template declares it
    from smsdev.provision import function_environment
    from smsdev.template import LocalNames

    for key, value in function_environment(LocalNames(stack_name="unit")).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MAX_RECIPIENTS", "7")
    wiring.reset()
    assert wiring.bound_settings().max_recipients == 7
    # When the environment changes / Then only a reset makes the settings see it
    monkeypatch.setenv("MAX_RECIPIENTS", "9")
    assert wiring.bound_settings().max_recipients == 7
    wiring.reset()
    assert wiring.bound_settings().max_recipients == 9
    wiring.reset()
