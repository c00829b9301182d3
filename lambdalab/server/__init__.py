"""lambdalab's HTTP edge: AWS's wire protocols on one port, so boto3, the AWS CLI and any
SDK work against a :class:`~lambdalab.Lab` by setting ``AWS_ENDPOINT_URL``.

Split the way moto splits a service: :mod:`~lambdalab.server.app` dispatches a request
to a service, :mod:`~lambdalab.server.lambda_urls` maps Lambda paths to operations,
:mod:`~lambdalab.server.lambda_responses` parses them and calls the Lab,
:mod:`~lambdalab.server.wire` renders every error, :mod:`~lambdalab.server.auth` checks
signatures when asked to, and :mod:`~lambdalab.server.runner` runs it all with uvicorn.
"""

from .app import HEALTH_PATH, Edge, HttpService, create_app
from .auth import SigV4Verifier
from .runner import DEFAULT_HOST, DEFAULT_PORT, EdgeServer, is_loopback
from .wire import WireRequest, WireResponse, error_response

__all__ = [
    # app
    "Edge",
    "HttpService",
    "create_app",
    "HEALTH_PATH",
    # auth
    "SigV4Verifier",
    # runner
    "EdgeServer",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "is_loopback",
    # wire
    "WireRequest",
    "WireResponse",
    "error_response",
]
