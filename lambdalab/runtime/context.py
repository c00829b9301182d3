"""The context object handed to a Python handler, as AWS's Python runtime builds it.

Field for field this follows ``awslambdaric.lambda_context.LambdaContext``
(https://docs.aws.amazon.com/lambda/latest/dg/python-context.html). Note that, as on AWS,
``memory_limit_in_mb`` is a *string*: the runtime reads it from an environment variable.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Mapping


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        if not data:  # nearly every invoke: no identity
            self.cognito_identity_id = self.cognito_identity_pool_id = None
            return
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    __slots__ = (
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    )

    def __init__(self, data: dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, data.get(name))

    def __repr__(self) -> str:
        fields = ",".join(f"{n}={getattr(self, n)}" for n in self.__slots__)
        return f"Client([{fields}])"


class ClientContext:
    __slots__ = ("custom", "env", "client")

    def __init__(self, data: dict[str, Any]) -> None:
        self.custom = data.get("custom")
        self.env = data.get("env")
        client = data.get("client")
        self.client = Client(client) if client is not None else None

    def __repr__(self) -> str:
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


_FROM_ENVIRON = {
    "log_group_name": "AWS_LAMBDA_LOG_GROUP_NAME",
    "log_stream_name": "AWS_LAMBDA_LOG_STREAM_NAME",
    "function_name": "AWS_LAMBDA_FUNCTION_NAME",
    "memory_limit_in_mb": "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "function_version": "AWS_LAMBDA_FUNCTION_VERSION",
}


def static_fields(environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The fields that are the same for every invoke of an environment (read at INIT),
    from ``environ`` (default: this process's environment)."""
    source = os.environ if environ is None else environ
    return {field: source.get(var) for field, var in _FROM_ENVIRON.items()}


class LambdaContext:
    """What the handler's second argument carries: who it is and how long it has left."""

    # Set from static_fields() in __init__, one per _FROM_ENVIRON key.
    log_group_name: str | None
    log_stream_name: str | None
    function_name: str | None
    memory_limit_in_mb: str | None
    function_version: str | None

    def __init__(
        self,
        aws_request_id: str,
        invoked_function_arn: str,
        deadline_ms: int,
        client_context: dict[str, Any] | None = None,
        cognito_identity: dict[str, Any] | None = None,
        static: dict[str, str | None] | None = None,
    ) -> None:
        self.aws_request_id = aws_request_id
        self.__dict__.update(static if static is not None else static_fields())
        self.invoked_function_arn = invoked_function_arn
        self.client_context = (
            ClientContext(client_context) if client_context is not None else None
        )
        self.identity = CognitoIdentity(cognito_identity)
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out."""
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, msg: Any) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity}])"
        )
