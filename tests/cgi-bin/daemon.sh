#!/bin/sh
# Leaves a daemon behind in a session of its own (setsid, then its parent exits), out of reach of a
# kill of the program's process group: the launcher, a child subreaper, must still kill it.
printf 'Content-Type: text/plain\r\n\r\n'
setsid sh -c 'sleep 1000 >/dev/null 2>&1 </dev/null & echo "$!"'
