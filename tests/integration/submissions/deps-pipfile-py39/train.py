import importlib.metadata as metadata

for name in ("tabulate", "six", "attrs"):
    print(name, metadata.version(name))
