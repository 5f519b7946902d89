"""Privilege escalation attempts: setuid, writing /etc, a setuid-root binary, sudo, mount."""

import os
import shutil
import subprocess
import time


def attempt(what, action):
    try:
        action()
    except OSError as error:
        print(f"{what}: refused ({type(error).__name__}: {error})")
    else:
        print(f"{what}: ESCALATED")


def append(path):
    with open(path, "a") as handle:
        handle.write("owned::0:0::/:/bin/sh\n")


attempt("setuid(0)", lambda: os.setuid(0))
attempt("setgid(0)", lambda: os.setgid(0))
attempt("append to /etc/passwd", lambda: append("/etc/passwd"))
attempt("append to /etc/shadow", lambda: append("/etc/shadow"))
attempt("write /etc/sudoers", lambda: append("/etc/sudoers"))

# su is setuid root in the image: started, it would run with euid 0 unless no-new-privileges holds.
su = subprocess.Popen(["su", "root", "-c", "id -u"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
time.sleep(0.5)
try:
    with open(f"/proc/{su.pid}/status") as status:
        uids = next(line.split()[1:] for line in status if line.startswith("Uid:"))
    print(f"su ran as uid {' '.join(uids)}" + (" ESCALATED" if "0" in uids else ""))
except OSError as error:
    print(f"su ran as: unknown, it ended first ({error})")
su.kill()
su.communicate()

print("sudo: " + ("ESCALATED: installed" if shutil.which("sudo") else "not installed"))
mount = subprocess.run(["mount", "-t", "tmpfs", "none", "/tmp"], capture_output=True, text=True)
print(f"mount: exit {mount.returncode}" + (" ESCALATED" if mount.returncode == 0 else ""))
print(f"effective uid after all attempts: {os.geteuid()}")
