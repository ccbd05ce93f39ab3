#!/bin/sh
# Ignores SIGTERM (so only SIGKILL ends it), with a child that ignores it too.
trap '' TERM
sleep 1000 &
printf 'Content-Type: text/plain\r\n\r\n%s %s\n' "$$" "$!"
while :; do wait; done
