"""The Python example of the README runs as written."""

from __future__ import annotations

import contextlib
import io
import re

from conftest import REPO_ROOT


def test_readme_python_example_runs() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    match = re.search(r"<!-- python-example:start -->\s*```python\n(.*?)```\s*<!-- python-example:end -->",
                      readme, re.S)
    assert match, "README.md has no Python example between the markers"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(match.group(1), "README.md", "exec"), {"__name__": "readme_example"})
    assert "window_closed" in printed.getvalue() or "WINDOW_CLOSED" in printed.getvalue()
