"""SQS's wire layer, both protocols: parse a request, call :class:`.models.Queues`, answer.

- **JSON** (what current boto3 and the AWS CLI v2 speak): ``POST /`` with
  ``X-Amz-Target: AmazonSQS.SendMessage`` and a JSON body in botocore's
  ``sqs/2012-11-05`` shapes; answers are JSON in the same shapes.
- **Query** (older SDKs, raw HTTP): ``POST /`` (or ``GET``) with a form body
  ``Action=SendMessage&QueueUrl=…&MessageBody=…``, lists and maps flattened as
  ``Attribute.1.Name``/``Attribute.1.Value``; answers are XML documents
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-making-api-requests-xml.html).

Both protocols parse into the JSON shape and call the same operation method, so an
operation is written once. No method writes an error body: they raise an
:mod:`.exceptions` class, which renders itself for the protocol in use.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import anyio.to_thread
from starlette.datastructures import Headers

from lambdalab.plugin import (
    BodyError,
    LambdaError,
    Violation,
    WireResponse,
    json_object,
    new_request_id,
    read_body,
    send,
    show,
    typed_query_params,
    validate,
    xml_text,
)

from . import quotas
from .exceptions import (
    XMLNS,
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidParameterValue,
    MissingParameter,
    SqsError,
    TooManyEntriesInBatchRequest,
    UnsupportedOperation,
)
from .models import Queues, name_from_url

log = logging.getLogger("lambdalab.sqs")
TARGET_PREFIX = "AmazonSQS."
#: A request body: ten 256 KiB messages in a batch, plus base64 and JSON overhead.
REQUEST_MAX_BYTES = 4 * quotas.SQS_MESSAGE_MAX_BYTES
_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")

#: Query-protocol member names of flattened lists and maps, and their JSON names.
QUERY_LISTS = {
    "AttributeName": "AttributeNames",
    "MessageAttributeName": "MessageAttributeNames",
    "MessageSystemAttributeName": "MessageSystemAttributeNames",
    "SendMessageBatchRequestEntry": "Entries",
    "DeleteMessageBatchRequestEntry": "Entries",
    "ChangeMessageVisibilityBatchRequestEntry": "Entries",
}
QUERY_MAPS = {
    "Attribute": ("Attributes", "Name", "Value"),
    "MessageAttribute": ("MessageAttributes", "Name", "Value"),
    "Tag": ("tags", "Key", "Value"),
}
#: XML element names of list members in answers, by JSON name (and operation).
XML_LIST_MEMBERS = {
    "QueueUrls": "QueueUrl",
    "Messages": "Message",
    "Failed": "BatchResultErrorEntry",
    "SendMessageBatch.Successful": "SendMessageBatchResultEntry",
    "DeleteMessageBatch.Successful": "DeleteMessageBatchResultEntry",
    "ChangeMessageVisibilityBatch.Successful": "ChangeMessageVisibilityBatchResultEntry",
}
XML_MAPS = {"Attributes": "Attribute", "MessageAttributes": "MessageAttribute"}


def required(params: Mapping[str, Any], name: str) -> Any:
    if params.get(name) in (None, ""):
        raise MissingParameter(f"The request must contain the parameter {name}.")
    return params[name]


def check_params(operation: str, params: dict[str, Any]) -> None:
    """Check ``params`` against the operation's input shape in botocore's ``sqs`` model:
    a missing member is MissingParameter, any other violation InvalidParameterValue, in
    the words of SQS's API reference (``The request must contain the parameter
    QueueUrl.``, ``Value … for parameter … is invalid. Reason: …``)."""
    violations = validate("sqs", operation, params)
    missing = [v for v in violations if v.kind == "null"]
    if missing:
        raise MissingParameter(f"The request must contain the parameter {missing[0].parameter}.")
    if violations:
        raise InvalidParameterValue("; ".join(_invalid(v) for v in violations))


def _invalid(violation: Violation) -> str:
    return (
        f"Value {show(violation.value)} for parameter {violation.parameter} is invalid. "
        f"Reason: {violation.constraint}."
    )


def _list_window(p: Mapping[str, Any]) -> tuple[int, int]:
    """ListQueues' start (from NextToken) and page size (MaxResults, 1 to 1000)."""
    token = p.get("NextToken") or "0"
    if not isinstance(token, str) or not token.isdigit():
        raise InvalidParameterValue(
            f"Invalid NextToken value {show(token)}. Pass the NextToken the previous "
            "ListQueues returned, or leave it out to start from the beginning."
        )
    size = p.get("MaxResults")
    if size is None:
        size = quotas.SQS_LIST_MAX_RESULTS
    if not 1 <= size <= quotas.SQS_LIST_MAX_RESULTS:
        raise InvalidParameterValue(
            f"Value {size} for parameter MaxResults is invalid. Reason: MaxResults must be "
            f"an integer between 1 and {quotas.SQS_LIST_MAX_RESULTS}."
        )
    return int(token), size


def batch_entries(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A batch request's entries, checked as SQS checks them."""
    entries = params.get("Entries") or []
    if not entries:
        raise EmptyBatchRequest("There should be at least one entry in the request.")
    if len(entries) > quotas.SQS_BATCH_MAX_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {quotas.SQS_BATCH_MAX_ENTRIES}. You "
            f"have sent {len(entries)}. Split the batch."
        )
    ids = [entry.get("Id") for entry in entries]
    for entry_id in ids:
        if not isinstance(entry_id, str) or not _ENTRY_ID.match(entry_id):
            raise InvalidBatchEntryId(
                f"A batch entry id {entry_id!r} can only contain alphanumeric characters, "
                "hyphens and underscores. It can be at most 80 letters long."
            )
    if len(set(ids)) != len(ids):
        raise BatchEntryIdsNotDistinct("Two or more batch entries in the request have the same Id.")
    return entries


def _failure(entry_id: str, error: SqsError) -> dict[str, Any]:
    return {"Id": entry_id, "SenderFault": error.fault == "Sender",
            "Code": error.query_code or error.code, "Message": error.message}


class SqsResponses:
    """Each method is one SQS operation: JSON-shaped parameters in, JSON shape out."""

    def __init__(self, queues: Queues) -> None:
        self.queues = queues

    def _queue(self, params: Mapping[str, Any]) -> str:
        name = name_from_url(required(params, "QueueUrl"))
        self.queues.get_queue(name)
        return name

    def create_queue(self, p: Mapping[str, Any]) -> dict[str, Any]:
        queue = self.queues.create_queue(required(p, "QueueName"), p.get("Attributes"), p.get("tags"))
        return {"QueueUrl": self.queues.url(queue.name)}

    def get_queue_url(self, p: Mapping[str, Any]) -> dict[str, Any]:
        queue = self.queues.get_queue(required(p, "QueueName"))
        return {"QueueUrl": self.queues.url(queue.name)}

    def list_queues(self, p: Mapping[str, Any]) -> dict[str, Any]:
        urls = [self.queues.url(q.name) for q in self.queues.list_queues(p.get("QueueNamePrefix", ""))]
        start, size = _list_window(p)
        out: dict[str, Any] = {"QueueUrls": urls[start:start + size]} if urls[start:] else {}
        if p.get("MaxResults") and start + size < len(urls):
            out["NextToken"] = str(start + size)
        return out

    def delete_queue(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self.queues.delete_queue(self._queue(p))
        return {}

    def get_queue_attributes(self, p: Mapping[str, Any]) -> dict[str, Any]:
        attributes = self.queues.get_attributes(self._queue(p), p.get("AttributeNames"))
        return {"Attributes": attributes} if attributes else {}

    def set_queue_attributes(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self.queues.set_attributes(self._queue(p), required(p, "Attributes"))
        return {}

    def purge_queue(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self.queues.purge(self._queue(p))
        return {}

    def send_message(self, p: Mapping[str, Any]) -> dict[str, Any]:
        sent = self.queues.send_message(
            self._queue(p), required(p, "MessageBody"), delay_seconds=p.get("DelaySeconds"),
            message_attributes=p.get("MessageAttributes"),
        )
        return sent.to_aws()

    def send_message_batch(self, p: Mapping[str, Any]) -> dict[str, Any]:
        name = self._queue(p)
        successful, failed = [], []
        for entry in batch_entries(p):
            try:
                sent = self.queues.send_message(
                    name, entry.get("MessageBody"), delay_seconds=entry.get("DelaySeconds"),
                    message_attributes=entry.get("MessageAttributes"),
                )
                successful.append({"Id": entry["Id"], **sent.to_aws()})
            except SqsError as e:
                failed.append(_failure(entry["Id"], e))
        return _batch_result(successful, failed)

    def receive_message(self, p: Mapping[str, Any]) -> dict[str, Any]:
        messages = self.queues.receive_message(
            self._queue(p),
            max_number_of_messages=p.get("MaxNumberOfMessages", 1),
            visibility_timeout=p.get("VisibilityTimeout"),
            wait_time_seconds=p.get("WaitTimeSeconds"),
        )
        names = list(p.get("AttributeNames") or []) + list(p.get("MessageSystemAttributeNames") or [])
        out = [m.to_aws(names, p.get("MessageAttributeNames")) for m in messages]
        return {"Messages": out} if out else {}

    def delete_message(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self.queues.delete_message(self._queue(p), required(p, "ReceiptHandle"))
        return {}

    def delete_message_batch(self, p: Mapping[str, Any]) -> dict[str, Any]:
        name = self._queue(p)
        successful, failed = [], []
        for entry in batch_entries(p):
            try:
                self.queues.delete_message(name, entry.get("ReceiptHandle"))
                successful.append({"Id": entry["Id"]})
            except SqsError as e:
                failed.append(_failure(entry["Id"], e))
        return _batch_result(successful, failed)

    def change_message_visibility(self, p: Mapping[str, Any]) -> dict[str, Any]:
        self.queues.change_message_visibility(
            self._queue(p), required(p, "ReceiptHandle"), required(p, "VisibilityTimeout"))
        return {}

    def change_message_visibility_batch(self, p: Mapping[str, Any]) -> dict[str, Any]:
        name = self._queue(p)
        successful, failed = [], []
        for entry in batch_entries(p):
            try:
                self.queues.change_message_visibility(
                    name, entry.get("ReceiptHandle"), entry.get("VisibilityTimeout"))
                successful.append({"Id": entry["Id"]})
            except SqsError as e:
                failed.append(_failure(entry["Id"], e))
        return _batch_result(successful, failed)


def _batch_result(successful: list[Any], failed: list[Any]) -> dict[str, Any]:
    """A batch's answer: SQS leaves ``Failed`` out when no entry failed (recorded by
    LocalStack against AWS: test_sqs.snapshot.json), and ``Successful`` in."""
    return {"Successful": successful, **({"Failed": failed} if failed else {})}


OPERATIONS = (
    "CreateQueue", "GetQueueUrl", "ListQueues", "DeleteQueue", "GetQueueAttributes",
    "SetQueueAttributes", "PurgeQueue", "SendMessage", "SendMessageBatch", "ReceiveMessage",
    "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
)


def handler_name(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


# -- the query protocol ---------------------------------------------------------------


def from_query(pairs: list[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    """``Action`` and the parameters of a query request, in the JSON protocol's shape."""
    tree: dict[str, Any] = {}
    for key, value in pairs:
        node = tree
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InvalidParameterValue(f"Parameter {key} conflicts with another parameter.")
        node[last] = value
    action = tree.pop("Action", "")
    tree.pop("Version", None)
    return action if isinstance(action, str) else "", _shape(tree)


def _indexed(node: Any) -> list[Any]:
    if not isinstance(node, dict):
        return [node]
    return [node[k] for k in sorted(node, key=lambda k: int(k) if k.isdigit() else 0)]


def _shape(tree: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if key in QUERY_LISTS:
            out[QUERY_LISTS[key]] = [
                _shape(item) if isinstance(item, dict) else item for item in _indexed(value)]
        elif key in QUERY_MAPS:
            name, key_field, value_field = QUERY_MAPS[key]
            out[name] = {
                item.get(key_field): _shape(item[value_field])
                if isinstance(item.get(value_field), dict) else item.get(value_field)
                for item in _indexed(value) if isinstance(item, dict)
            }
        elif isinstance(value, dict):
            out[key] = _shape(value)
        else:
            out[key] = value
    return out


def to_xml(operation: str, result: Mapping[str, Any], request_id: str) -> bytes:
    """An answer of the query protocol: ``<OpResponse><OpResult>…`` and the request id."""
    inner = "".join(_element(operation, k, v) for k, v in result.items())
    body = f"<{operation}Result>{inner}</{operation}Result>" if result else ""
    return (
        f'<?xml version="1.0"?><{operation}Response xmlns="{XMLNS}">{body}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    ).encode()


def _element(operation: str, name: str, value: Any) -> str:
    if isinstance(value, list):
        member = XML_LIST_MEMBERS.get(f"{operation}.{name}") or XML_LIST_MEMBERS.get(name, name)
        return "".join(_element(operation, member, item) for item in value)
    if isinstance(value, dict) and name in XML_MAPS:
        return "".join(
            f"<{XML_MAPS[name]}><Name>{escape(xml_text(str(k)))}</Name>{_element(operation, 'Value', v)}"
            f"</{XML_MAPS[name]}>"
            for k, v in value.items()
        )
    if isinstance(value, dict):
        inner = "".join(_element(operation, k, v) for k, v in value.items())
        return f"<{name}>{inner}</{name}>"
    text = ("true" if value else "false") if isinstance(value, bool) else escape(xml_text(str(value)))
    return f"<{name}>{text}</{name}>"


# -- the ASGI app ---------------------------------------------------------------------


class SqsService:
    """SQS on the edge: picks the protocol, runs the operation in a thread, answers."""

    def __init__(self, queues: Queues) -> None:
        self.responses = SqsResponses(queues)

    async def __call__(self, scope: Any, receive: Any, send_: Any) -> None:
        headers = Headers(scope=scope)
        request_id = new_request_id()
        target = headers.get("x-amz-target", "")
        query = not target
        try:
            body = await read_body(receive, headers, REQUEST_MAX_BYTES, "SQS", _TooLong)
            if query:
                pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
                pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
                operation, params = from_query(pairs)
                params = typed_query_params("sqs", operation, params) if operation in OPERATIONS else params
            else:
                operation = target.removeprefix(TARGET_PREFIX)
                params = _json_params(body)
            response = await anyio.to_thread.run_sync(
                self.answer, operation, params, query, request_id)
        except (SqsError, _TooLong) as e:
            error = e if isinstance(e, SqsError) else InvalidParameterValue(str(e))
            response = error.xml_response(request_id) if query else error.json_response()
        response.request_id = request_id
        await send(response, send_)

    def answer(self, operation: str, params: dict[str, Any], query: bool, request_id: str) -> WireResponse:
        try:
            result = self.call(operation, params)
        except SqsError as e:
            return e.xml_response(request_id) if query else e.json_response()
        if query:
            return WireResponse(200, to_xml(operation, result, request_id), {"Content-Type": "text/xml"})
        return WireResponse(
            200, json.dumps(result).encode(), {"Content-Type": "application/x-amz-json-1.0"})

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation not in OPERATIONS:
            raise UnsupportedOperation(
                f"{operation or 'The request'} is not an SQS action lambdalab serves. It "
                f"serves: {', '.join(OPERATIONS)}."
            )
        method: Callable[[dict[str, Any]], dict[str, Any]] = getattr(self.responses, handler_name(operation))
        check_params(operation, params)
        try:
            return method(params)
        except (SqsError, LambdaError):
            raise
        except Exception as e:  # a bug: answer in AWS's shape, log the traceback
            log.exception("SQS %s failed", operation)
            error = SqsError(f"lambdalab failed internally ({type(e).__name__}: {e}). This is a bug.")
            error.status_code, error.fault, error.query_code = 500, "Receiver", "InternalError"
            raise error from None


class _TooLong(LambdaError):
    status_code = 400


def _json_params(body: bytes) -> dict[str, Any]:
    try:
        return json_object(body)
    except BodyError as e:
        raise InvalidParameterValue(f"The request body is not a JSON object: {e}") from None
