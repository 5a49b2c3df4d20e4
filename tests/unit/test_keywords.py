"""Opt-out / opt-in keywords: the whole trimmed reply, any case, accents ignored; anything else is not a keyword."""

from __future__ import annotations

import pytest

from smscore.domain.keywords import DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS, KeywordAction, Keywords

KEYWORDS = Keywords.of()


@pytest.mark.parametrize("word", DEFAULT_OPT_OUT_KEYWORDS)
def test_every_default_opt_out_word_opts_out(word: str) -> None:
    # Given the default lists / When the reply is the word / Then it opts out, naming the configured keyword
    match = KEYWORDS.match(word)
    assert (match.action, match.keyword) == (KeywordAction.OPT_OUT, word)


@pytest.mark.parametrize("word", DEFAULT_OPT_IN_KEYWORDS)
def test_every_default_opt_in_word_opts_in(word: str) -> None:
    match = KEYWORDS.match(word)
    assert (match.action, match.keyword) == (KeywordAction.OPT_IN, word)


@pytest.mark.parametrize(
    ("reply", "action", "keyword"),
    [
        ("stop", KeywordAction.OPT_OUT, "STOP"),
        ("Stop", KeywordAction.OPT_OUT, "STOP"),
        ("  STOP \n", KeywordAction.OPT_OUT, "STOP"),
        ("\tbaja\t", KeywordAction.OPT_OUT, "BAJA"),
        ("Bája", KeywordAction.OPT_OUT, "BAJA"),
        ("Ba\u0301ja", KeywordAction.OPT_OUT, "BAJA"),  # decomposed accent (a + combining acute)
        ("ÁLTO", KeywordAction.OPT_OUT, "ALTO"),
        ("sálír", KeywordAction.OPT_OUT, "SALIR"),
        ("CANCELÁR", KeywordAction.OPT_OUT, "CANCELAR"),
        ("\uff41\uff4c\uff54\uff41", KeywordAction.OPT_IN, "ALTA"),  # full-width "alta" (NFKD)
        ("Álta", KeywordAction.OPT_IN, "ALTA"),
        ("unstop", KeywordAction.OPT_IN, "UNSTOP"),
        ("\u00a0start\u2003", KeywordAction.OPT_IN, "START"),  # no-break and em spaces trimmed
    ],
)
def test_case_accents_and_surrounding_whitespace_do_not_matter(reply: str, action: KeywordAction, keyword: str) -> None:
    match = KEYWORDS.match(reply)
    assert (match.action, match.keyword) == (action, keyword)


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   ",
        "please stop",
        "stop it",
        "STOP!",
        "S T O P",
        "stopp",
        "no quiero mas mensajes, baja",
        "Gracias",
        "altavoz",
        "start now",
        "HELP",
    ],
)
def test_anything_but_a_whole_keyword_is_not_a_keyword(reply: str) -> None:
    assert KEYWORDS.match(reply).action is KeywordAction.NONE


def test_the_lists_are_configurable_from_comma_separated_settings() -> None:
    # Given the configured lists (as the OptOutKeywords / OptInKeywords template parameters pass them)
    keywords = Keywords.parse(" Arrêt , STOP,,", "subscribe, volver")
    # Then the configured words work (accents of the configuration ignored too) and the defaults no longer do
    assert keywords.match("arret").action is KeywordAction.OPT_OUT
    assert keywords.match("ARRÊT").keyword == "ARRÊT"
    assert keywords.match("Volver").action is KeywordAction.OPT_IN
    assert keywords.match("BAJA").action is KeywordAction.NONE


@pytest.mark.parametrize(
    ("opt_out", "opt_in", "problem"),
    [
        ("STOP,BAJA", "START,baja", "both"),
        ("", "START", "at least one opt-out"),
        ("STOP," + "X" * 41, "START", "1-40 characters"),
    ],
)
def test_a_configuration_that_cannot_work_is_refused_at_start(opt_out: str, opt_in: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Keywords.parse(opt_out, opt_in)
