"""Scene names: Unicode welcome, paths and control characters refused, file names injective."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from performer.scenes import SceneError
from performer.scenes.names import MAX_STEM_BYTES, case_key, file_name, file_stem, name_from_stem, validate_name


@pytest.mark.parametrize("name,expected", [
    ("Ébauche 2", "Ébauche 2.json"),
    ("夜", "夜.json"),
    ("drop #3", "drop #3.json"),
    ("a:b", "a%3Ab.json"),
    ("50%", "50%25.json"),
    (".hidden", "%2Ehidden.json"),
    ("end.", "end%2E.json"),
    ("🔥", "%F0%9F%94%A5.json"),
    ("a*b?", "a%2Ab%3F.json"),
])
def test_file_names_are_readable_and_decode_back(name, expected):
    assert file_name(name) == expected
    assert name_from_stem(expected[: -len(".json")]) == name


@pytest.mark.parametrize("name,message", [
    ("", "must not be empty"),
    (".", "reserved"),
    ("..", "reserved"),
    ("a/b", r"must not contain '/' \(a path separator\)"),
    ("\\", "path separator"),
    ("a\\b", "path separator"),
    ("a\x00b", r"control character \(U\+0000\)"),
    ("a\nb", r"control character \(U\+000A\)"),
    ("a\x7fb", "control character"),
    ("a\u2028b", "line separator"),
    (" a", "whitespace"),
    ("a\t", "control character"),
    ("a ", "whitespace"),
    ("x" * 201, "too long"),
    ("🔥" * 20, "too long"),  # 12 bytes each once encoded
    (None, "must be text"),
    (3, "must be text"),
])
def test_bad_names_are_refused_with_the_reason(name, message):
    with pytest.raises(SceneError, match=message):
        validate_name(name)
    with pytest.raises(SceneError):
        file_name(name)


def test_nfc_and_nfd_spellings_are_one_name():
    nfd = unicodedata.normalize("NFD", "Ébauche")
    assert nfd != "Ébauche" and validate_name(nfd) == "Ébauche" and file_name(nfd) == file_name("Ébauche")


def test_foreign_stems_are_not_names():
    assert name_from_stem("a%zz") is None  # not an encoding this module makes
    assert name_from_stem("a:b") is None  # ":" would have been encoded
    assert name_from_stem("%C3") is None  # not UTF-8


def test_case_key():
    assert case_key("Drop") == case_key("drop") == case_key("DROP")
    assert case_key("Straße") == case_key("STRASSE")


names = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=30)


@given(names)
def test_every_valid_name_maps_to_a_safe_file_name_and_back(name):
    try:
        name = validate_name(name)
    except SceneError:
        return
    stem = file_stem(name)
    assert "/" not in stem and "\\" not in stem and "\x00" not in stem and not stem.startswith(".")
    assert len(stem.encode()) <= MAX_STEM_BYTES
    assert name_from_stem(stem) == name


@given(names, names)
def test_different_names_never_share_a_file(a, b):
    try:
        a, b = validate_name(a), validate_name(b)
    except SceneError:
        return
    assert (file_stem(a) == file_stem(b)) == (a == b)
