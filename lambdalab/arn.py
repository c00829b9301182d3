"""ARNs and qualifiers, in AWS's format.

A function can be named the ways the Lambda API accepts
(https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_RequestSyntax):

* function name – ``my-function`` (optionally ``my-function:v1``)
* function ARN – ``arn:aws:lambda:us-east-1:123456789012:function:my-function``
* partial ARN – ``123456789012:function:my-function``
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .errors import InvalidParameterValueException
from .limits import FUNCTION_NAME_PATTERN

_FUNCTION_REF = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):)?"
    r"(?:(?P<account>\d{12}):)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9_-]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)


@dataclass(frozen=True)
class FunctionRef:
    """A parsed function reference: its short name and the qualifier it carried, if any."""

    name: str
    qualifier: str | None = None


@functools.lru_cache(maxsize=1024)  # every invoke parses its function's name
def parse_function_ref(ref: str, qualifier: str | None = None) -> FunctionRef:
    """Split a function name, ARN or partial ARN into name and qualifier.

    A qualifier given both in the ARN and separately must agree, as AWS requires.
    """
    match = _FUNCTION_REF.match(ref or "")
    if not match or not FUNCTION_NAME_PATTERN.match(match["name"]):
        raise InvalidParameterValueException(
            f"FunctionName: {ref!r} is not a function name or ARN. Use 1-64 letters, "
            "digits, hyphens or underscores, or an ARN like "
            "arn:aws:lambda:us-east-1:000000000000:function:NAME."
        )
    in_ref = match["qualifier"]
    if in_ref and qualifier and in_ref != qualifier:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified "
            f"qualifier. (The name says {in_ref}, Qualifier says {qualifier}: give one.)"
        )
    return FunctionRef(match["name"], in_ref or qualifier)


_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")


def checked_region(region: str) -> str:
    """``region`` if it is shaped like an AWS region name (``us-west-2``)."""
    if not _REGION.match(region or ""):
        raise InvalidParameterValueException(
            f"Region: {region!r} is not a region name. Use one like us-east-1 or eu-west-2."
        )
    return region


def checked_account_id(account_id: str) -> str:
    """``account_id`` if it is 12 digits, as an AWS account id is."""
    if not _ACCOUNT_ID.match(account_id or ""):
        raise InvalidParameterValueException(
            f"AccountId: {account_id!r} is not an account id. Use 12 digits, e.g. 123456789012."
        )
    return account_id


#: A whole function ARN, maybe qualified (a version or an alias).
FUNCTION_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>[a-zA-Z0-9_$-]+))?$"
)


def taggable_function(resource: str) -> str:
    """The function name of a TagResource/UntagResource/ListTags ``Resource`` ARN.

    Tags belong to a function, not to its versions or aliases, as on AWS
    (https://docs.aws.amazon.com/lambda/latest/api/API_TagResource.html).
    """
    match = FUNCTION_ARN.match(resource or "")
    if match is None:
        raise InvalidParameterValueException(
            f"Resource: {resource!r} is not a function ARN. lambdalab tags functions; use "
            "an ARN like arn:aws:lambda:us-east-1:000000000000:function:NAME."
        )
    if match["qualifier"]:
        raise InvalidParameterValueException(
            "Tags on function aliases and versions are not supported. Please specify a "
            "function ARN."
        )
    return match["name"]


@dataclass(frozen=True)
class ArnBuilder:
    """Builds ARNs for one account and region."""

    region: str
    account_id: str

    def function(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def role(self, name: str) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{name}"
