"""lambdalab's HTTP edge: AWS's wire protocols on one port, so boto3, the AWS CLI and any
SDK work against a :class:`~lambdalab.Lab` by setting ``AWS_ENDPOINT_URL``.

Split the way moto splits a service: :mod:`~lambdalab.server.app` dispatches a request
to a service, :mod:`~lambdalab.server.lambda_service` serves Lambda's REST API through
the protocol layer (:mod:`lambdalab.protocol`: routing, reading, checking and writing
from botocore's model), :mod:`~lambdalab.server.lambda_operations` and
:mod:`~lambdalab.server.layer_operations` are its operations over the Lab (plain data in
and out), :mod:`~lambdalab.server.auth` checks signatures when asked to, and
:mod:`~lambdalab.server.runner` runs it all with uvicorn.
"""

from .app import HEALTH_PATH, Edge, HttpService, create_app
from .auth import SigV4Verifier
from .runner import DEFAULT_HOST, DEFAULT_PORT, EdgeServer, is_loopback

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
]
