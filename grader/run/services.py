"""The lab's services: long-running containers started in groups (before or after the steps), each waited
for on its port with a declared deadline; their log tails are kept for the reviewer before teardown."""

from __future__ import annotations

from grader.errors import InfrastructureError
from grader.labs.templating import render, render_number
from grader.models import ServiceResult, ServiceSpec
from grader.run.addresses import FORWARDER_MOUNT, extra_port_routes, loopback_routes, with_relays
from grader.run.pipeline import candidate_env, data_mounts, dependency_mounts, render_env
from grader.run.state import RunState
from grader.sandbox import RunSpec, Sandbox

NOT_STARTED = "not started"


def start_services(run: RunState, sandbox: Sandbox, when: str) -> None:
    """Start the lab's services of one start group and wait for each one's port (declared deadline)."""
    for service in (s for s in run.lab.lab.services if s.start == when):
        failed_needs = [n for n in service.needs if not run.steps[n].succeeded] if service.needs_success else []
        if failed_needs:
            result = ServiceResult(id=service.id, ready=False,
                                   message=f"{NOT_STARTED}: needs step {failed_needs[0]!r}, which did not succeed")
        elif service.image == "built" and run.built_image is None:
            result = ServiceResult(id=service.id, ready=False,
                                   message=f"{NOT_STARTED}: the submission's image was not built")
        else:
            port = int(render_number(service.port, run.manifest))
            timeout = render_number(service.ready_timeout, run.manifest)
            http_path = render(service.ready_http, run.manifest) if service.ready_http else None
            result = sandbox.start_service(service_spec(run, service, sandbox.image), port, timeout, http_path)
        run.record_service(result)


def service_spec(run: RunState, service: ServiceSpec, image: str) -> RunSpec:
    """How a service's container is started: the submission's built image, the grader's own trusted service,
    or the candidate's command on the lab's image."""
    limits = run.lab.lab.limits.merged(service.limits)
    if service.image == "built":
        # The submission's own image, as its Dockerfile says to run it: no work area, no lab data.
        return RunSpec(name=service.id, command=render(service.run, run.manifest), image=run.built_image or "",
                       limits=limits, env=render_env(service.env, run.manifest), network=True, mount_work=False,
                       image_command=True)
    aliases = tuple(service.aliases)
    extra = extra_port_routes(service)
    if service.trusted:
        # The grader's own service: no work area, none of the lab data, no submission.
        return RunSpec(name=service.id, command=with_relays(service.run, extra, bind_all=True), image=image,
                       limits=limits, env=service.env, network=True, mount_work=False, aliases=aliases,
                       mounts=(FORWARDER_MOUNT,) if extra else ())
    own_port = int(render_number(service.port, run.manifest))
    routes = loopback_routes(run.lab.lab, own_port)
    relays = [*extra, *routes]
    # Extra ports must answer on the run network; loopback relays only inside the container. One forwarder
    # per binding keeps both right.
    command = with_relays(with_relays(render(service.run, run.manifest), routes), extra, bind_all=True)
    mounts = (*data_mounts(run.lab), *dependency_mounts(run), *((FORWARDER_MOUNT,) if relays else ()))
    return RunSpec(name=service.id, command=command, image=image, limits=limits,
                   env=candidate_env(run, service.env), network=True, mounts=mounts, aliases=aliases)


def collect_service_logs(run: RunState, sandbox: Sandbox) -> None:
    """Log tails of every started service for the reviewer, taken before teardown removes them."""
    for service_id, result in run.services.items():
        if result.message.startswith(NOT_STARTED):
            continue
        try:
            run.services[service_id] = result.model_copy(update={"log_tail": sandbox.service_logs(service_id)})
        except InfrastructureError:
            continue
