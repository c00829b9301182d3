"""The wire protocols' common layer, driven by botocore's service models.

- :mod:`.validate`: check an operation's input against its shape (required members,
  types, lengths, ranges, patterns, enums) and word the violations as AWS does;
- :mod:`.inputs`: read a request (REST locations, query-protocol text, a JSON body with
  a depth guard) into the operation's input;
- :mod:`.text`: text an XML answer can carry;
- :mod:`.parsers`: an HTTP request → its operation and typed input, per protocol;
- :mod:`.serializers`: an output or an error → the bytes AWS sends, per protocol;
- :mod:`.eventstream`: an event stream answer (AWS's binary message framing);
- :mod:`.service`: an ASGI app serving one service's operations through the above.

Every service of the edge calls these at the point where it has parsed a request and
before the operation's own code runs; see ``docs/reference/validation.rst``.
"""

from .parsers import HttpRequest, ParsedRequest, ProtocolError, parser_for
from .serializers import HttpResponse, ServiceError, serializer_for
from .inputs import BodyError, json_object, rest_input, rest_params, typed_query_params
from .text import xml_text
from .validate import Violation, message, operation_model, service_model, type_errors, validate

__all__ = [
    # .parsers
    "HttpRequest",
    "ParsedRequest",
    "ProtocolError",
    "parser_for",
    # .serializers
    "HttpResponse",
    "ServiceError",
    "serializer_for",
    # .inputs
    "BodyError",
    "json_object",
    "rest_input",
    "rest_params",
    "typed_query_params",
    # .text
    "xml_text",
    # .validate
    "Violation",
    "message",
    "operation_model",
    "service_model",
    "type_errors",
    "validate",
]
