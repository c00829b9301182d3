"""TransactWriteItems' ``ClientRequestToken``: the same request made again within 10
minutes of the lab's clock answers as the first did and writes nothing; the token with
other parameters is ``IdempotentParameterMismatchException``
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-apis-idempotency).

Tokens are kept in memory: a lab reopened forgets them. Only a transaction that was
written is remembered; a cancelled one may be retried with its token.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from lambdalab.plugin import Clock

from . import quotas
from .exceptions import IdempotentParameterMismatchException

#: What a token's request is compared without: the token itself, and what only shapes
#: the answer (a repeat's consumed capacity differs from the first's on AWS too).
NOT_COMPARED = ("ClientRequestToken", "ReturnConsumedCapacity", "ReturnItemCollectionMetrics")
MISMATCH = ("DynamoDB rejected the request because you retried a request with a different payload "
            "but with an idempotent token that was already used.")


@dataclass(frozen=True)
class Remembered:
    digest: str
    answer: dict[str, Any]
    completed: float


class ClientTokens:
    """The tokens of the last :data:`~.quotas.CLIENT_TOKEN_SECONDS` of one lab's clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._seen: dict[str, Remembered] = {}
        # Held while a tokened transaction runs, so that two at once write once.
        self._lock = threading.Lock()

    def run(self, request: Mapping[str, Any], transact: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``transact()``'s answer, or the remembered one for ``request``'s token."""
        token = request.get("ClientRequestToken")
        if not token:
            return transact()
        digest = _digest(request)
        with self._lock:
            self._forget_expired()
            seen = self._seen.get(token)
            if seen is not None:
                if seen.digest != digest:
                    raise IdempotentParameterMismatchException(MISMATCH)
                return dict(seen.answer)
            answer = transact()
            self._seen[token] = Remembered(digest, {k: v for k, v in answer.items()
                                                    if k != "ConsumedCapacity"}, self.clock.now())
            return answer

    def _forget_expired(self) -> None:
        now = self.clock.now()
        for token in [t for t, r in self._seen.items() if now - r.completed >= quotas.CLIENT_TOKEN_SECONDS]:
            del self._seen[token]


def _digest(request: Mapping[str, Any]) -> str:
    compared = {k: v for k, v in request.items() if k not in NOT_COMPARED}
    return hashlib.sha256(json.dumps(compared, sort_keys=True, default=str).encode()).hexdigest()
