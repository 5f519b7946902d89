"""A gigabyte of output: 1 GiB of 1 KiB lines, written a MiB at a time."""

import sys

block = (b"x" * 1023 + b"\n") * 1024
for _ in range(1024):
    sys.stdout.buffer.write(block)
