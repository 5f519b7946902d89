import importlib.metadata as metadata
import sys

for name in sys.argv[1:] or ("tabulate", "six", "attrs"):
    print(name, metadata.version(name))
