"""CloudFormation's errors, as its API answers them: nearly every refusal is a
``ValidationError`` (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html)."""

from __future__ import annotations

from lambdalab.plugin import AwsError


class CloudFormationError(AwsError):
    status_code = 400

    @property
    def code(self) -> str:
        return "ValidationError"


class TemplateError(CloudFormationError):
    """The template cannot be deployed as written."""


class DeployFailed(CloudFormationError):
    """A resource could not be made or changed; what was deployed before is back."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(f"Resource {logical_id} ({resource_type}) failed: {reason.rstrip('.')}. "
                         "The stack was rolled back to its previous state.")
        self.logical_id = logical_id
        self.reason = reason


class AlreadyExistsException(CloudFormationError):
    """A stack (or change set) of that name exists."""

    @property
    def code(self) -> str:
        return "AlreadyExistsException"


class ChangeSetNotFoundException(CloudFormationError):
    """No change set of that name or id (its query code: ``ChangeSetNotFound``)."""

    status_code = 404

    @property
    def code(self) -> str:
        return "ChangeSetNotFound"


class InvalidChangeSetStatusException(CloudFormationError):
    """The change set cannot be executed (or deleted) in its status."""

    @property
    def code(self) -> str:
        return "InvalidChangeSetStatus"
