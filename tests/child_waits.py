"""A child for tests/test_children.py: one line on stderr, then it waits for its stdin to close."""

import sys

print(f"child ready with {sys.argv[1]}", file=sys.stderr, flush=True)
sys.stdin.read()
