#!/bin/sh
# Writes to stderr as well as stdout.
echo "to stderr: $REQUEST_METHOD" >&2
printf 'Status: 204\r\n\r\n'
