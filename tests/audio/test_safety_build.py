"""The safety stage's C pass is what pyproject.toml says it is: a CPython extension module."""

import importlib.machinery
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


def test_pyproject_describes_the_extension_as_built():
    text = PYPROJECT.read_text()
    assert "ctypes" not in text and "CPython extension module (performer.audio._safety" in text
    try:
        from performer.audio import _safety
    except ImportError:
        pytest.skip("built without a C compiler: the numpy path runs")
    assert _safety.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
