"""Memory blow-up: allocate and touch 16 MiB blocks until something stops it."""

blocks = []
while True:
    blocks.append(bytearray(16 * 1024 * 1024))
    print(f"holding {len(blocks) * 16} MiB", flush=True)
