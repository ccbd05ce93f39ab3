#!/bin/sh
# The program's TMPDIR and its resource limits, as the kernel has them.
printf 'Content-Type: text/plain\r\n\r\nTMPDIR=%s\n' "$TMPDIR"
cat /proc/self/limits
