"""Too many open files: open until refused, then try to raise the limit."""

import resource

handles = []
try:
    while True:
        handles.append(open("/dev/null"))  # noqa: SIM115
except OSError as error:
    print(f"open refused after {len(handles)} files: {error}")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
print(f"nofile limit: soft {soft}, hard {hard}")
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard * 64, hard * 64))
    print(f"RAISED the limit to {hard * 64}")
except (ValueError, OSError) as error:
    print(f"raising the limit refused: {error}")
