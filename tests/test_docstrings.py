"""Every Example in the public docstrings runs and prints what it says."""

import doctest
import importlib
import pkgutil

import pytest

import toupy

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(toupy.__path__, prefix="toupy.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that save figures write here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
