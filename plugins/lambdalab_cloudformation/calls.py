"""Calls to the lab's services exactly as the edge takes them: each request is written by
botocore's serializer, answered by the service plugin's own :class:`ProtocolService`
and read back by botocore's parser, so a deploy goes through no second path (and gets
each service's own validation and errors)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from lambdalab.plugin import HttpRequest, ProtocolService

if TYPE_CHECKING:
    from lambdalab import Lab


@dataclass
class ServiceCallError(Exception):
    """A service refused a call: its error code and message."""

    service: str
    operation: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.operation}: {self.code}: {self.message}"


class ServiceCalls:
    """One lab's services by their SigV4 names (``sqs``, ``s3``, ``dynamodb``…)."""

    def __init__(self, lab: "Lab") -> None:
        self._services: dict[str, ProtocolService] = {}
        #: Every service the loaded plugins serve, called here or through their Python API.
        self._offered: set[str] = set()
        for offered in lab.plugin_manager.hook.lambdalab_http_services(lab=lab):
            for service in offered:
                self._offered.add(service.name)
                if isinstance(service.app, ProtocolService):
                    self._services[service.name] = service.app

    def has(self, service: str) -> bool:
        return service in self._offered

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        app = self._services[service]
        if service == "sqs":
            app = app.for_request({"x-amz-target": "AmazonSQS."})
        model = app.model.operation_model(operation)
        wire = create_serializer(app.protocol).serialize_to_request(params, model)
        query = wire["query_string"]
        path, _, in_path = wire["url_path"].partition("?")  # rest-xml's ?notification
        query = urlencode(query, doseq=True) if isinstance(query, dict) else str(query or "")
        request = HttpRequest(
            method=wire["method"], path=path, query="&".join(q for q in (in_path, query) if q),
            headers={k: str(v) for k, v in wire["headers"].items()},
            body=wire["body"] if isinstance(wire["body"], bytes) else str(wire["body"]).encode(),
        )
        if isinstance(wire["body"], dict):  # the query protocol's form
            request = HttpRequest(request.method, request.path, request.query,
                                  {**request.headers, "Content-Type": "application/x-www-form-urlencoded"},
                                  urlencode(wire["body"]).encode())
        response = app.handle(request, str(uuid.uuid4()))
        parsed = create_parser(app.protocol).parse(
            {"status_code": response.status, "headers": response.headers, "body": response.body},
            model.output_shape)
        if response.status >= 300:
            error = parsed.get("Error", {})
            raise ServiceCallError(service, operation, error.get("Code", str(response.status)),
                                   error.get("Message", ""))
        parsed.pop("ResponseMetadata", None)
        return parsed
