#!/usr/bin/env python3
"""Fails on a Catch2 test case or section name that Catch2 v2's console reporter cannot print.

The reporter prints a failing test's name with its continuation lines indented past the name's
first ": " (ConsoleReporter::printHeaderString: the indent is that position + 2, and 2 more for a
section), and its text wrapper asserts that the indent stays below the console width
(CATCH_CONFIG_CONSOLE_WIDTH − 1 = 79 columns, counted in bytes). Debian's Catch2WithMain is
compiled with its asserts on, so a failure in such a test aborts the program instead of being
reported, and the failure's message is lost. A test case whose first ": " starts at byte 77 or
later, or a section at 75 or later, does that; this check refuses 70 and later, to keep a margin.

    check_test_names.py <tests dir>
"""
import pathlib
import re
import sys

LIMIT = 70  # bytes before the first ": " of a name
# The macro, then one string literal or several written side by side (joined by the compiler).
NAME = re.compile(
    r'\b(TEST_CASE|TEMPLATE_TEST_CASE|SECTION|SCENARIO|GIVEN|WHEN|THEN|AND_THEN)\s*\(\s*'
    r'((?:"(?:[^"\\\n]|\\.)*"\s*)+)')
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    root = pathlib.Path(sys.argv[1])
    files = sorted(p for p in root.rglob("*") if p.suffix in (".cpp", ".hpp"))
    names = bad = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        for m in NAME.finditer(text):
            names += 1
            name = "".join(LITERAL.findall(m.group(2)))
            first = name.encode("utf-8").find(b": ")
            if first >= LIMIT:
                bad += 1
                line = text.count("\n", 0, m.start()) + 1
                print(f"{path}:{line}: {m.group(1)} name's first ': ' starts at byte {first} "
                      f"(at most {LIMIT - 1}: Catch2's console reporter aborts on a failure "
                      f"there): {name}")
    # A pattern that matched nothing would pass every file: the suite has hundreds of names.
    if names < 100:
        print(f"only {names} test names found under {root}: the pattern is broken",
              file=sys.stderr)
        return 1
    print(f"{names} test case and section names in {len(files)} files; {bad} too long before ': '")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
