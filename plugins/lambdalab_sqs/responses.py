"""SQS's operations, served by lambdalab's protocol layer in both of SQS's protocols.

- **JSON** (what current boto3 and the AWS CLI v2 speak): ``POST /`` with
  ``X-Amz-Target: AmazonSQS.SendMessage`` and a JSON body in botocore's
  ``sqs/2012-11-05`` shapes; answers are JSON in the same shapes.
- **Query** (older SDKs, raw HTTP): ``POST /`` (or ``GET``) with a form body
  ``Action=SendMessage&QueueUrl=…&MessageBody=…``, lists and maps flattened as
  ``Attribute.1.Name``/``Attribute.1.Value``; answers are XML documents
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-making-api-requests-xml.html).

:class:`~lambdalab.protocol.service.ProtocolService` reads each request and writes each
answer and error, in the protocol the request came in (a request without
``X-Amz-Target`` is a query request). botocore's ``sqs`` model is JSON only
(``awsQueryCompatible``): :func:`query_model` gives it back the query protocol's wire
names, and both models the query codes of :mod:`.exceptions`. The methods here are plain
operations: the input as a dict in, the output as a dict out, errors raised.
"""

from __future__ import annotations

import base64
import copy
import functools
import re
from typing import Any, Mapping

import botocore.loaders
from botocore.model import ServiceModel

from lambdalab.plugin import (
    TRACE_HEADER,
    ErrorCodes,
    ProtocolService,
    Violation,
    show,
    validate,
)

from . import exceptions, quotas
from .exceptions import (
    XMLNS,
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidParameterValue,
    MissingParameter,
    SqsError,
    TooManyEntriesInBatchRequest,
)
from .models import Queues, attributes_md5, name_from_url

TARGET_PREFIX = "AmazonSQS."
#: A request body: ten 256 KiB messages in a batch, plus base64 and JSON overhead.
REQUEST_MAX_BYTES = 4 * quotas.SQS_MESSAGE_MAX_BYTES
_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
#: An X-Ray trace header names its trace: ``Root=1-<8 hex>-<24 hex>``
#: (https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader).
_TRACE_ROOT = re.compile(r"(?:^|;)\s*Root=1-[0-9a-f]{8}-[0-9a-f]{24}\s*(?:;|$)")
#: What SQS answers for what the protocol layer refuses
#: (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html).
ERRORS = ErrorCodes(validation="InvalidParameterValue", serialization="InvalidParameterValue",
                    internal="InternalFailure", not_implemented="UnsupportedOperation")
QUERY_ERRORS = ErrorCodes(validation="InvalidParameterValue", serialization="MalformedQueryString",
                          unknown_operation="InvalidAction", internal="InternalFailure",
                          not_implemented="UnsupportedOperation")

#: The query protocol's name of each flattened list or map member, where it is not the
#: name of the list's member shape (``Entries`` of SendMessageBatch is
#: ``SendMessageBatchRequestEntry.N``): the SQS API reference's parameter names.
QUERY_NAMES = {
    "AWSAccountIds": "AWSAccountId",
    "Actions": "ActionName",
    "Attributes": "Attribute",
    "AttributeNames": "AttributeName",
    "MessageAttributes": "MessageAttribute",
    "MessageAttributeNames": "MessageAttributeName",
    "MessageSystemAttributes": "MessageSystemAttribute",
    "MessageSystemAttributeNames": "MessageSystemAttributeName",
    "tags": "Tag",
    "Tags": "Tag",
    "QueueUrls": "QueueUrl",
    "queueUrls": "QueueUrl",
    "Messages": "Message",
    "StringListValues": "StringListValue",
    "BinaryListValues": "BinaryListValue",
}


def _with_error_codes(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with each error shape's query code, from :mod:`.exceptions`."""
    for error in vars(exceptions).values():
        if isinstance(error, type) and issubclass(error, SqsError) and error.query_code:
            shape = raw["shapes"].get(error.__name__)
            if shape is not None:
                shape["error"] = {"code": error.query_code, "senderFault": error.fault == "Sender"}
    return raw


def _with_query_names(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with the query protocol's names of flattened lists and maps."""
    shapes = raw["shapes"]
    for structure in [s for s in shapes.values() if s["type"] == "structure"]:
        for name, member in structure.get("members", {}).items():
            target = shapes[member["shape"]]
            if target["type"] == "list" and target.get("flattened"):
                wire = QUERY_NAMES.get(name, target["member"]["shape"])
                member["locationName"] = target["member"]["locationName"] = wire
            elif target["type"] == "map" and target.get("flattened"):
                member["locationName"] = QUERY_NAMES.get(name, name)
                target["key"]["locationName"] = "Key" if name.lower() == "tags" else "Name"
                target["value"]["locationName"] = "Value"
    return raw


def _raw_model() -> dict[str, Any]:
    return copy.deepcopy(botocore.loaders.Loader().load_service_model("sqs", "service-2"))


@functools.lru_cache(maxsize=None)
def json_model() -> ServiceModel:
    """botocore's ``sqs`` model, its error shapes carrying their query codes."""
    return ServiceModel(_with_error_codes(_raw_model()), service_name="sqs")


@functools.lru_cache(maxsize=None)
def query_model() -> ServiceModel:
    """The ``sqs`` model in the query protocol SQS spoke before JSON: its wire names
    (``Attribute.1.Name``, ``<Message>``), result wrappers (``<SendMessageResult>``) and
    namespace, and the query codes."""
    raw = _with_query_names(_with_error_codes(_raw_model()))
    for name, operation in raw["operations"].items():
        if "output" in operation:
            operation["output"]["resultWrapper"] = f"{name}Result"
    raw["metadata"] = {**raw["metadata"], "protocol": "query", "protocols": ["query"],
                       "xmlNamespace": XMLNS}
    return ServiceModel(raw, service_name="sqs")


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


def trace_header(entry: Mapping[str, Any], sent: str | None) -> str | None:
    """The message's ``AWSTraceHeader``: its system attribute, else the request's
    ``X-Amzn-Trace-Id`` (``sent``); the attribute wins when both are set
    (https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sqs.html). An
    attribute that is no X-Ray header is refused; such an HTTP header is ignored."""
    attribute = (entry.get("MessageSystemAttributes") or {}).get("AWSTraceHeader")
    if attribute is None:
        return sent if sent and _TRACE_ROOT.search(sent) else None
    value = attribute.get("StringValue")
    if attribute.get("DataType") != "String" or not isinstance(value, str) \
            or not _TRACE_ROOT.search(value):
        raise InvalidParameterValue(
            "The message system attribute AWSTraceHeader must be of DataType String and "
            "hold an X-Ray trace header, e.g. "
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1."
        )
    return value


def _sent(entry: Mapping[str, Any], sent: Any) -> dict[str, Any]:
    """SendMessage's answer for ``entry``: with the MD5 of its system attributes, when it
    set any."""
    out = sent.to_aws()
    system = entry.get("MessageSystemAttributes")
    if system:
        out["MD5OfMessageSystemAttributes"] = attributes_md5(system)
    return out


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
        name, body = self._queue(p), required(p, "MessageBody")
        sent = self.queues.send_message(
            name, body, delay_seconds=p.get("DelaySeconds"),
            message_attributes=p.get("MessageAttributes"),
            trace_header=trace_header(p, p.get(TRACE_HEADER)),
            group_id=p.get("MessageGroupId"), dedup_id=p.get("MessageDeduplicationId"),
        )
        return _sent(p, sent)

    def send_message_batch(self, p: Mapping[str, Any]) -> dict[str, Any]:
        name = self._queue(p)
        successful, failed = [], []
        for entry in batch_entries(p):
            try:
                sent = self.queues.send_message(
                    name, entry.get("MessageBody"), delay_seconds=entry.get("DelaySeconds"),
                    message_attributes=entry.get("MessageAttributes"),
                    trace_header=trace_header(entry, p.get(TRACE_HEADER)),
                    group_id=entry.get("MessageGroupId"),
                    dedup_id=entry.get("MessageDeduplicationId"),
                )
                successful.append({"Id": entry["Id"], **_sent(entry, sent)})
            except SqsError as e:
                failed.append(_failure(entry["Id"], e))
        return _batch_result(successful, failed)

    def receive_message(self, p: Mapping[str, Any]) -> dict[str, Any]:
        messages = self.queues.receive_message(
            self._queue(p),
            max_number_of_messages=p.get("MaxNumberOfMessages", 1),
            visibility_timeout=p.get("VisibilityTimeout"),
            wait_time_seconds=p.get("WaitTimeSeconds"),
            attempt_id=p.get("ReceiveRequestAttemptId"),
        )
        names = list(p.get("AttributeNames") or []) + list(p.get("MessageSystemAttributeNames") or [])
        out = [_binary_as_bytes(m.to_aws(names, p.get("MessageAttributeNames"))) for m in messages]
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


def _binary_as_bytes(message: dict[str, Any]) -> dict[str, Any]:
    """A received message with each ``BinaryValue`` (kept as base64 text) as bytes,
    which the layer writes in base64 as the model's blob."""
    attributes = message.get("MessageAttributes")
    if attributes:
        message["MessageAttributes"] = {
            name: {**a, "BinaryValue": base64.b64decode(a["BinaryValue"])} if "BinaryValue" in a else a
            for name, a in attributes.items()}
    return message


def _batch_result(successful: list[Any], failed: list[Any]) -> dict[str, Any]:
    """A batch's answer: SQS leaves ``Failed`` out when no entry failed (recorded by
    LocalStack against AWS: test_sqs.snapshot.json), and ``Successful`` in."""
    return {"Successful": successful, **({"Failed": failed} if failed else {})}


class SqsProtocol(ProtocolService):
    """SQS in one protocol: refuses input in SQS's words, not the layer's."""

    takes_trace_header = True  # a sender's trace rides on its messages

    def _check(self, parsed: Any) -> None:
        check_params(parsed.operation.name, parsed.params)


class SqsService(SqsProtocol):
    """The ASGI app the edge hands SQS requests to: JSON, or query without a target."""

    def __init__(self, queues: Queues) -> None:
        operations = SqsResponses(queues)
        super().__init__(json_model(), operations, errors=ERRORS, body_max=REQUEST_MAX_BYTES)
        self.query = SqsProtocol(query_model(), operations, errors=QUERY_ERRORS,
                                 body_max=REQUEST_MAX_BYTES)

    def for_request(self, headers: Any) -> ProtocolService:
        return self if headers.get("x-amz-target") else self.query


#: The operations lambdalab's SQS serves, by their model names.
OPERATIONS = tuple(ProtocolService(json_model(), SqsResponses).served())
