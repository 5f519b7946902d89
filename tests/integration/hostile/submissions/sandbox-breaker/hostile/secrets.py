"""Secrets: the environment this step sees, every process's environment, and any way to the Docker engine."""

import glob
import os
import socket
import subprocess
import sys


def environ_of(path):
    with open(path, "rb") as handle:
        return [entry.decode(errors="replace") for entry in handle.read().split(b"\0") if entry]


def environment():
    """The names the container was started with (pid 1 is its init) and those this process sees."""
    print("environment names: " + " ".join(sorted(e.split("=", 1)[0] for e in environ_of("/proc/1/environ"))))
    print("this process sees: " + " ".join(sorted(os.environ)))


def process_environ():
    for path in sorted(glob.glob("/proc/[0-9]*/environ")):
        pid = path.split("/")[2]
        try:
            entries = environ_of(path)
        except OSError as error:
            print(f"environ of pid {pid}: unreadable ({error})")
            continue
        print(f"environ of pid {pid}: " + " ".join(entries))
        for entry in entries:
            if entry.startswith("GRADER_") or "CANARY" in entry:
                print(f"grader variable in pid {pid}: LEAKED {entry}")


def docker_socket():
    candidates = ["/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock"]
    found = [path for path in candidates if os.path.exists(path)]
    sockets = subprocess.run(
        "find / \\( -path /proc -o -path /sys \\) -prune -o -type s -print 2>/dev/null",
        shell=True, capture_output=True, text=True).stdout.split()
    found += [path for path in sockets if path not in found]
    print("docker socket: " + (f"LEAKED {' '.join(found)}" if found else "none"))
    print("DOCKER_HOST: " + (f"LEAKED {os.environ['DOCKER_HOST']}" if "DOCKER_HOST" in os.environ else "unset"))
    with open("/proc/net/route") as routes:
        fields = [line.split() for line in routes.read().splitlines()[1:]]
    gateways = {socket.inet_ntoa(bytes.fromhex(f[2])[::-1]) for f in fields if f[1] == "00000000"}
    for gateway in sorted(gateways):
        for port in (2375, 2376):
            try:
                socket.create_connection((gateway, port), timeout=1).close()
                print(f"engine API at {gateway}:{port}: REACHED")
            except OSError as error:
                print(f"engine API at {gateway}:{port}: blocked ({type(error).__name__})")


{"environment": environment, "process-environ": process_environ, "docker-socket": docker_socket}[sys.argv[1]]()
