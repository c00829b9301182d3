"""lambdalab's API Gateway: REST APIs (payload 1.0) and HTTP APIs (payload 2.0) in front
of functions.

A built-in plugin, registered by entry point exactly as a student's would be. It adds
API Gateway's management API to the edge (SigV4 service ``apigateway``: v1's
``/restapis`` and v2's ``/v2/apis``), keeps each API in the Lab's database, and serves
every API's stages at ``/_lambdalab/apis/<api-id>/<stage>/<path>`` (SigV4 service
``execute-api``)::

    >>> from lambdalab_apigateway import api_gateway
    >>> apis = api_gateway(lab)                                            # doctest: +SKIP
    >>> api = apis.create_api("hello", target=function_arn)   # quick create  # doctest: +SKIP
    >>> # GET http://127.0.0.1:9001/_lambdalab/apis/<api["ApiId"]>/hello
"""

from __future__ import annotations

import lambdalab
from lambdalab import Lab
from lambdalab.plugin import HttpService, StashKey

from .exceptions import ApiGatewayError, BadRequestException, ConflictException, NotFoundException
from .invoke import APIS_PATH, INVOKE_SERVICE, InvokeApp
from .models import MIGRATIONS, ApiGateway
from .responses import ManagementApp

__version__ = "0.1.0"

#: Each lab's APIs, in ``lab.stash``: they die with the lab.
GATEWAY = StashKey[ApiGateway]()
#: The SigV4 service that manages APIs (``INVOKE_SERVICE``, ``execute-api``, calls them).
MANAGEMENT_SERVICE = "apigateway"


def api_gateway(lab: Lab) -> ApiGateway:
    """The REST and HTTP APIs of ``lab``: the Python API ``lambdalab deploy`` calls."""
    return lab.stash.setdefault(GATEWAY, lambda: ApiGateway(lab))


@lambdalab.hookimpl
def lambdalab_migrations() -> dict[str, str]:
    return MIGRATIONS


@lambdalab.hookimpl
def lambdalab_http_services(lab: Lab) -> list[HttpService]:
    gateway = api_gateway(lab)
    return [
        HttpService(MANAGEMENT_SERVICE, ManagementApp(gateway), path_prefixes=("/restapis", "/v2/apis", "/apikeys", "/usageplans")),
        HttpService(INVOKE_SERVICE, InvokeApp(lab, gateway), path_prefixes=(APIS_PATH,)),
    ]


__all__ = [
    "api_gateway",
    "APIS_PATH",
    # models
    "ApiGateway",
    # exceptions
    "ApiGatewayError",
    "BadRequestException",
    "ConflictException",
    "NotFoundException",
]
