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
