"""Code that hard-codes its tracking server reaches the run's: a service answers on its aliases and extra
ports, and a candidate's step reaches it at 127.0.0.1 and localhost on the declared loopback ports — proven
on the real engine with a server that returns a token only it knows."""

from __future__ import annotations

import secrets

from grader.models import Lab, ServiceSpec
from grader.run.addresses import FORWARDER_MOUNT, extra_port_routes, loopback_routes, with_relays
from grader.sandbox.base import Mount, RunSpec


def lab_with(*services: ServiceSpec) -> Lab:
    return Lab(id="lab", title="t", rubric="r", services=list(services))


def test_a_step_reaches_the_tracking_service_at_every_address_real_code_hard_codes(sandbox_factory, tmp_path):
    sandbox = sandbox_factory()
    token = secrets.token_hex(8)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(token)
    tracking = ServiceSpec(id="mlflow", run="x", port=5000, trusted=True, aliases=["mlflow-server", "tracking"],
                           extra_ports=[5001, 8080], loopback_ports=[5000, 5001, 8080])
    server = f"cd /site && python3 -m http.server --bind 0.0.0.0 {tracking.port}"
    spec = RunSpec(name="mlflow", command=with_relays(server, extra_port_routes(tracking), bind_all=True),
                   image=sandbox.image, limits=sandbox.limits, network=True, mount_work=False,
                   mounts=(FORWARDER_MOUNT, Mount(site, "/site")), aliases=tuple(tracking.aliases))
    assert sandbox.start_service(spec, port=5000, ready_timeout=20).ready

    addresses = ["127.0.0.1:5000", "localhost:5001", "127.0.0.1:8080", "mlflow:5001", "mlflow-server:5000",
                 "tracking:8080"]
    fetch = "; ".join(f"python3 -c \"import urllib.request as u; print('{a}', u.urlopen('http://{a}/', "
                      f"timeout=5).read().decode())\"" for a in addresses)
    step = RunSpec(name="train", command=with_relays(fetch, loopback_routes(lab_with(tracking))),
                   image=sandbox.image, limits=sandbox.limits, network=True, mounts=(FORWARDER_MOUNT,))
    result = sandbox.run(step)
    assert result.stdout.splitlines() == [f"{address} {token}" for address in addresses], result.stderr


def test_a_step_without_the_run_network_fails_fast_at_a_relayed_port(sandbox_factory):
    sandbox = sandbox_factory()
    tracking = ServiceSpec(id="mlflow", run="x", port=5000, loopback_ports=[5000])
    probe = ("python3 -c \"import urllib.request as u\ntry: u.urlopen('http://127.0.0.1:5000/', timeout=20)\n"
             "except Exception as e: print('failed:', type(e).__name__)\"")
    step = RunSpec(name="train", command=with_relays(probe, loopback_routes(lab_with(tracking))),
                   image=sandbox.image, limits=sandbox.limits, network=False, mounts=(FORWARDER_MOUNT,))
    result = sandbox.run(step)
    # The relay closes the connection at once (the service is unreachable), so the client sees a closed
    # connection, never a timeout of its own.
    assert result.stdout.strip() in ("failed: RemoteDisconnected", "failed: ConnectionResetError"), result.stdout
