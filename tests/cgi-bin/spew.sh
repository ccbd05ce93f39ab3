#!/bin/sh
# Writes stderr lines as fast as it can, $1 (QUERY_STRING) of them, then answers.
n=${QUERY_STRING:-20000}
yes 'spew spew spew spew spew spew spew spew spew spew spew spew spew spew' | head -n "$n" >&2
printf 'Status: 204\r\n\r\n'
