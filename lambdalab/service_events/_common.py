"""The pieces many events share: ARNs, timestamps, ids, base64, record envelopes.

Every generator builds its event from these, so an ARN, a timestamp or a base64 body is
formatted one way everywhere. Values are random where AWS's are (ids, request ids), so
two generated events never collide, and realistic in form (lengths, alphabets, case).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import secrets
import string
import struct
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping

from ..arn import ArnBuilder
from ..lab import DEFAULT_ROLE_NAME
from ..limits import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "DEFAULT_ROLE_NAME",
    "arn",
    "arns",
    "b64",
    "dynamodb_json",
    "epoch_ms",
    "gzip_b64",
    "hex_id",
    "iso_ms",
    "iso_s",
    "md5_hex",
    "new_uuid",
    "now",
    "principal_id",
    "records",
    "sequence_number",
    "sqs_attributes_md5",
]

_UPPER_ALNUM = string.ascii_uppercase + string.digits


# -- identity -------------------------------------------------------------------------


def arn(service: str, resource: str, region: str = "", account_id: str = "") -> str:
    """``arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE``; S3 buckets leave region and account empty."""
    return f"arn:aws:{service}:{region}:{account_id}:{resource}"


def arns(region: str, account_id: str) -> ArnBuilder:
    """Lambda function and IAM role ARNs, built the way the rest of lambdalab builds them."""
    return ArnBuilder(region=region, account_id=account_id)


def principal_id() -> str:
    """An IAM user's unique id, as events name the caller: ``AIDA`` + 17 characters."""
    return "AIDA" + "".join(secrets.choice(_UPPER_ALNUM) for _ in range(17))


# -- ids --------------------------------------------------------------------------------


def new_uuid() -> str:
    return str(uuid.uuid4())


def hex_id(length: int, *, upper: bool = False) -> str:
    """``length`` random hex digits, e.g. an S3 request id (16, upper case)."""
    digits = secrets.token_hex((length + 1) // 2)[:length]
    return digits.upper() if upper else digits


def sequence_number(index: int = 0, digits: int = 56) -> str:
    """A stream sequence number: ``digits`` decimal digits, increasing with ``index``."""
    stem = "49" + str(int(time.time() * 1000))
    return str(int(stem.ljust(digits, "0")) + index)


# -- time -------------------------------------------------------------------------------


def now() -> float:
    """The moment an event happens: seconds since the epoch."""
    return time.time()


def _utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=timezone.utc)


def iso_ms(at: float) -> str:
    """``2019-09-03T19:37:27.192Z``: the format of S3, SNS and SES event times."""
    moment = _utc(at)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_s(at: float) -> str:
    """``2019-03-01T01:23:45Z``: EventBridge's ``time`` and Config's capture times."""
    return _utc(at).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_ms(at: float) -> int:
    """Milliseconds since the epoch, as Kafka, Firehose and CloudWatch Logs give times."""
    return int(at * 1000)


# -- encodings --------------------------------------------------------------------------


def b64(data: str | bytes) -> str:
    """Base64 of ``data`` (text is UTF-8 encoded first), as Kinesis and Firehose send it."""
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def gzip_b64(value: Any) -> str:
    """``value`` as JSON, gzip-compressed, then base64: CloudWatch Logs' ``awslogs.data``."""
    return b64(gzip.compress(json.dumps(value, separators=(",", ":")).encode()))


def md5_hex(text: str | bytes) -> str:
    """The MD5 digest as lowercase hex, as SQS's ``MD5OfMessageBody`` and S3's ETag give it."""
    raw = text.encode() if isinstance(text, str) else text
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


def sqs_attributes_md5(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """MD5OfMessageAttributes, computed the way SQS does for String attributes.

    Each attribute, sorted by name, contributes its name, data type, a transport byte
    (1 for strings) and its value, each length-prefixed (4 bytes, big-endian).
    """
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        attribute = attributes[name]
        for part in (name, attribute["dataType"]):
            encoded = part.encode()
            digest.update(struct.pack(">I", len(encoded)) + encoded)
        if "binaryValue" in attribute:  # transport type 2: the raw bytes
            value = base64.b64decode(attribute["binaryValue"])
            digest.update(b"\x02" + struct.pack(">I", len(value)) + value)
            continue
        value = attribute["stringValue"].encode()
        digest.update(b"\x01" + struct.pack(">I", len(value)) + value)
    return digest.hexdigest()


def dynamodb_json(value: Any) -> dict[str, Any]:
    """A plain value in DynamoDB's typed JSON: ``101`` → ``{"N": "101"}``."""
    if isinstance(value, bool):  # before int: True is an int too
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, (int, float)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes):
        return {"B": b64(value)}
    if isinstance(value, (list, tuple)):
        return {"L": [dynamodb_json(item) for item in value]}
    if isinstance(value, Mapping):
        return {"M": {key: dynamodb_json(item) for key, item in value.items()}}
    raise TypeError(f"{value!r} has no DynamoDB type; use str, number, bool, list or dict.")


# -- envelopes --------------------------------------------------------------------------


def records(items: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"Records": [...]}``: the envelope of S3, SNS, SQS, SES, Kinesis and DynamoDB."""
    return {"Records": items}
