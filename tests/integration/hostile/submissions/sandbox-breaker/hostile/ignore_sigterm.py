"""Ignores SIGTERM (and proves it by sending itself one), then never ends."""

import os
import signal
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.kill(os.getpid(), signal.SIGTERM)
print("survived my own SIGTERM", flush=True)
while True:
    time.sleep(0.1)
