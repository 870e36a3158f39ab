#!/usr/bin/env python3
"""Checks that a Markdown guide quotes only code that a tested program holds.

Usage: scripts/check-quoted-code.py GUIDE.md

A quote in the guide is a fenced code block between two markers naming a file and a region:

    <!-- quote: tests/c/guide_helpdesk.c engine -->
    ```c
    ...
    ```
    <!-- /quote -->

and the file marks the region with comments on lines of their own, C's or Python's:

    /* guide:begin engine */        # guide:begin engine
    ...                             ...
    /* guide:end engine */          # guide:end engine

The block must equal the region's lines without the marker lines and without their common
indentation. Every fenced block of the guide must be such a quote (no code the tests do not
run), and every region of a quoted file must be quoted (no marker left behind when the guide
drops a step). Run by scripts/test-ffi.sh for docs/c-guide.md, which then compiles and runs
the files, and by scripts/test-python.sh for docs/python-guide.md, whose file pytest runs.
"""
import difflib
import pathlib
import re
import sys
import textwrap

QUOTE = re.compile(r"^<!-- quote: (\S+) (\S+) -->$")
UNQUOTE = "<!-- /quote -->"
REGION = re.compile(r"^\s*(?:/\* guide:(begin|end) (\S+) \*/|# guide:(begin|end) (\S+))\s*$")


def regions(path):
    """The regions of a source file by name, each dedented, without its marker lines."""
    found, open_name, lines = {}, None, []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        marker = REGION.match(line)
        if not marker:
            if open_name:
                lines.append(line)
            continue
        kind, name = [group for group in marker.groups() if group is not None]
        if kind == "begin":
            if open_name:
                sys.exit(f"{path}:{number}: region {name} begins inside region {open_name}")
            if name in found:
                sys.exit(f"{path}:{number}: region {name} is marked twice")
            open_name, lines = name, []
        else:
            if name != open_name:
                sys.exit(f"{path}:{number}: end of region {name}, but {open_name} is open")
            found[name] = textwrap.dedent("\n".join(lines))
            open_name = None
    if open_name:
        sys.exit(f"{path}: region {open_name} never ends")
    return found


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    guide = pathlib.Path(sys.argv[1])
    root = pathlib.Path.cwd()
    lines = guide.read_text().splitlines()
    sources, quoted, errors = {}, set(), []
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = QUOTE.match(line)
        if line.startswith("```") and not marker:
            errors.append(f"{guide}:{i + 1}: a code block that quotes no tested file")
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            i += 1
            continue
        if not marker:
            i += 1
            continue
        file, name = marker.groups()
        start = i + 1
        if start >= len(lines) or not lines[start].startswith("```"):
            sys.exit(f"{guide}:{i + 1}: a quote marker not followed by a code block")
        end = start + 1
        while end < len(lines) and lines[end] != "```":
            end += 1
        if end + 1 >= len(lines) or lines[end + 1] != UNQUOTE:
            sys.exit(f"{guide}:{i + 1}: the quote's code block is not followed by {UNQUOTE}")
        if file not in sources:
            path = root / file
            if not path.is_file():
                sys.exit(f"{guide}:{i + 1}: {file} does not exist")
            sources[file] = regions(path)
        block = "\n".join(lines[start + 1 : end])
        region = sources[file].get(name)
        if region is None:
            errors.append(f"{guide}:{i + 1}: {file} has no region {name}")
        elif block != region:
            diff = difflib.unified_diff(region.splitlines(), block.splitlines(),
                                        f"{file} {name}", str(guide), lineterm="")
            errors.append(f"{guide}:{i + 1}: the quote of {file} {name} differs from the file:\n"
                          + "\n".join(diff))
        quoted.add((file, name))
        i = end + 2
    for file, found in sources.items():
        for name in found:
            if (file, name) not in quoted:
                errors.append(f"{file}: region {name} is quoted nowhere in {guide}")
    if not quoted:
        errors.append(f"{guide}: quotes nothing")
    if errors:
        sys.exit("\n".join(errors))
    print(f"{guide}: {len(quoted)} quotes agree with {', '.join(sorted(sources))}")


if __name__ == "__main__":
    main()
