"""What a plugin hands the edge to serve: an AWS service as an ASGI app (:class:`HttpService`).

Apart from :mod:`.app` so that what names the type (the hook specifications, a plugin)
need not import the edge, which imports the :class:`~lambdalab.Lab`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, MutableMapping

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: A plugin's page under ``/_lambdalab/`` (see :class:`HttpService`) finds here the access
#: keys the edge was started with (``--auth-key``: id → secret), or ``None`` when it checks
#: no signatures.
EDGE_KEYS_SCOPE_KEY = "lambdalab.edge_keys"
#: A plugin's page under ``/_lambdalab/`` finds here an :class:`asyncio.Event` the edge
#: sets when it begins to stop. The edge waits for every response in flight before it
#: stops, so a response that streams (server-sent events) ends when this is set.
EDGE_STOPPING_SCOPE_KEY = "lambdalab.edge_stopping"


@dataclass(frozen=True)
class HttpService:
    """An AWS service the edge serves: its SigV4 name and the ASGI app answering it.

    :param name: the service name in the SigV4 credential scope (``lambda``, ``s3``,
        ``sqs``…), which is how signed requests find it.
    :param app: an ASGI application. It receives the request unchanged (the body too,
        even when the edge has read it to check a signature).
    :param target_prefixes: ``X-Amz-Target`` prefixes (``AmazonSQS.``) that identify an
        unsigned request as this service's.
    :param path_prefixes: path prefixes that identify an unsigned request as this
        service's (``/2015-03-31/`` for Lambda). A prefix under ``/_lambdalab/`` claims
        pages for a browser, which cannot sign: the edge hands them to the home
        region's app unchecked, with :data:`~lambdalab.plugin.EDGE_KEYS_SCOPE_KEY` in
        the scope, and the app asks for a key itself when there are keys.
    :param host_names: host names (without port) that identify an unsigned request as
        this service's, with any subdomain of them: S3's ``s3.localhost`` takes
        ``photos.s3.localhost`` (virtual-hosted style), as AWS finds S3 by its host name.
    """

    name: str
    app: ASGIApp
    target_prefixes: tuple[str, ...] = ()
    path_prefixes: tuple[str, ...] = ()
    host_names: tuple[str, ...] = ()

    def answers_host(self, host: str) -> bool:
        """Whether ``host`` (a Host header, maybe with a port) is one of :attr:`host_names`
        or a subdomain of one."""
        name = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
        return any(name == n or name.endswith("." + n) for n in self.host_names)


@dataclass(frozen=True)
class ConsolePanel:
    """A panel a plugin adds to the web console: a titled table, read again each time the
    page refreshes its state (after every event that changes what it shows).

    :param title: the panel's heading (``Queues``).
    :param rows: returns the table's rows, each a mapping of column name to value; the
        first row's keys are the columns. Called on a worker thread; keep it quick.
    """

    title: str
    rows: Callable[[], "list[Mapping[str, str | int | float | None]]"]
