#!/bin/sh
# Echoes the request body from stdin, and where the program runs.
printf 'Content-Type: text/plain\r\n\r\n'
printf 'cwd=%s\n' "$(pwd)"
cat
