#!/bin/sh
# Starts a child of its own, says both pids, and never finishes by itself.
sleep 1000 &
printf 'Content-Type: text/plain\r\n\r\n%s %s\n' "$$" "$!"
wait
