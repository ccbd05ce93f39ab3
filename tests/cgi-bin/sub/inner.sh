#!/bin/sh
# A script in a subdirectory: PATH_INFO and the working directory.
printf 'Content-Type: text/plain\r\n\r\n%s\n' "$(pwd)"
