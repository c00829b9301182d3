"""IAM's and STS's errors, one class per error shape of botocore's ``iam`` and ``sts``
models (both speak the query protocol: ``<Error><Code>CODE``)::

    IamError
    ├── NoSuchEntity              404  no role, user, policy or key of that name
    ├── EntityAlreadyExists       409  the name is taken
    ├── DeleteConflict            409  it still has policies (or keys) attached
    ├── MalformedPolicyDocument   400  the document breaks the policy grammar
    ├── InvalidInput              400  a parameter's value is not valid
    ├── LimitExceeded             409  a quota is reached (two keys per user)
    ├── ValidationError           400  STS: a value out of range (DurationSeconds)
    ├── AccessDenied              403  STS: the trust policy does not allow the caller
    └── ExpiredToken              400  STS: temporary credentials past their expiry
"""

from __future__ import annotations

from lambdalab.plugin import ServiceError


class IamError(ServiceError):
    """Base class: the code (the class's name unless ``code`` says) and a message."""

    status = 400
    code = ""

    def __init__(self, message: str) -> None:
        super().__init__(self.code or type(self).__name__, message, self.status)


class NoSuchEntity(IamError):
    """The role, user, policy or access key named does not exist."""

    status = 404


class EntityAlreadyExists(IamError):
    """A role, user or policy of that name exists already."""

    status = 409


class DeleteConflict(IamError):
    """The entity cannot be deleted while something is attached to it."""

    status = 409


class MalformedPolicyDocument(IamError):
    """The policy document is not valid JSON or breaks the policy grammar."""


class InvalidInput(IamError):
    """A parameter's value is not valid (a policy ARN that names no policy form)."""


class LimitExceeded(IamError):
    """An IAM quota would be passed."""

    status = 409


class ValidationError(IamError):
    """STS: a parameter's value is out of its range."""


class AccessDenied(IamError):
    """STS: the caller may not assume the role."""

    status = 403


class ExpiredToken(IamError):
    """STS: the request was signed with temporary credentials that have expired."""

    code = "ExpiredTokenException"


__all__ = ["IamError", "NoSuchEntity", "EntityAlreadyExists", "DeleteConflict",
           "MalformedPolicyDocument", "InvalidInput", "LimitExceeded", "ValidationError",
           "AccessDenied", "ExpiredToken"]
