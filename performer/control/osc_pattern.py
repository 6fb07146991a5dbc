"""OSC 1.0 address patterns matched against concrete addresses.

python-osc matches the other way round (patterns in the handlers it registers); here the
*incoming* address is the pattern and the rig's address space is the set of concrete names:
``latent/*/offset`` names every latent offset. Per the OSC 1.0 spec:

  ``?``        any single character except '/'
  ``*``        any run of characters, none of them '/', possibly empty
  ``[abc]``    one of the characters; ``a-z`` is a range; a leading ``!`` negates the set
  ``{a,bc}``   one of the comma-separated strings

>>> match("latent/*/offset", ["latent/0/offset", "latent/1/scale", "latent/1/offset"])
['latent/0/offset', 'latent/1/offset']
>>> match("{input,output}/gain", ["mix", "input/gain", "output/gain"])
['input/gain', 'output/gain']
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

PATTERN_CHARS = frozenset("*?[]{}")


class PatternError(ValueError):
    """An address pattern that cannot be compiled (an unclosed ``[`` or ``{``, a nested brace)."""


def is_pattern(address: str) -> bool:
    """Whether ``address`` uses any OSC pattern character (plain addresses skip matching)."""
    return not PATTERN_CHARS.isdisjoint(address)


def match(pattern: str, addresses: Iterable[str]) -> list[str]:
    """The addresses, in their order, that ``pattern`` matches in full."""
    regex = compile_pattern(pattern)
    return [a for a in addresses if regex.fullmatch(a)]


@lru_cache(maxsize=256)  # live coders repeat the same few patterns; bounded so a fuzzer can't grow it
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression equivalent to an OSC address pattern (use with ``fullmatch``)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise PatternError(f"{pattern!r}: '[' at {i} has no closing ']'")
            out.append(_char_class(pattern[i + 1:end], pattern))
            i = end
        elif char == "{":
            end = pattern.find("}", i + 1)
            if end < 0:
                raise PatternError(f"{pattern!r}: '{{' at {i} has no closing '}}'")
            body = pattern[i + 1:end]
            if "{" in body or "/" in body:
                raise PatternError(f"{pattern!r}: '{{...}}' may not contain '{{' or '/'")
            out.append("(?:" + "|".join(re.escape(s) for s in body.split(",")) + ")")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def _char_class(body: str, pattern: str) -> str:
    negate = body.startswith("!")
    if negate:
        body = body[1:]
    if not body:
        raise PatternError(f"{pattern!r}: empty character set '[]'")
    parts: list[str] = []
    i = 0
    while i < len(body):
        # a '-' between two characters is a range; first or last it is literal (OSC 1.0)
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = body[i], body[i + 2]
            if low > high:
                raise PatternError(f"{pattern!r}: range {low}-{high} runs backwards")
            parts.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 3
        else:
            parts.append(re.escape(body[i]))
            i += 1
    # '/' separates address parts, so no set may match it, negated ones included
    return f"[^/{''.join(parts)}]" if negate else f"(?!/)[{''.join(parts)}]"
