#!/usr/bin/env python3
"""A long-lived command agent (persistent = true): one JSON request per line
on stdin, one JSON reply per line on stdout echoing the request's id. It
keeps state across tasks (a running count) and reports its pid, which shows
when agentctl had to start it again."""
import json
import os
import sys

seen = 0
for line in sys.stdin:
    request = json.loads(line)
    item = request["input"]
    if item == "crash" and request["attempt"] == 1:
        print("simulating a crash", file=sys.stderr)
        sys.exit(3)
    seen += 1
    reply = {"id": request["id"], "output": {"item": item, "seen": seen, "pid": os.getpid()}}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
