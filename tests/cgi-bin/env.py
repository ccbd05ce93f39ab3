#!/usr/bin/python3
# Prints the environment exactly as the program got it at exec (/proc/self/environ: NUL-separated),
# before Python itself could add anything (its locale coercion sets LC_CTYPE in os.environ).
import sys

with open("/proc/self/environ", "rb") as f:
    env = f.read()
sys.stdout.buffer.write(b"Content-Type: application/octet-stream\r\n\r\n" + env)
