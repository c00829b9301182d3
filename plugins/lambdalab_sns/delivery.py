"""Delivering a published message to its subscriptions: durably, retried on the lab's
clock as SNS retries an AWS-managed endpoint, and dead-lettered as SNS dead-letters.

Each delivery a Publish makes is attempted while Publish runs; one that must wait for a
retry is committed (a row of ``sns_deliveries``) before Publish answers, and deleted once
the endpoint took it or SNS gave up on it. So a message Publish acknowledged reaches its
subscribers after a crash, and a reopened lab resumes what a closed one was still
retrying. (A FIFO topic's deliveries are committed before their first attempt, with the
message's sequence number: :mod:`.fifo`.)

A delivery fails with a *client-side* or a *server-side* error
(https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html):

- client-side: the endpoint is gone (the function or queue was deleted) or its policy
  does not let SNS deliver (a lab enforcing IAM): never retried;
- server-side: the endpoint cannot take it now (a function still ``Pending``, a throttle,
  a fault): retried as SNS's delivery policy for AWS-managed endpoints says
  (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html; the
  phases are in :mod:`.quotas`), on the lab's clock and without jitter, so that a
  virtual clock shows each retry.

A delivery given up on goes to the subscription's ``RedrivePolicy``
``deadLetterTargetArn`` queue, if it has one (else it is discarded, as on AWS): the body
is the message as the endpoint would have received it (for a ``lambda`` subscription,
the notification's JSON as SQS receives it), with the message attributes ``RequestID``,
``ErrorCode`` and ``ErrorMessage``.
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from lambdalab.plugin import DestinationMessage, LambdaError, ServiceError, Timer, may_invoke

from . import quotas
from .endpoints import post
from .exceptions import InvalidParameterException, NotFoundException
from .http_policy import HttpRetryPolicy
from .http_policy import policy_of as http_policy_of
from .policies import SNS_PRINCIPAL, sns_may_send

if TYPE_CHECKING:
    from lambdalab import Lab

    from .models import Subscription, Topics

log = logging.getLogger("lambdalab.sns")
#: A retry falls due when its timer fires; this much slack keeps the float arithmetic of
#: "seconds since the first attempt" from scheduling the same retry twice.
_SLACK_S = 1e-3
#: The AWS-managed endpoints, with their own delivery policy.
MANAGED = ("lambda", "sqs")


@dataclass(frozen=True)
class Delivery:
    """One message on its way to one subscription."""

    id: int
    subscription_arn: str
    message_id: str
    protocol: str
    endpoint: str
    #: What the endpoint is sent: the SNS event (``lambda``) or the message body (``sqs``).
    body: str
    #: What a dead-letter queue receives when SNS gives up.
    dead_letter_body: str
    first_attempt_at: float
    #: SQS message attributes (raw delivery), with their data types.
    attributes: dict[str, str] = field(default_factory=dict)
    data_types: dict[str, str] = field(default_factory=dict)
    trace_header: str | None = None
    #: A FIFO topic's message group and deduplication id, for a FIFO queue.
    group_id: str | None = None
    dedup_id: str | None = None


def _early_offsets() -> tuple[float, ...]:
    """Seconds after the first attempt of each pre-backoff and backoff retry."""
    offsets, at = [], 0.0
    for _ in range(quotas.PRE_BACKOFF_RETRIES):
        at += quotas.PRE_BACKOFF_DELAY_S
        offsets.append(at)
    ratio = quotas.BACKOFF_MAX_DELAY_S / quotas.BACKOFF_MIN_DELAY_S
    steps = max(quotas.BACKOFF_RETRIES - 1, 1)
    for i in range(quotas.BACKOFF_RETRIES):
        at += quotas.BACKOFF_MIN_DELAY_S * ratio ** (i / steps)
        offsets.append(at)
    return tuple(offsets)


EARLY_OFFSETS = _early_offsets()


def next_retry_offset(elapsed: float) -> float | None:
    """Seconds after the first attempt at which the next retry falls due, ``elapsed``
    seconds after it; ``None`` once the delivery policy is exhausted. A function of the
    time alone, so a reopened lab picks up the schedule where a closed one left it."""
    early = next_offset(EARLY_OFFSETS, elapsed)
    if early is not None:
        return early
    post = int((elapsed + _SLACK_S - EARLY_OFFSETS[-1]) // quotas.POST_BACKOFF_DELAY_S) + 1
    if post > quotas.POST_BACKOFF_RETRIES:
        return None
    return EARLY_OFFSETS[-1] + post * quotas.POST_BACKOFF_DELAY_S


def next_offset(offsets: tuple[float, ...], elapsed: float) -> float | None:
    """The first of ``offsets`` after ``elapsed`` seconds; ``None`` past the last."""
    i = bisect.bisect_right(offsets, elapsed + _SLACK_S)
    return offsets[i] if i < len(offsets) else None


def client_side(error: Exception) -> bool:
    """Whether SNS gives up on ``error`` at once: the endpoint is gone or refuses SNS
    (a 4xx), rather than being unable to take the message now (a throttle, a function
    not yet ``Active``, a 5xx or a fault of lambdalab's, retried)."""
    if isinstance(error, LambdaError):
        status = error.status_code
    elif isinstance(error, ServiceError):
        status = error.status
    else:
        return False
    return status < 500 and status not in (409, 429)


def error_code(error: Exception) -> str:
    code = getattr(error, "code", None)
    return code if isinstance(code, str) else type(error).__name__


class Deliveries:
    """The deliveries of one lab's SNS, and their retries."""

    def __init__(self, lab: "Lab", topics: "Topics") -> None:
        self.lab = lab
        self.topics = topics
        self._timers: dict[int, Timer] = {}
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Cancel the retries this lab scheduled (a reopened lab resumes them)."""
        with self._lock:
            self._closed = True
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()

    # -- committing and sending ---------------------------------------------------------

    @staticmethod
    def insert(db: Any, deliveries: list[Delivery]) -> list[Delivery]:
        """Store ``deliveries`` in the caller's transaction ``db``; them with their ids."""
        out = []
        for d in deliveries:
            cursor = db.execute(
                "INSERT INTO sns_deliveries (subscription, message_id, protocol, endpoint, "
                "body, dead_letter_body, attributes, data_types, trace_header, "
                "first_attempt_at, group_id, dedup_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (d.subscription_arn, d.message_id, d.protocol, d.endpoint, d.body,
                 d.dead_letter_body, json.dumps(d.attributes), json.dumps(d.data_types),
                 d.trace_header, d.first_attempt_at, d.group_id, d.dedup_id))
            out.append(_with_id(d, int(cursor.lastrowid or 0)))
        return out

    def send(self, deliveries: list[Delivery], *, first: bool = True) -> None:
        """Attempt each delivery (``first``: with SNS's immediate retries). Those done with
        (delivered or given up on) are deleted if stored; those to retry are stored if
        new (``id`` 0), in one transaction, before this returns, then scheduled on the
        lab's clock. So once Publish answers, each of its deliveries is done or stored."""
        outcomes = [(d, self._attempt(d, first)) for d in deliveries]
        done = [d.id for d, due in outcomes if d.id and due is None]
        retries = [(d, due) for d, due in outcomes if due is not None]
        new = [d for d, _ in retries if not d.id]
        if done or new:
            with self.lab.store.transaction() as db:
                db.executemany("DELETE FROM sns_deliveries WHERE id = ?", [(i,) for i in done])
                stored = iter(self.insert(db, new))
            retries = [(d if d.id else next(stored), due) for d, due in retries]
        for d, due in retries:
            self._schedule(d, due)

    def _schedule(self, delivery: Delivery, due: float) -> None:
        with self._lock:
            if not self._closed:
                self._timers[delivery.id] = self.lab.clock.call_at(due, lambda: self._retry(delivery.id))

    def resume(self) -> None:
        """Attempt every delivery a previous process left (what a reopened lab does)."""
        rows = self.lab.store.query(_SELECT + " ORDER BY id")
        self.send(self._loaded(rows), first=False)

    def pending(self) -> int:
        """Deliveries not yet done with: waiting for a retry, or left by a killed process."""
        return int(self.lab.store.query("SELECT COUNT(*) FROM sns_deliveries")[0][0])

    def _retry(self, delivery_id: int) -> None:
        with self._lock:
            if self._closed:
                return
            self._timers.pop(delivery_id, None)
        rows = self.lab.store.query(_SELECT + " WHERE id = ?", (delivery_id,))
        self.send(self._loaded(rows), first=False)

    def _loaded(self, rows: list[Any]) -> list[Delivery]:
        return self.lab.store.loaded_rows("sns_deliveries", rows, lambda row: {"id": row["id"]}, _delivery)

    # -- one attempt --------------------------------------------------------------------

    def _attempt(self, delivery: Delivery, first: bool) -> float | None:
        """When ``delivery`` is to be retried on the lab's clock; ``None`` when it is done
        with: delivered, or given up on (and dead-lettered)."""
        http = None if delivery.protocol in MANAGED else self._http_policy(delivery)
        immediate = quotas.IMMEDIATE_RETRIES if http is None else http.no_delay
        tries = 1 + (immediate if first else 0)
        error: Exception | None = None
        for _ in range(tries):
            error = self._try(delivery)
            if error is None or client_side(error):
                break
        if error is None:
            return None
        subscription = self._subscription(delivery)
        if subscription is None:  # unsubscribed meanwhile: SNS delivers no more
            return None
        due = self._next_retry(delivery, http)
        if client_side(error) or due is None:
            log.warning("SNS gave up delivering %s to %s: %s", delivery.message_id, delivery.endpoint, error)
            self._dead_letter(delivery, subscription, error)
            return None
        log.info("SNS will retry delivering %s to %s: %s", delivery.message_id, delivery.endpoint, error)
        return due

    def _try(self, delivery: Delivery) -> Exception | None:
        """Send ``delivery`` once; the error that stopped it, if any."""
        try:
            self._send(delivery)
        except (LambdaError, ServiceError) as e:
            return e
        except Exception as e:  # a fault of lambdalab's: logged, retried as a server-side error
            log.exception("SNS failed delivering %s to %s", delivery.message_id, delivery.endpoint)
            return e
        return None

    def _send(self, delivery: Delivery) -> None:
        if delivery.protocol in ("http", "https"):
            post(delivery.endpoint, delivery.body, delivery.attributes)
            return
        if delivery.protocol == "lambda":
            self._check_may_invoke(delivery)
            self.lab.invoke(delivery.endpoint, delivery.body, invocation_type="Event",
                            trace_header=delivery.trace_header)
            return
        self._check_may_send(delivery.endpoint, delivery)
        self._sender(delivery.endpoint)(DestinationMessage(
            delivery.body, delivery.attributes, delivery.data_types, trace_header=delivery.trace_header,
            group_id=delivery.group_id, dedup_id=delivery.dedup_id))

    def _check_may_send(self, queue_arn: str, delivery: Delivery) -> None:
        """In a lab enforcing IAM, the queue's policy must let SNS send for the topic."""
        if not sns_may_send(self.lab, queue_arn, _topic_of(delivery)):
            raise ServiceError("AccessDenied", f"SNS is not authorized to send to {queue_arn}: no statement of "
                               "the queue's policy allows sqs:SendMessage to sns.amazonaws.com for the topic.", 403)

    def _check_may_invoke(self, delivery: Delivery) -> None:
        """In a lab enforcing IAM, the function's policy must let SNS invoke it for the topic."""
        if self.lab.enforce_iam and not may_invoke(self.lab, SNS_PRINCIPAL, delivery.endpoint,
                                                   source_arn=_topic_of(delivery),
                                                   source_account=self.lab.arns.account_id):
            raise ServiceError("AccessDeniedException", f"SNS is not authorized to invoke {delivery.endpoint}: "
                               "no resource-based policy allows sns.amazonaws.com for the topic.", 403)

    def _sender(self, arn: str) -> Any:
        sender = self.lab.plugin_manager.hook.lambdalab_destination_sender(lab=self.lab, destination_arn=arn)
        if sender is None:
            raise ServiceError("NotFound", f"No loaded plugin delivers to {arn}.", 404)
        return sender

    def _subscription(self, delivery: Delivery) -> "Subscription | None":
        try:
            return self.topics.get_subscription(delivery.subscription_arn)
        except NotFoundException:
            return None

    def _http_policy(self, delivery: Delivery) -> HttpRetryPolicy:
        subscription = self._subscription(delivery)
        try:
            topic = self.topics.get_topic(_topic_of(delivery)).attributes.get("DeliveryPolicy")
        except NotFoundException:
            topic = None
        own = subscription.attributes.get("DeliveryPolicy") if subscription else None
        try:
            return http_policy_of(own, topic)
        except InvalidParameterException:  # stored before lambdalab checked it: SNS's default
            return HttpRetryPolicy()

    def _next_retry(self, delivery: Delivery, http: HttpRetryPolicy | None) -> float | None:
        elapsed = self.lab.clock.now() - delivery.first_attempt_at
        offset = next_retry_offset(elapsed) if http is None else next_offset(http.offsets(), elapsed)
        return None if offset is None else delivery.first_attempt_at + offset

    def _dead_letter(self, delivery: Delivery, subscription: "Subscription", error: Exception) -> None:
        target = subscription.dead_letter_target
        if target is None:
            return
        attributes = {"RequestID": str(uuid.uuid4()), "ErrorCode": error_code(error),
                      "ErrorMessage": str(error)[:quotas.DEAD_LETTER_MESSAGE_MAX] or error_code(error)}
        try:
            self._check_may_send(target, delivery)
            self._sender(target)(DestinationMessage(delivery.dead_letter_body, attributes,
                                                    trace_header=delivery.trace_header,
                                                    group_id=delivery.group_id,
                                                    dedup_id=delivery.dedup_id))
        except (LambdaError, ServiceError) as e:  # AWS counts it (NumberOfNotificationsFailedToRedriveToDlq)
            log.warning("SNS could not move %s to dead-letter queue %s: %s", delivery.message_id, target, e)


_SELECT = ("SELECT id, subscription, message_id, protocol, endpoint, body, dead_letter_body, "
           "attributes, data_types, trace_header, first_attempt_at, group_id, dedup_id "
           "FROM sns_deliveries")


def _delivery(row: Any) -> Delivery:
    return Delivery(row["id"], row["subscription"], row["message_id"], row["protocol"], row["endpoint"],
                    row["body"], row["dead_letter_body"], float(row["first_attempt_at"]),
                    json.loads(row["attributes"]), json.loads(row["data_types"]), row["trace_header"],
                    row["group_id"], row["dedup_id"])


def _topic_of(delivery: Delivery) -> str:
    return delivery.subscription_arn.rsplit(":", 1)[0]


def _with_id(delivery: Delivery, delivery_id: int) -> Delivery:
    return replace(delivery, id=delivery_id)


#: The table of deliveries not yet done with.
MIGRATION = """
CREATE TABLE sns_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription TEXT NOT NULL,
    message_id TEXT NOT NULL,
    protocol TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    body TEXT NOT NULL,
    dead_letter_body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    data_types TEXT NOT NULL,
    trace_header TEXT,
    first_attempt_at REAL NOT NULL
);
"""

__all__ = ["Delivery", "Deliveries", "next_retry_offset", "client_side", "MIGRATION"]
