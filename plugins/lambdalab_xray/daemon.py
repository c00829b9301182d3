"""The X-Ray daemon, as an SDK in a handler meets it: UDP on loopback.

Each datagram is a header line and one segment document
(https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html#xray-api-daemon)::

    {"format": "json", "version": 1}
    {"trace_id": "1-5759e988-bd862e3fe1be46a994272793", "id": "defdfd9912dc5a56", ...}

Handlers reach it at ``AWS_XRAY_DAEMON_ADDRESS`` (``127.0.0.1:<port>``): a confined
environment has a mount namespace of its own but the host's network. A datagram that is
not a valid document is dropped, as the daemon drops it; ``dropped`` counts them.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from typing import Callable

from . import quotas

from .models import BadDocument, TraceStore, checked, shifted

_log = logging.getLogger("lambdalab_xray")
_HEADER = {"format": "json", "version": 1}


class Daemon:
    """A UDP listener on ``127.0.0.1`` that keeps what it receives in ``store``.

    An SDK stamps documents with the real time; ``offset(trace_id)`` says how far the
    lab's clock was from it when the trace's invoke began, and each document is moved by
    that much as it arrives, so it lines up with Lambda's segments on a virtual clock.
    """

    def __init__(self, store: TraceStore, offset: Callable[[str], float]) -> None:
        self._store = store
        self._offset = offset
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.address: tuple[str, int] = self._socket.getsockname()
        self.received = 0
        self.dropped = 0
        self._counted = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="lambdalab-xray-daemon",
                                        daemon=True)
        self._thread.start()

    @property
    def environment(self) -> dict[str, str]:
        """The runtime variables that point an SDK here, as AWS names them."""
        host, port = self.address
        return {"AWS_XRAY_DAEMON_ADDRESS": f"{host}:{port}",
                "_AWS_XRAY_DAEMON_ADDRESS": host, "_AWS_XRAY_DAEMON_PORT": str(port)}

    def _run(self) -> None:
        while not self._closed:
            try:
                datagram = self._socket.recv(quotas.XRAY_SEGMENT_DOCUMENT_MAX_BYTES + 1024)
            except OSError:
                return
            if not self._closed:
                self.receive(datagram)

    def receive(self, datagram: bytes) -> None:
        """Keep the document of one datagram, or count it dropped."""
        header, _, body = datagram.partition(b"\n")
        try:
            if json.loads(header) != _HEADER:
                raise BadDocument(f"the header is {header[:80]!r}, not {_HEADER}")
            doc = checked(body)
        except (ValueError, RecursionError) as error:
            _log.debug("lambdalab_xray: dropped a datagram: %s", error)
            self._count(dropped=1)
            return
        self._store.put([shifted(doc, self._offset(doc["trace_id"]))])
        self._count(received=1)

    def _count(self, received: int = 0, dropped: int = 0) -> None:
        with self._counted:
            self.received += received
            self.dropped += dropped
            self._counted.notify_all()

    def wait_for(self, datagrams: int, timeout: float = 60.0) -> bool:
        """Wait until ``datagrams`` in all have been kept or dropped (UDP gives a sender
        no answer, so a test that sent them waits here); ``False`` past ``timeout``."""
        with self._counted:
            return self._counted.wait_for(
                lambda: self.received + self.dropped >= datagrams, timeout)

    def close(self) -> None:
        self._closed = True
        try:  # wake the reader blocked in recv
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
                waker.sendto(b"", self.address)
        except OSError:
            pass
        self._thread.join(timeout=5)
        self._socket.close()
