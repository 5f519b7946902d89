"""Looks everywhere for the lab's hidden hold-out data: file contents, file names, the environment.

The markers are put together at run time so that no file of this submission contains them whole. The
public data's marker is searched in the same pass and must be found: the search works.
"""

import os
import subprocess

HIDDEN = "HOLDOUT-CANARY" + "-" + "5d1f0c7e93"
PUBLIC = "PUBLIC-CANARY" + "-" + "b81e44a0"
PRUNED = ("/proc", "/sys", "/dev")


def files_containing(*markers):
    """marker → every readable file anywhere (mounts included) whose content holds it; one pass over /."""
    command = ["grep", "-rlF", "-s", "--binary-files=text", *(f"--exclude-dir={p[1:]}" for p in PRUNED)]
    for marker in markers:
        command += ["-e", marker]
    matches = subprocess.run([*command, "/"], capture_output=True, env={**os.environ, "LC_ALL": "C"},
                             text=True).stdout.split()
    found = {marker: [] for marker in markers}
    for path in matches:
        if path.startswith(tuple(p + "/" for p in PRUNED)):
            continue
        with open(path, "rb") as handle:
            content = handle.read()
        for marker in markers:
            if marker.encode() in content:
                found[marker].append(path)
    return found


def files_named(fragment):
    prune = " -o ".join(f"-path {p}" for p in PRUNED)
    command = f"find / \\( {prune} \\) -prune -o -iname '*{fragment}*' -print 2>/dev/null"
    return sorted(subprocess.run(command, shell=True, capture_output=True, text=True).stdout.split())


found = files_containing(PUBLIC, HIDDEN)
print("public data: " + (f"seen at {' '.join(found[PUBLIC])}" if found[PUBLIC] else "not found (search broken)"))
hidden = found[HIDDEN] + files_named("holdout") + [f"${name}" for name, value in os.environ.items()
                                                     if HIDDEN in value]
print("hidden data: " + (f"LEAKED at {' '.join(hidden)}" if hidden else "not found"))
