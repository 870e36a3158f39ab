"""The Python example of the README runs as written and prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import re

from conftest import REPO_ROOT


def readme_example() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    match = re.search(r"<!-- python-example:start -->\s*```python\n(.*?)```\s*<!-- python-example:end -->",
                      readme, re.S)
    assert match, "README.md has no Python example between the markers"
    return match.group(1)


def test_readme_python_example_runs() -> None:
    code = readme_example()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    # One printed line per print() of the example, each as its comment shows it: the comment
    # after a print is the line itself, "..." standing for a tail it leaves out, and "; "
    # separating what the line shows of each printed value.
    comments = [line.split("#", 1)[1].strip() for line in code.splitlines()
                if line.startswith("print(")]
    lines = printed.getvalue().splitlines()
    assert len(lines) == len(comments) == 3, lines
    billing, denial, details = zip(lines, comments)
    assert billing[0].startswith(billing[1].split("...")[0]) and billing[0].endswith(">)"), billing
    assert denial[0] == denial[1], denial
    when, next_action = details[1].split("; ")
    assert when == "when it closed"
    assert details[0] == ("{'window_closed_at': datetime.datetime(2026, 11, 3, 9, 0, "
                          f"tzinfo=datetime.timezone.utc)}} {next_action}"), details
