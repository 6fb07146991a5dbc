"""OSC 1.0 address patterns against concrete addresses (the incoming address is the pattern)."""

import pytest

from performer.control.osc_pattern import PatternError, compile_pattern, is_pattern, match

ADDRESSES = [
    "mix", "input/gain", "output/gain", "bypass", "record", "bends/reset",
    "latent/0/offset", "latent/0/scale", "latent/1/offset", "latent/1/scale", "latent/12/offset",
    "decoder.net.2.weight/0/amount", "decoder.net.2.weight/1/amount", "decoder.net.2.weight/reset",
    "#3/0/factor", "#3/reset",
]


@pytest.mark.parametrize("pattern,expected", [
    ("mix", ["mix"]),
    ("*", ["mix", "bypass", "record"]),  # '*' never crosses '/'
    ("*/gain", ["input/gain", "output/gain"]),
    ("latent/*/offset", ["latent/0/offset", "latent/1/offset", "latent/12/offset"]),
    ("latent/?/offset", ["latent/0/offset", "latent/1/offset"]),
    ("latent/??/offset", ["latent/12/offset"]),
    ("latent/[01]/scale", ["latent/0/scale", "latent/1/scale"]),
    ("latent/[0-1]/offset", ["latent/0/offset", "latent/1/offset"]),
    ("latent/[!0]/*", ["latent/1/offset", "latent/1/scale"]),
    ("latent/1/{offset,scale}", ["latent/1/offset", "latent/1/scale"]),
    ("{input,output}/gain", ["input/gain", "output/gain"]),
    ("{mix,bypass}", ["mix", "bypass"]),
    ("decoder.net.2.weight/*/amount", ["decoder.net.2.weight/0/amount", "decoder.net.2.weight/1/amount"]),
    ("decoder?net?2?weight/reset", ["decoder.net.2.weight/reset"]),  # '.' is literal, '?' is any
    ("decoderXnet.2.weight/reset", []),
    ("*/reset", ["bends/reset", "decoder.net.2.weight/reset", "#3/reset"]),
    ("#3/*/factor", ["#3/0/factor"]),
    ("*/*/*", [a for a in ADDRESSES if a.count("/") == 2]),
    ("m*x", ["mix"]),
    ("*i*", ["mix"]),
    ("latent/[a-z]/offset", []),
    ("{}", []),
])
def test_pattern_matches(pattern, expected):
    assert match(pattern, ADDRESSES) == expected


@pytest.mark.parametrize("pattern,chars", [
    ("[-a]", ["-", "a"]),   # '-' first is literal
    ("[a-]", ["-", "a"]),   # and last
    ("[!-]", ["a", "b", "."]),
    ("[.]", ["."]),
])
def test_character_set_edges(pattern, chars):
    candidates = ["-", "a", "b", ".", "/"]
    assert match(pattern, candidates) == chars


def test_a_negated_set_never_matches_the_separator():
    assert match("a[!x]b", ["a/b", "ayb"]) == ["ayb"]


def test_regex_characters_in_addresses_are_literal():
    assert match("a+b(c)|d$", ["a+b(c)|d$", "aab(c)|d"]) == ["a+b(c)|d$"]


@pytest.mark.parametrize("pattern,message", [
    ("latent/[0/offset", "has no closing ']'"),
    ("latent/{0,1/offset", "has no closing '}'"),
    ("{a,{b}}", "may not contain"),
    ("{a/b,c}", "may not contain"),
    ("[z-a]", "runs backwards"),
    ("[]", "empty character set"),
    ("[!]", "empty character set"),
])
def test_invalid_patterns_say_why(pattern, message):
    with pytest.raises(PatternError, match=message.replace("[", r"\[").replace("(", r"\(")):
        compile_pattern(pattern)


def test_is_pattern():
    assert not is_pattern("decoder.net.2.weight/0/amount")
    assert not is_pattern("#3/0/factor")
    assert all(is_pattern(p) for p in ["*", "a?", "[ab]", "{a,b}"])
