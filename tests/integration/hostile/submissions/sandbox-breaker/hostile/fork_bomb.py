"""Fork bomb: every process keeps forking for ever; the first process reports its first refusal."""

import os
import time

first = os.getpid()
children = 0
reported = False
while True:
    try:
        if os.fork() == 0:
            continue  # the child bombs too
        children += 1
    except OSError as error:
        if os.getpid() == first and not reported:
            print(f"fork refused after {children} children: {error}", flush=True)
            reported = True
        time.sleep(0.05)
