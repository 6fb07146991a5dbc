"""Scene names, and the file names derived from them.

A name is any Unicode text a performer would type ("Ébauche 2", "夜", "drop #3"), normalised to
NFC so that the same visible name typed on macOS (NFD) and Linux (NFC) is one scene. Refused:
empty names, "." and "..", path separators ("/" and "\\"), NUL and other control characters,
line separators, and leading or trailing whitespace (" a" and "a" would look identical in a list).

The file name is the name percent-encoded: letters, digits, spaces and a few harmless ASCII marks
stay as they are; every other character becomes %XX per UTF-8 byte, "%" included, so the mapping
is deterministic, reversible and without collisions. A leading or trailing "." is encoded too, so
no scene file is hidden, clashes with the store's temporary files (which start with "."), or loses
its trailing dot on Windows. The real name is also kept inside the JSON.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

from performer.scenes.errors import SceneError

SUFFIX = ".json"
# Room left in a 255-byte file name for ".json.deleted" and the temporary names built from it.
MAX_STEM_BYTES = 200
_SAFE_ASCII = frozenset("-_.,+=@()[]# ")  # no shell or Windows specials: those are encoded
_REFUSED_CATEGORIES = {"Cc": "a control character", "Cs": "a lone surrogate", "Zl": "a line separator",
                       "Zp": "a paragraph separator"}


def validate_name(name: object) -> str:
    """The name in canonical form (NFC), or a SceneError saying what is wrong with it."""
    if not isinstance(name, str):
        raise SceneError(f"scene name must be text, got {type(name).__name__}")
    name = unicodedata.normalize("NFC", name)
    if not name:
        raise SceneError("scene name must not be empty")
    if name in (".", ".."):
        raise SceneError(f"scene name {name!r} is reserved (it means a folder); choose another")
    for sep in ("/", "\\"):
        if sep in name:
            raise SceneError(f"scene name {name!r} must not contain {sep!r} (a path separator)")
    for ch in name:
        what = _REFUSED_CATEGORIES.get(unicodedata.category(ch))
        if what:
            raise SceneError(f"scene name {name!r} must not contain {what} (U+{ord(ch):04X})")
    if name != name.strip():
        raise SceneError(f"scene name {name!r} must not start or end with whitespace")
    stem_bytes = len(_encode(name).encode("utf-8"))
    if stem_bytes > MAX_STEM_BYTES:
        raise SceneError(f"scene name {name[:40]!r}... is too long: {stem_bytes} bytes as a file name, "
                         f"at most {MAX_STEM_BYTES}; shorten it")
    return name


def _keep(ch: str) -> bool:
    if ch.isascii():
        return ch.isalnum() or ch in _SAFE_ASCII
    return ch.isalnum()  # Unicode letters and digits ("É", "夜"); symbols, marks and spaces are encoded


def _encode(name: str) -> str:
    out = []
    last = len(name) - 1
    for i, ch in enumerate(name):
        if _keep(ch) and not (ch == "." and i in (0, last)):
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
    return "".join(out)


def file_stem(name: str) -> str:
    """The file name (without ``.json``) of the scene called ``name``; validates the name."""
    return _encode(validate_name(name))


def file_name(name: str) -> str:
    """The file name of the scene called ``name``: ``"Ébauche 2.json"``, ``"a%3Ab.json"`` for "a:b"."""
    return file_stem(name) + SUFFIX


def name_from_stem(stem: str) -> str | None:
    """The scene name a file stem stands for, or None when the stem is not one this module makes
    (a file copied in by hand): its scene is then read from the name inside the JSON."""
    try:
        name = unquote(stem, errors="strict")
        return name if file_stem(name) == stem else None
    except (UnicodeDecodeError, SceneError):
        return None


def case_key(name: str) -> str:
    """What two names share when a case-insensitive filesystem (macOS, Windows) would give them
    one file: names with equal keys but different spellings are refused (see SceneStore)."""
    return unicodedata.normalize("NFC", name.casefold())
