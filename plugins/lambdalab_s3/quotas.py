"""S3's limits and defaults, as AWS documents them: this plugin's own, apart from
Lambda's (:mod:`lambdalab.limits`), so core knows nothing of S3."""

import re

# -- S3 (the lambdalab_s3 trigger plugin) ---------------------------------------------
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
#: General purpose bucket names: 3-63 lowercase letters, digits, dots and hyphens,
#: starting and ending with a letter or digit.
S3_BUCKET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
#: Object keys are at most 1024 bytes of UTF-8
#: (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html).
S3_KEY_MAX_BYTES = 1024
#: One PutObject uploads at most 5 GiB
#: (https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html).
S3_PUT_OBJECT_MAX_BYTES = 5 * 1024**3
#: A bucket policy is at most 20 KB
#: (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html).
S3_BUCKET_POLICY_MAX_BYTES = 20 * 1024
#: ListObjectsV2 returns at most 1,000 keys per page (MaxKeys default and ceiling).
S3_LIST_MAX_KEYS = 1000
#: DeleteObjects takes at most 1,000 keys per request.
S3_DELETE_OBJECTS_MAX_KEYS = 1000
#: The event types a notification configuration may name
#: (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html).
S3_NOTIFICATION_EVENTS = frozenset(
    {
        "s3:TestEvent",
        "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload",
        "s3:ObjectRemoved:*", "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated",
        "s3:ObjectRestore:*", "s3:ObjectRestore:Post", "s3:ObjectRestore:Completed",
        "s3:ObjectRestore:Delete", "s3:ReducedRedundancyLostObject",
        "s3:Replication:*", "s3:Replication:OperationFailedReplication",
        "s3:Replication:OperationMissedThreshold",
        "s3:Replication:OperationReplicatedAfterThreshold",
        "s3:Replication:OperationNotTracked",
        "s3:LifecycleExpiration:*", "s3:LifecycleExpiration:Delete",
        "s3:LifecycleExpiration:DeleteMarkerCreated", "s3:LifecycleTransition",
        "s3:IntelligentTiering", "s3:ObjectTagging:*", "s3:ObjectTagging:Put",
        "s3:ObjectTagging:Delete", "s3:ObjectAcl:Put",
    }
)

# -- regions (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html) ----
#: The region whose buckets need no LocationConstraint (GetBucketLocation answers it
#: empty), and whose endpoint creates a bucket in the region a LocationConstraint names.
S3_LEGACY_REGION = "us-east-1"
#: The LocationConstraint that stands for eu-west-1.
S3_LEGACY_EU = ("EU", "eu-west-1")
