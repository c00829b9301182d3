"""``CreateStack``, ``UpdateStack`` and change sets on the edge, so ``aws cloudformation
deploy`` (which makes a change set, waits for it, and executes it) works against the lab
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html).

A template comes as ``TemplateBody`` and is deployed from a throwaway folder, so, as on
AWS, its code must be inline (``ZipFile``) or in S3 (the lab's): a local ``CodeUri`` is
``lambdalab deploy``'s. Change sets are kept in memory by the process serving the edge.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .deploy import REVIEW, Deployer
from .exceptions import (AlreadyExistsException, ChangeSetNotFoundException, CloudFormationError,
                         DeployFailed, InvalidChangeSetStatusException, TemplateError)
from .models import Stack, Stacks

#: What a change set without changes says (and ``aws cloudformation deploy`` reads).
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."


@dataclass
class ChangeSet:
    """One change set: ``DescribeChangeSet``'s answer."""

    change_set_id: str
    name: str
    stack: str
    stack_id: str
    body: str
    parameters: dict[str, str]
    created_at: float
    changes: list[dict[str, Any]] = field(default_factory=list)
    status: str = "CREATE_COMPLETE"
    reason: str = ""
    execution: str = "AVAILABLE"
    description: str = ""

    def to_aws(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ChangeSetName": self.name, "ChangeSetId": self.change_set_id, "StackId": self.stack_id,
            "StackName": self.stack, "CreationTime": self.created_at, "ExecutionStatus": self.execution,
            "Status": self.status, "Changes": self.changes,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        }
        if self.reason:
            out["StatusReason"] = self.reason
        if self.description:
            out["Description"] = self.description
        return out


@contextlib.contextmanager
def template_file(body: str | None) -> Iterator[Path]:
    """``TemplateBody`` as a file in a folder of its own (removed afterwards)."""
    if not body:
        raise TemplateError("Either TemplateBody or TemplateURL must be specified (lambdalab reads TemplateBody)")
    with tempfile.TemporaryDirectory(prefix="lambdalab-template-") as folder:
        path = Path(folder) / "template"
        path.write_text(body)
        yield path


class ChangeSets:
    """The stack operations that carry a template, over one lab's deployer."""

    def __init__(self, stacks: Stacks, deployer: Deployer) -> None:
        self.stacks = stacks
        self.deployer = deployer
        self._sets: dict[str, ChangeSet] = {}
        self._lock = threading.Lock()

    def parameters(self, stack: str, given: list[dict[str, Any]] | None) -> dict[str, str]:
        """``Parameters`` as overrides; ``UsePreviousValue`` takes the stack's."""
        previous = self.stacks.get(stack)
        values = {}
        for p in given or []:
            if p.get("UsePreviousValue"):
                old = previous.parameters.get(p["ParameterKey"]) if previous else None
                values[p["ParameterKey"]] = ",".join(old) if isinstance(old, list) else str(old or "")
            else:
                values[p["ParameterKey"]] = str(p.get("ParameterValue", ""))
        return values

    def create_stack(self, name: str, body: str | None, parameters: dict[str, str]) -> str:
        existing = self.stacks.get(name)
        if existing is not None and existing.status != REVIEW:
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        return self._run(name, body, parameters)

    def update_stack(self, name: str, body: str | None, parameters: dict[str, str]) -> str:
        existing = self.stacks.get(name)
        if existing is None or existing.status == REVIEW:
            raise CloudFormationError(f"Stack [{name}] does not exist")
        with template_file(body) as path:
            if not self.deployer.changes(name, path, parameters):
                raise CloudFormationError("No updates are to be performed.")
        return self._run(name, body, parameters)

    def _run(self, name: str, body: str | None, parameters: dict[str, str]) -> str:
        """Deploy; a resource that fails is the stack's status (as AWS's asynchronous
        create or update ends), a template that cannot be deployed is the caller's error."""
        with template_file(body) as path:
            try:
                return self.deployer.deploy(name, path, parameters).stack.stack_id
            except DeployFailed:
                stack = self.stacks.get(name)
                assert stack is not None
                return stack.stack_id

    def create(self, stack_name: str, name: str, body: str | None, parameters: dict[str, str], kind: str,
               description: str, now: float) -> ChangeSet:
        existing = self.stacks.get(stack_name)
        if kind == "CREATE" and existing is not None and existing.status not in (REVIEW, "ROLLBACK_COMPLETE"):
            raise AlreadyExistsException(f"Stack [{stack_name}] already exists and cannot be created again with "
                                         "a CREATE change set: use ChangeSetType UPDATE")
        if kind != "CREATE" and (existing is None or existing.status == REVIEW):
            raise CloudFormationError(f"Stack [{stack_name}] does not exist")
        with template_file(body) as path:
            changes = self.deployer.changes(stack_name, path, parameters)
        if existing is None:  # a CREATE change set's stack waits in review, as on AWS
            existing = Stack(stack_name, self.stacks.new_stack_id(stack_name), {}, {}, {}, REVIEW,
                             created_at=now, updated_at=now)
            self.stacks.save(existing)
        arn = existing.stack_id.replace(":stack/", ":changeSet/").rsplit("/", 2)[0]
        change_set = ChangeSet(f"{arn}/{name}/{uuid.uuid4()}", name, stack_name, existing.stack_id, body or "",
                               parameters, now, changes, description=description)
        if not changes:
            change_set.status, change_set.reason, change_set.execution = "FAILED", NO_CHANGES, "UNAVAILABLE"
        with self._lock:
            if any(c.stack == stack_name and c.name == name for c in self._sets.values()):
                raise AlreadyExistsException(f"ChangeSet {name} already exists")
            self._sets[change_set.change_set_id] = change_set
        return change_set

    def get(self, name_or_id: str, stack_name: str | None) -> ChangeSet:
        with self._lock:
            found = self._sets.get(name_or_id) or next(
                (c for c in self._sets.values()
                 if c.name == name_or_id and stack_name in (c.stack, c.stack_id)), None)
        if found is None:
            raise ChangeSetNotFoundException(f"ChangeSet [{name_or_id}] does not exist")
        return found

    def execute(self, name_or_id: str, stack_name: str | None) -> None:
        change_set = self.get(name_or_id, stack_name)
        if change_set.execution != "AVAILABLE":
            raise InvalidChangeSetStatusException(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of "
                f"[{change_set.status}]")
        change_set.execution = "EXECUTE_IN_PROGRESS"
        self._run(change_set.stack, change_set.body, change_set.parameters)
        stack = self.stacks.get(change_set.stack)
        change_set.execution = "EXECUTE_FAILED" if stack is None or "ROLLBACK" in stack.status else "EXECUTE_COMPLETE"
        # Executing a change set removes every change set of the stack, itself included, as
        # AWS does ("they aren't applicable to the updated stack":
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets-execute.html);
        # the AWS CLI's `deploy` names its change sets by the second, so a kept one clashes.
        with self._lock:
            for other in [c for c in self._sets.values() if c.stack == change_set.stack]:
                del self._sets[other.change_set_id]

    def delete(self, name_or_id: str, stack_name: str | None) -> None:
        change_set = self.get(name_or_id, stack_name)
        if change_set.execution == "EXECUTE_IN_PROGRESS":
            raise InvalidChangeSetStatusException("A change set being executed cannot be deleted")
        with self._lock:
            self._sets.pop(change_set.change_set_id, None)

    def of_stack(self, stack_name: str) -> list[ChangeSet]:
        with self._lock:
            return [c for c in self._sets.values() if stack_name in (c.stack, c.stack_id)]
