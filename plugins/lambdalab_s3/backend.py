"""The S3 service of one Lab, as Python: ``S3.of(lab).put_object(...)``.

Every door (the edge's REST API, ``lambdalab s3 …``, Python) calls these methods, so a
write from any of them sends the same notifications. Names and parameters follow boto3's
S3 client in snake_case.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Mapping

from lambdalab import Lab
from lambdalab.plugin import (
    FunctionTrigger,
    StashKey,
    aws_regions,
    function_changed,
    function_named,
    home_data_dir,
    lab_of_region,
)

from . import quotas
from .directory import BucketDirectory
from .exceptions import (
    BUCKET_REGION_FIELD,
    IllegalLocationConstraintException,
    InvalidArgument,
    InvalidLocationConstraint,
    MalformedXML,
    NoSuchBucketPolicy,
    PermanentRedirect,
    S3Error,
    no_such_bucket,
)
from .models import Bucket, ObjectPage, S3Object, S3Store, check_bucket_name
from .policy import check_policy, is_public, parsed
from .notifications import EVENTBRIDGE, check_destinations, notify, parse_configuration


@dataclass(frozen=True)
class DeleteResult:
    """DeleteObjects' answer: keys deleted, and (key, S3Error) for those that failed."""

    deleted: list[str]
    errors: list[tuple[str, S3Error]]


class S3:
    """Buckets and objects of ``lab``'s data dir, with notifications to its functions.

    Use :meth:`S3.of` to share one instance per Lab (the edge and the CLI do): it lives
    in the lab's stash, so it dies with the lab, and the lab closes it.
    """

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.region = lab.arns.region
        self.directory = BucketDirectory(home_data_dir(lab.store.data_dir))
        self.store = S3Store(lab.store.data_dir, self.region, self.directory.region_of)
        self.directory.adopt(self.region, self.store.list_buckets())

    @classmethod
    def of(cls, lab: Lab) -> "S3":
        """The S3 of ``lab``, created on first use."""
        return lab.stash.setdefault(S3_KEY, lambda: cls(lab))

    def close(self) -> None:
        """Close the bucket databases (the lab does, when it closes)."""
        self.store.close()
        self.directory.close()

    def _now(self) -> float:
        return self.lab.clock.now()

    # -- buckets ----------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> Bucket:
        """A bucket in this lab's region; its name is the account's, in every region.

        :raises BucketAlreadyOwnedByYou: a region holds the name already.
        """
        check_bucket_name(bucket)
        now = self._now()
        claimed = self.directory.claim(bucket, self.region, now)
        try:
            return self.store.create_bucket(bucket, now)
        except BaseException:
            if claimed:
                self.directory.release(bucket, self.region)
            raise

    def create_bucket_at(self, bucket: str, location_constraint: str | None) -> Bucket:
        """CreateBucket as sent to this region's endpoint, with its LocationConstraint
        (:func:`constrained_region`); us-east-1's creates it in the region named."""
        region = constrained_region(location_constraint, self.region)
        if region == self.region:
            return self.create_bucket(bucket)
        holder = lab_of_region(self.lab, region)
        if holder is None:  # a lab opened alone reaches no other region
            raise IllegalLocationConstraintException(
                f"{_incompatible(location_constraint)} (this lab serves {self.region} only.)")
        return S3.of(holder).create_bucket(bucket)

    def list_buckets(self) -> list[Bucket]:
        """Every bucket of the account, whichever region holds it, as ListBuckets
        answers (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html)."""
        found = {b.name: b for b in self.directory.buckets()}
        found.update((b.name, b) for b in self.store.list_buckets())
        return [found[name] for name in sorted(found)]

    def head_bucket(self, bucket: str) -> Bucket:
        return self.store.get_bucket(bucket)

    def bucket_region(self, bucket: str) -> str:
        """The region holding ``bucket``: GetBucketLocation answers it whichever region
        it is sent to."""
        try:
            return self.store.get_bucket(bucket).region
        except PermanentRedirect as e:
            return str(e.fields[BUCKET_REGION_FIELD])

    def delete_bucket(self, bucket: str) -> None:
        notified = self.store.get_bucket(bucket).notification.get("LambdaFunctionConfigurations") or []
        self.store.delete_bucket(bucket)
        self.directory.release(bucket, self.region)
        for config in notified:
            function_changed(self.lab, str(config.get("LambdaFunctionArn", "")))

    # -- objects ----------------------------------------------------------------------

    def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str = "binary/octet-stream",
        metadata: Mapping[str, str] | None = None,
        trace_header: str | None = None,
    ) -> S3Object:
        """Store an object, then invoke the functions its bucket notifies (ObjectCreated:Put).
        ``trace_header``: the writer's X-Ray header, which their invokes continue."""
        obj = self.store.put_object(
            bucket, key, body, self._now(), content_type=content_type, metadata=dict(metadata or {})
        )
        self._notify(obj, "ObjectCreated:Put", trace_header)
        return obj

    def get_object(self, bucket: str, key: str) -> S3Object:
        return self.store.get_object(bucket, key)

    def head_object(self, bucket: str, key: str) -> S3Object:
        return self.store.get_object(bucket, key)

    def copy_object(
        self,
        bucket: str,
        key: str,
        source_bucket: str,
        source_key: str,
        *,
        metadata_directive: str = "COPY",
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        trace_header: str | None = None,
    ) -> S3Object:
        """Copy an object (ObjectCreated:Copy); REPLACE takes new metadata, COPY keeps it."""
        if metadata_directive not in ("COPY", "REPLACE"):
            raise InvalidArgument(
                f"Unknown metadata directive {metadata_directive!r}: use COPY or REPLACE.",
                ArgumentName="x-amz-metadata-directive", ArgumentValue=metadata_directive,
            )
        source = self._copy_source(source_bucket, source_key)
        replace = metadata_directive == "REPLACE"
        if (source_bucket, source_key) == (bucket, key) and not replace:
            raise InvalidArgument(
                "This copy request is illegal because it is trying to copy an object to "
                "itself without changing the object's metadata, storage class, website "
                "redirect location or encryption attributes. Use MetadataDirective=REPLACE.",
                ArgumentName="x-amz-metadata-directive", ArgumentValue=metadata_directive,
            )
        obj = self.store.put_object(
            bucket, key, source.read(), self._now(),
            content_type=(content_type or source.content_type) if replace else source.content_type,
            metadata=dict(metadata or {}) if replace else source.metadata,
        )
        self._notify(obj, "ObjectCreated:Copy", trace_header)
        return obj

    def _copy_source(self, bucket: str, key: str) -> S3Object:
        """A CopyObject's source, in whichever region holds its bucket (S3 copies across
        regions: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html)."""
        try:
            return self.store.get_object(bucket, key)
        except PermanentRedirect as e:
            holder = lab_of_region(self.lab, str(e.fields[BUCKET_REGION_FIELD]))
            if holder is None:
                raise no_such_bucket(bucket) from None
            return S3.of(holder).store.get_object(bucket, key)

    def delete_object(self, bucket: str, key: str, trace_header: str | None = None) -> None:
        """Remove an object (ObjectRemoved:Delete when there was one); no error if absent."""
        try:
            obj = self.store.get_object(bucket, key)
        except S3Error as e:
            if e.code != "NoSuchKey":
                raise
            return
        if self.store.delete_object(bucket, key):
            self._notify(obj, "ObjectRemoved:Delete", trace_header)

    def delete_objects(
        self, bucket: str, keys: list[str], trace_header: str | None = None
    ) -> DeleteResult:
        """Remove up to 1,000 keys; as on S3, a missing key counts as deleted."""
        if not keys or len(keys) > quotas.S3_DELETE_OBJECTS_MAX_KEYS:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our "
                f"published schema: DeleteObjects takes 1 to "
                f"{quotas.S3_DELETE_OBJECTS_MAX_KEYS} keys, got {len(keys)}."
            )
        self.store.get_bucket(bucket)
        deleted, errors = [], []
        for key in keys:
            try:
                self.delete_object(bucket, key, trace_header)
                deleted.append(key)
            except S3Error as e:
                errors.append((key, e))
        return DeleteResult(deleted, errors)

    def list_objects_v2(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        max_keys: int = quotas.S3_LIST_MAX_KEYS,
        start_after: str = "",
        continuation_token: str | None = None,
    ) -> ObjectPage:
        """One page of keys; pass the page's ``next_token`` as ``continuation_token``."""
        if max_keys < 0:
            raise InvalidArgument(
                "max-keys must be zero or a positive integer (at most 1000 are returned).",
                ArgumentName="max-keys", ArgumentValue=str(max_keys),
            )
        after = start_after if continuation_token is None else _decode_token(continuation_token)
        return self.store.list_objects(
            bucket, prefix=prefix, delimiter=delimiter,
            max_keys=min(max_keys, quotas.S3_LIST_MAX_KEYS), after=after,
        )

    # -- bucket policies (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html)

    def put_bucket_policy(self, bucket: str, policy: str) -> None:
        """Make ``policy`` (JSON text) the bucket's policy, once S3 would accept it
        (:func:`~lambdalab_s3.policy.check_policy`); it replaces any before it."""
        self.store.get_bucket(bucket)
        check_policy(self.lab, bucket, policy)
        self.store.set_policy(bucket, policy)

    def get_bucket_policy(self, bucket: str) -> str:
        """The bucket's policy, as it was put.

        :raises NoSuchBucketPolicy: it has none."""
        self.store.get_bucket(bucket)
        policy = self.store.policy(bucket)
        if policy is None:
            raise NoSuchBucketPolicy("The bucket policy does not exist", BucketName=bucket)
        return policy

    def delete_bucket_policy(self, bucket: str) -> None:
        """Remove the bucket's policy; no error when it has none (S3 answers 204)."""
        self.store.set_policy(bucket, None)

    def get_bucket_policy_status(self, bucket: str) -> bool:
        """Whether the bucket's policy makes it public (``IsPublic``)."""
        document = parsed(self.get_bucket_policy(bucket))
        return document is not None and is_public(document)

    # -- notifications ----------------------------------------------------------------

    def put_bucket_notification_configuration(
        self, bucket: str, configuration: Mapping[str, Any]
    ) -> None:
        """Replace the bucket's notification configuration, after checking every function."""
        target = self.store.get_bucket(bucket)
        configs = parse_configuration(configuration)
        check_destinations(self.lab, target, configs)
        stored: dict[str, Any] = {"LambdaFunctionConfigurations": [c.to_aws() for c in configs]} if configs else {}
        if configuration.get(EVENTBRIDGE) is not None:
            stored[EVENTBRIDGE] = {}
        before = target.notification.get("LambdaFunctionConfigurations") or []
        self.store.set_notification(bucket, stored)
        for arn in {str(c.get("LambdaFunctionArn", "")) for c in before} | {c.function_arn for c in configs}:
            function_changed(self.lab, arn)  # its triggers changed (the console lists them)

    def function_triggers(self, function_name: str) -> list[FunctionTrigger]:
        """This region's bucket notifications that invoke ``function_name``
        (``lambdalab_function_triggers``)."""
        return [
            FunctionTrigger("s3", bucket.name, ", ".join(config.get("Events") or ()) + _key_filter(config))
            for bucket in self.store.list_buckets()
            for config in bucket.notification.get("LambdaFunctionConfigurations") or ()
            if function_named(self.lab, str(config.get("LambdaFunctionArn", ""))) == function_name
        ]

    def get_bucket_notification_configuration(self, bucket: str) -> dict[str, Any]:
        return dict(self.store.get_bucket(bucket).notification)

    def _notify(self, obj: S3Object, event_name: str, trace_header: str | None) -> None:
        notify(self.lab, self.store.get_bucket(obj.bucket), obj, event_name, self._now(),
               trace_header)


def constrained_region(constraint: str | None, region: str) -> str:
    """The region a CreateBucket sent to ``region``'s endpoint creates its bucket in
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html): ``region``
    itself, named by the LocationConstraint (none for us-east-1); us-east-1's endpoint
    creates it in any region the constraint names.

    :raises InvalidLocationConstraint: the constraint is ``us-east-1`` or names no region.
    :raises IllegalLocationConstraintException: none outside us-east-1, or one naming
        another region.
    """
    if not constraint:
        if region != quotas.S3_LEGACY_REGION:
            raise IllegalLocationConstraintException(_incompatible(None))
        return region
    named = quotas.S3_LEGACY_EU[1] if constraint == quotas.S3_LEGACY_EU[0] else constraint
    if constraint == quotas.S3_LEGACY_REGION or named not in aws_regions() | {region}:
        raise InvalidLocationConstraint("The specified location-constraint is not valid",
                                        LocationConstraint=constraint)
    if named != region and region != quotas.S3_LEGACY_REGION:
        raise IllegalLocationConstraintException(_incompatible(constraint))
    return named


def _incompatible(constraint: str | None) -> str:
    return (f"The {constraint or 'unspecified'} location constraint is incompatible for the "
            "region specific endpoint this request was sent to.")


#: What every ContinuationToken starts with once decoded, so that a token lambdalab did
#: not give out is refused instead of read as a key to start after.
_TOKEN_MARK = "lambdalab-list-v1:"


def encode_token(after: str) -> str:
    """A ContinuationToken: opaque to clients, the last key (or prefix) of the page."""
    return base64.urlsafe_b64encode((_TOKEN_MARK + after).encode("utf-8", "surrogatepass")).decode()


def _decode_token(token: str) -> str:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode("utf-8", "surrogatepass")
        if not text.startswith(_TOKEN_MARK):
            raise ValueError("not a token lambdalab gave out")
        return text[len(_TOKEN_MARK):]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument(
            "The continuation token provided is incorrect. Pass NextContinuationToken "
            "from the previous page unchanged.",
            ArgumentName="continuation-token", ArgumentValue=token,
        ) from None


__all__ = ["DeleteResult", "S3", "constrained_region", "encode_token"]


#: Where a lab keeps its :class:`S3` (``lab.stash``).
S3_KEY = StashKey[S3]()


def _key_filter(config: Mapping[str, Any]) -> str:
    """`` (prefix uploads/, suffix .jpg)``, or nothing without key filter rules."""
    rules = ((config.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
    shown = [f"{rule.get('Name', '').lower()} {rule.get('Value', '')}" for rule in rules]
    return f" ({', '.join(shown)})" if shown else ""
