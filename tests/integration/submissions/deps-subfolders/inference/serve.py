import importlib.metadata as m

print("serve", m.version("tabulate"))
