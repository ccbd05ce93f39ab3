#!/bin/sh
# Writes to stderr what would pass for another writer's line in a shared log, a terminal escape
# without a newline (the last, partial line), and tries to empty its stderr's file.
printf 'fake [error] line\n\033[31m' >&2
truncate -s 0 /proc/self/fd/2 2>/dev/null
printf 'Status: 204\r\n\r\n'
