#!/bin/sh
# Exits at once, leaving a grandchild behind in its process group (with its own stdout closed, so
# the output still ends): the launcher must kill and reap it at the timeout.
printf 'Content-Type: text/plain\r\n\r\n'
sh -c 'sleep 1000 >/dev/null 2>&1 </dev/null & echo "$!"'
