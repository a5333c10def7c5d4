#!/bin/sh
# A command agent in shell: counts the words of its request's input.
# Protocol: one JSON request on stdin, one JSON object on stdout.
request=$(cat)
echo "counting words" >&2
# The input is the upstream output; counting the words of the whole request
# line minus its JSON punctuation is enough for a demo without jq.
input=$(printf '%s' "$request" | sed -e 's/.*"input":"\([^"]*\)".*/\1/')
words=$(printf '%s' "$input" | wc -w | tr -d ' ')
printf '{"output": {"words": %s, "text": "%s"}}\n' "$words" "$input"
