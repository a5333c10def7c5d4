#!/usr/bin/env python3
"""A command agent in Python: upper-cases the text it is given.

Protocol: one JSON request on stdin, one JSON object on stdout
({"output": ...}), progress lines on stderr, exit 0 / 75 (retry) / other.
"""
import json
import sys

request = json.load(sys.stdin)
text = request["input"]
if not isinstance(text, str):
    text = json.dumps(text)
print(f"upper-casing {len(text)} characters", file=sys.stderr)
json.dump({"output": text.upper()}, sys.stdout)
