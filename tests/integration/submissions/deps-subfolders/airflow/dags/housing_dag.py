import importlib.metadata as m

print("dag", m.version("six"))
