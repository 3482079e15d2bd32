"""The run's one SSH connection to the VM, opened when a stage first needs the guest.

`open()` starts the handshake in a background thread (paramiko's import included), so a stage
that knows the guest will be needed can go on meanwhile; `guest()` waits for it. Both paths are
the same: `guest()` without `open()` opens and waits.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .settings import Settings

if TYPE_CHECKING:
    from .adapters.guest import Guest
    from .core.store import Machine


class GuestLink:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._port = 0
        self._thread: threading.Thread | None = None
        self._guest: Guest | None = None
        self._error: BaseException | None = None

    def open(self, port: int, machine: Machine) -> None:
        """Start connecting to 127.0.0.1:`port` unless a connection there is open or opening.

        A failed attempt is forgotten once reported: the next call tries again.
        """
        if self._thread is not None and self._port == port and self._error is None:
            return
        self.close()
        self._port, self._error = port, None
        self._guest = self._open_guest(port, machine)
        self._thread = threading.Thread(target=self._connect, name=f"ssh-{port}", daemon=True)
        self._thread.start()

    def _connect(self) -> None:
        try:
            assert self._guest is not None
            self._guest.connect()
        except BaseException as exc:  # re-raised in the main thread by guest()
            self._error = exc

    @property
    def opened(self) -> bool:
        """A connection is open or opening (a failed one is forgotten once reported)."""
        return self._thread is not None

    def guest(self, port: int = 0, machine: Machine | None = None) -> Guest:
        """The connected Guest on `port`, or on the port already opened (waiting for it)."""
        if port:
            assert machine is not None
            self.open(port, machine)
        assert self._thread is not None and self._guest is not None
        self._thread.join()
        if self._error is not None:
            error, self._thread = self._error, None
            raise error
        return self._guest

    def _open_guest(self, port: int, machine: Machine) -> Guest:
        """A Guest for `port`, not yet connected (the seam tests replace)."""
        from .adapters.guest import Guest  # paramiko is heavy: only runs that SSH pay for it

        return Guest(
            port,
            machine.ssh_user,
            machine.ssh_key,
            connect_timeout=self.settings.ssh_connect_timeout,
            command_timeout=self.settings.command_timeout,
            machine=machine.name,
        )

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._guest is not None:
            self._guest.close()
        self._thread, self._guest = None, None
