"""A free TCP port for the rendezvous of spawned torch.distributed test processes."""

import socket


def free_port() -> int:
    """A port the OS reports free on 127.0.0.1 (released again before returning)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
