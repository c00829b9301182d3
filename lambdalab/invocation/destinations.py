"""Event invoke configuration, destinations and dead-letter queues of asynchronous invokes.

What happens to an ``Event`` invocation after it ran is configured per function and
qualifier (PutFunctionEventInvokeConfig and friends,
https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html):
how often to retry a function error (``MaximumRetryAttempts``), how long an event may
wait (``MaximumEventAgeInSeconds``) and where a record of the outcome goes
(``DestinationConfig``). Separately, a function version may name a dead-letter queue
(``DeadLetterConfig``) that receives the bare event once it is given up on.

The record a destination receives is AWS's invocation record
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)::

    {"version": "1.0", "timestamp": "2024-05-01T12:00:00.000Z",
     "requestContext": {"requestId": "…", "functionArn": "…:function:NAME:$LATEST",
                        "condition": "RetriesExhausted", "approximateInvokeCount": 3},
     "requestPayload": {…the event…},
     "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                         "functionError": "Unhandled"},
     "responsePayload": {"errorType": "…", "errorMessage": "…"}}

Where a record goes is pluggable: lambdalab delivers to Lambda functions itself
(:func:`lambda_sender`); queues, topics and buses come from plugins implementing
:func:`~lambdalab.hookspecs.lambdalab_destination_sender`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .. import limits
from ..arn import ArnBuilder, parse_function_ref
from ..errors import InvalidParameterValueException, ResourceNotFoundException, invalid
from ..logs import iso_timestamp
from ..models import InvokeResult

if TYPE_CHECKING:
    from ..clock import Clock
    from ..registry import Registry
    from ..store import Store

_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:(?P<service>[a-z0-9-]+):")

#: The action a destination's send is, by the destination's service.
DESTINATION_ACTIONS = {"lambda": "lambda:InvokeFunction", "sqs": "sqs:SendMessage", "sns": "sns:Publish",
                       "events": "events:PutEvents", "s3": "s3:PutObject"}
#: The first of some actions a role may not call on a resource, or ``None``
#: (:func:`lambdalab.protocol.authorize.denied_action` of the lab).
RoleDenies = Callable[[str, "tuple[str, ...]", str], "str | None"]

#: ``requestContext.condition`` values of an invocation record.
SUCCESS = "Success"
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"


@dataclass(frozen=True)
class DestinationMessage:
    """What a destination or dead-letter queue receives: a body and message attributes."""

    body: str
    #: For a dead-letter queue: ``RequestID``, ``ErrorCode`` and ``ErrorMessage``.
    attributes: Mapping[str, str]
    #: Each attribute's SQS/SNS ``DataType`` where it is not ``String`` (AWS sends a
    #: dead letter's ``ErrorCode`` as ``Number``).
    data_types: Mapping[str, str] = field(default_factory=dict)
    #: The X-Ray trace header of the invocation, which AWS passes on as the SQS system
    #: attribute ``AWSTraceHeader`` (a sender that cannot carry it ignores it).
    trace_header: str | None = None
    #: A subject, where the destination takes one (an SNS topic's ``Subject``; a
    #: CloudWatch alarm's notification has one).
    subject: str | None = None
    #: A FIFO topic's message: its ``MessageGroupId`` and ``MessageDeduplicationId``,
    #: which a FIFO queue takes (a sender that has no groups ignores them).
    group_id: str | None = None
    dedup_id: str | None = None


Sender = Callable[[DestinationMessage], None]


# -- event invoke configuration -------------------------------------------------------


@dataclass(frozen=True)
class FunctionEventInvokeConfig:
    """One function qualifier's asynchronous settings, as the Lambda API returns them."""

    function_arn: str
    last_modified: float
    maximum_retry_attempts: int | None = None
    maximum_event_age_in_seconds: int | None = None
    on_success: str | None = None
    on_failure: str | None = None

    def to_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "LastModified": self.last_modified,
            "FunctionArn": self.function_arn,
        }
        if self.maximum_retry_attempts is not None:
            out["MaximumRetryAttempts"] = self.maximum_retry_attempts
        if self.maximum_event_age_in_seconds is not None:
            out["MaximumEventAgeInSeconds"] = self.maximum_event_age_in_seconds
        out["DestinationConfig"] = {
            "OnSuccess": _destination(self.on_success),
            "OnFailure": _destination(self.on_failure),
        }
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_aws())

    @classmethod
    def from_json(cls, text: str) -> "FunctionEventInvokeConfig":
        data = json.loads(text)
        destinations = data.get("DestinationConfig", {})
        return cls(
            function_arn=data["FunctionArn"],
            last_modified=data["LastModified"],
            maximum_retry_attempts=data.get("MaximumRetryAttempts"),
            maximum_event_age_in_seconds=data.get("MaximumEventAgeInSeconds"),
            on_success=destinations.get("OnSuccess", {}).get("Destination"),
            on_failure=destinations.get("OnFailure", {}).get("Destination"),
        )

    @property
    def retries(self) -> int:
        """The retries that apply: the configured number, or AWS's default."""
        if self.maximum_retry_attempts is None:
            return limits.ASYNC_RETRY_ATTEMPTS_DEFAULT
        return self.maximum_retry_attempts

    @property
    def max_age(self) -> int:
        """The event age that applies, in seconds."""
        if self.maximum_event_age_in_seconds is None:
            return limits.ASYNC_EVENT_AGE_DEFAULT_S
        return self.maximum_event_age_in_seconds


def _destination(arn: str | None) -> dict[str, str]:
    return {"Destination": arn} if arn else {}


def check_retry_attempts(value: Any) -> int:
    low, high = limits.ASYNC_RETRY_ATTEMPTS_MIN, limits.ASYNC_RETRY_ATTEMPTS_MAX
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid("MaximumRetryAttempts", value, f"Use a whole number from {low} to {high}.")
    return value


def check_event_age(value: Any) -> int:
    low, high = limits.ASYNC_EVENT_AGE_MIN_S, limits.ASYNC_EVENT_AGE_MAX_S
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(
            "MaximumEventAgeInSeconds", value, f"Use a whole number from {low} to {high} seconds."
        )
    return value


def arn_service(arn: Any) -> str | None:
    """``sqs`` for ``arn:aws:sqs:…``; ``None`` when ``arn`` is not an ARN."""
    match = _ARN.match(arn) if isinstance(arn, str) else None
    return match["service"] if match else None


#: PutFunctionEventInvokeConfig's settings: at least one must be given.
_SETTINGS = ("maximum_retry_attempts", "maximum_event_age_in_seconds", "destination_config")


def function_missing() -> ResourceNotFoundException:
    """What the event invoke config operations answer for a function (or qualifier) that
    does not exist (LocalStack's AWS-recorded test_lambda_eventinvokeconfig_exceptions)."""
    return ResourceNotFoundException("The function doesn't exist.")


def _java_form(destinations: Mapping[str, Any]) -> str:
    """A DestinationConfig as AWS's error messages print it:
    ``DestinationConfig(onSuccess=OnSuccess(destination=arn), onFailure=null)``."""
    parts = []
    for key in ("OnSuccess", "OnFailure"):
        given = destinations.get(key)
        field = key[0].lower() + key[1:]
        if given is None:
            parts.append(f"{field}=null")
        else:
            arn = given.get("Destination") if isinstance(given, dict) else given
            parts.append(f"{field}={key}(destination={arn or 'null'})")
    return f"DestinationConfig({', '.join(parts)})"


#: Sends ``event`` to the function ``arn`` names as an asynchronous (``Event``) invoke.
InvokeEvent = Callable[[str, str], object]
#: The loaded plugins' sender for a destination ARN (not a function's); None without one.
PluginSender = Callable[[str], Sender | None]


class EventInvokeConfigs:
    """Event invoke configurations of one data dir, and the checks on what they name.

    ``invoke_event`` delivers to a function destination; ``plugin_sender`` finds the
    sender for any other service (the hook :func:`~lambdalab.hookspecs.lambdalab_destination_sender`)."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        arns: ArnBuilder,
        clock: Clock,
        invoke_event: InvokeEvent,
        plugin_sender: PluginSender,
        role_denies: RoleDenies = lambda role, actions, resource: None,
    ) -> None:
        self._role_denies = role_denies
        self._store = store
        self._registry = registry
        self._arns = arns
        self._clock = clock
        self._invoke_event = invoke_event
        self._plugin_sender = plugin_sender

    def _target(self, function_name: str, qualifier: str | None) -> tuple[str, str]:
        """The function and qualifier named; AWS's 404 when either does not exist."""
        ref = parse_function_ref(function_name, qualifier)
        try:
            self._registry.get(ref.name, ref.qualifier)  # the qualifier must exist
        except ResourceNotFoundException:
            raise function_missing() from None
        return ref.name, ref.qualifier or limits.LATEST

    def get(self, function_name: str, qualifier: str | None = None) -> FunctionEventInvokeConfig:
        ref = parse_function_ref(function_name, qualifier)
        name, qual = ref.name, ref.qualifier or limits.LATEST
        found = self.find(name, qual)  # AWS answers the same whether or not the function exists
        if found is None:
            raise self.no_config(name, qual)
        return found

    def no_config(self, name: str, qualifier: str) -> ResourceNotFoundException:
        return ResourceNotFoundException(
            f"The function {self._arns.function(name, qualifier)} doesn't have an "
            "EventInvokeConfig. Create one with put_function_event_invoke_config."
        )

    def find(self, name: str, qualifier: str | None) -> FunctionEventInvokeConfig | None:
        rows = self._store.query(
            "SELECT function, qualifier, config FROM event_invoke_configs WHERE function = ? "
            "AND qualifier = ?",
            (name, qualifier or limits.LATEST),
        )
        return self._loaded(rows[0]) if rows else None

    def _loaded(self, row: Any) -> FunctionEventInvokeConfig | None:
        """A stored config, or None if its row is damaged (reported once, then ignored)."""
        return self._store.loaded(
            "event_invoke_configs",
            {"function": row["function"], "qualifier": row["qualifier"]},
            lambda: FunctionEventInvokeConfig.from_json(row["config"]),
        )

    def put(
        self,
        function_name: str,
        qualifier: str | None,
        changes: Mapping[str, Any],
        *,
        merge: bool,
    ) -> FunctionEventInvokeConfig:
        """Replace (Put) or change (Update, ``merge=True``) one qualifier's configuration."""
        if all(changes.get(key) is None for key in _SETTINGS):
            raise InvalidParameterValueException(
                "You must specify at least one of error handling or destination setting."
            )
        name, qual = self._target(function_name, qualifier)
        current = self.find(name, qual)
        if merge and current is None:
            raise self.no_config(name, qual)
        arn = self._arns.function(name, qual)
        base = current if merge and current else FunctionEventInvokeConfig(arn, 0.0)
        config = replace(
            base, **self._checked(name, changes), last_modified=round(self._clock.now(), 3)
        )
        with self._store.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO event_invoke_configs (function, qualifier, config) "
                "VALUES (?, ?, ?)",
                (name, qual, config.to_json()),
            )
        return config

    def _checked(self, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if changes.get("maximum_retry_attempts") is not None:
            out["maximum_retry_attempts"] = check_retry_attempts(changes["maximum_retry_attempts"])
        if changes.get("maximum_event_age_in_seconds") is not None:
            out["maximum_event_age_in_seconds"] = check_event_age(
                changes["maximum_event_age_in_seconds"]
            )
        destinations = changes.get("destination_config")
        if destinations is not None:
            unknown = set(destinations) - {"OnSuccess", "OnFailure"}
            if unknown:
                raise invalid(
                    "DestinationConfig", sorted(unknown)[0], "Use OnSuccess and OnFailure."
                )
            for key, field in (("OnSuccess", "on_success"), ("OnFailure", "on_failure")):
                arn = (destinations.get(key) or {}).get("Destination")
                out[field] = self.check_destination(name, f"DestinationConfig.{key}", arn,
                                                    destinations)
                self._check_role(name, out[field])
        return out

    def _check_role(self, name: str, arn: str | None) -> None:
        """Lambda sends with the function's execution role: under IAM enforcement it must
        allow the send (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)."""
        service = arn_service(arn)
        if arn is None or service not in DESTINATION_ACTIONS:
            return
        resource = f"{arn}/*" if service == "s3" else arn
        action = self._role_denies(self._registry.get(name).role, (DESTINATION_ACTIONS[service],), resource)
        if action is not None:
            raise InvalidParameterValueException(
                f"The function's execution role does not have permissions to call {action.split(':')[1]} on {arn}")

    def check_destination(self, name: str, field: str, arn: Any,
                          destinations: Mapping[str, Any] | None = None) -> str | None:
        """The ARN if a loaded plugin can deliver there; InvalidParameterValue if not, in
        AWS's words (LocalStack's AWS-recorded test_lambda_eventinvokeconfig_exceptions)."""
        if arn in (None, ""):
            return None
        service = arn_service(arn)
        if service not in limits.DESTINATION_SERVICES:
            raise InvalidParameterValueException(
                f"The provided destination config {_java_form(destinations or {})} is invalid. "
                f"({field}.Destination: use the ARN of a Lambda function, SQS queue, SNS "
                "topic, EventBridge event bus or S3 bucket, e.g. "
                "arn:aws:lambda:us-east-1:000000000000:function:NAME.)"
            )
        if service == "lambda" and parse_function_ref(arn).name == name:
            raise InvalidParameterValueException(
                "You can't specify the function as a destination for itself. Name another "
                "function."
            )
        if service == "lambda" and not self._registry.exists(parse_function_ref(arn).name):
            raise InvalidParameterValueException(
                f"The destination ARN {arn} is invalid. (No function has that name: create "
                "it first.)"
            )
        self.sender(arn, field)
        return arn

    def check_dead_letter(self, target_arn: Any) -> str | None:
        """A ``DeadLetterConfig.TargetArn``: an SQS queue or SNS topic a plugin delivers to."""
        if target_arn in (None, ""):
            return None
        if arn_service(target_arn) not in limits.DEAD_LETTER_SERVICES:
            raise invalid(
                "DeadLetterConfig.TargetArn",
                target_arn,
                "A dead-letter queue is an SQS queue or SNS topic ARN, e.g. "
                "arn:aws:sqs:us-east-1:000000000000:my-dlq. For a Lambda function, use an "
                "OnFailure destination instead.",
            )
        self.sender(target_arn, "DeadLetterConfig.TargetArn")
        return target_arn

    def sender(self, arn: str, field: str = "Destination") -> Sender:
        """The loaded plugin's sender for ``arn``; InvalidParameterValue when there is none."""
        if arn_service(arn) == "lambda":
            return lambda_sender(self._invoke_event, arn)
        found = self._plugin_sender(arn)
        if found is None:
            raise InvalidParameterValueException(
                f"{field}: {arn!r} is not supported: no loaded plugin delivers to "
                f"{arn_service(arn)}. lambdalab delivers to Lambda functions "
                "(arn:aws:lambda:...); SQS, SNS, EventBridge and S3 destinations need the "
                "plugin that emulates that service (see `lambdalab plugins`)."
            )
        return found

    def of_function(self, function_name: str) -> list[FunctionEventInvokeConfig]:
        name = parse_function_ref(function_name).name
        if not self._registry.exists(name):
            raise function_missing()
        rows = self._store.query(
            "SELECT function, qualifier, config FROM event_invoke_configs WHERE function = ? "
            "ORDER BY qualifier",
            (name,),
        )
        return [c for c in map(self._loaded, rows) if c is not None]

    def delete(self, function_name: str, qualifier: str | None = None) -> None:
        ref = parse_function_ref(function_name, qualifier)
        name, qual = ref.name, ref.qualifier or limits.LATEST
        self.get(name, qual)
        with self._store.transaction() as db:
            db.execute(
                "DELETE FROM event_invoke_configs WHERE function = ? AND qualifier = ?",
                (name, qual),
            )


# -- invocation records ---------------------------------------------------------------


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace")


def invocation_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    payload: bytes,
    result: InvokeResult | None,
    now: float,
) -> str:
    """AWS's invocation record JSON; without a response part when the event never ran."""
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": iso_timestamp(now),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": _json_or_text(payload),
    }
    if result is not None:
        response: dict[str, Any] = {
            "statusCode": result.status_code,
            "executedVersion": result.executed_version,
        }
        if result.function_error:
            response["functionError"] = result.function_error
        record["responseContext"] = response
        record["responsePayload"] = _json_or_text(result.payload) if result.payload else None
    return json.dumps(record)


def dead_letter_message(
    request_id: str, payload: bytes, result: InvokeResult | None, reason: str
) -> DestinationMessage:
    """The event itself, with AWS's DLQ attributes: RequestID, ErrorCode, ErrorMessage.

    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html#invocation-dlq
    """
    message = reason
    if result is not None and result.function_error:
        error = _json_or_text(result.payload)
        if isinstance(error, dict):
            message = str(error.get("errorMessage", message))
    cut = message.encode()[: limits.DLQ_ERROR_MESSAGE_MAX_BYTES].decode(errors="ignore")
    return DestinationMessage(
        body=payload.decode(errors="replace"),
        attributes={
            "RequestID": request_id,
            "ErrorCode": str(result.status_code if result is not None else 429),
            "ErrorMessage": cut,
        },
        data_types={"ErrorCode": "Number"},
    )


# -- the built-in destination: another Lambda function --------------------------------


def lambda_sender(invoke_event: InvokeEvent, destination_arn: str) -> Sender:
    """Deliver to a function: the record becomes the event of an asynchronous invoke."""
    parse_function_ref(destination_arn)  # a malformed function ARN is refused here

    def send(message: DestinationMessage) -> None:
        invoke_event(destination_arn, message.body)

    return send
