#!/bin/sh
# Has no execute bit on purpose: exec must fail with EACCES.
printf 'Content-Type: text/plain\r\n\r\nshould not run\n'
