"""Network escape attempts, one kind per call; the targets are the test's canary servers (targets.json).

Prints one line per attempt: ``<kind> <target>: blocked (<why>)``, or ``REACHED`` when it got through.
"""

import json
import os
import socket
import struct
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TARGETS = json.loads((Path(__file__).parent / "targets.json").read_text())
TIMEOUT = 1  # a canary that can be reached answers in milliseconds


def connect(kind, host, port):
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as connection:
            connection.sendall(b"GET /stolen HTTP/1.0\r\n\r\n")
            answer = connection.recv(100)
        print(f"{kind} {host}:{port}: REACHED ({answer[:40]!r})")
    except OSError as error:
        print(f"{kind} {host}:{port}: blocked ({type(error).__name__}: {error})")


def resolve(name):
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(name, 80)})
        return f"dns {name}: REACHED, resolved to {addresses}"
    except OSError as error:
        return f"dns {name}: blocked ({type(error).__name__}: {error})"


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return f"http {url}: REACHED (status {response.status})"
    except OSError as error:
        return f"http {url}: blocked ({type(error).__name__}: {error})"


def in_parallel(attempt, targets):
    """Each failed name lookup waits for the resolver's timeout: wait for all of them at once."""
    with ThreadPoolExecutor(len(targets)) as pool:
        for line in pool.map(attempt, targets):
            print(line)


def routes():
    """(destination, gateway, mask) of the IPv4 routes, as dotted quads."""
    lines = Path("/proc/net/route").read_text().splitlines()[1:]
    quad = lambda hex_value: socket.inet_ntoa(struct.pack("<I", int(hex_value, 16)))  # noqa: E731
    return [(quad(f[1]), quad(f[2]), quad(f[7])) for f in (line.split() for line in lines)]


def run_gateway():
    """The gateway of this container's own network: the default route's, else the subnet's first address."""
    for destination, gateway, _ in routes():
        if destination == "0.0.0.0":
            return gateway
    destination = routes()[0][0]
    return socket.inet_ntoa(struct.pack("!I", struct.unpack("!I", socket.inet_aton(destination))[0] + 1))


canary = TARGETS["canary_container"]
host_port = TARGETS["host_canary_port"]
kind = sys.argv[1]
if kind == "dns":
    in_parallel(resolve, ["example.com", "exfiltrate-the-holdout.example.com", canary["name"]])
elif kind == "http":
    in_parallel(fetch, [f"http://{canary['name']}:{canary['port']}/", "http://example.com/"])
elif kind == "raw-ip":
    connect(kind, canary["ip"], canary["port"])
elif kind == "run-gateway":
    connect(kind, run_gateway(), host_port)
elif kind == "docker0-gateway":
    connect(kind, TARGETS["docker0_gateway"], host_port)
elif kind == "host-address":
    for address in TARGETS["host_addresses"]:
        connect(kind, address, host_port)
elif kind == "other-run":
    connect(kind, TARGETS["other_run"]["ip"], TARGETS["other_run"]["port"])
elif kind == "no-network":
    print("interfaces: " + " ".join(sorted(os.listdir("/sys/class/net"))))
    connect(kind, canary["ip"], canary["port"])
    connect(kind, TARGETS["docker0_gateway"], host_port)
    for address in TARGETS["host_addresses"]:
        connect(kind, address, host_port)
else:
    sys.exit(f"unknown kind {kind}")
