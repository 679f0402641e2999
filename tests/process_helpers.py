"""Helpers of the tests that start processes: free local ports, the modules a CLI command imports."""

import socket
import subprocess
import sys


def free_ports(n):
    """``n`` TCP ports on localhost that are free now (for the workers of a loopback multi-worker run)."""
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def cli_imports(argv, modules):
    """Run ``kspectral ARGV`` in a fresh interpreter; return its stdout lines, the last one listing which of
    ``modules`` it imported (``"imported: [...]"``)."""
    code = ("import sys; from kspectral_cli.main import main\n"
            f"try:\n    main({list(argv)!r})\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
            f"print('imported:', sorted(m for m in {tuple(modules)!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()
