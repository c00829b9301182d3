"""CloudWatch Logs' quotas that lambdalab applies, in one place
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html and
botocore's ``logs/2014-03-28/service-2.json`` for the ``limit`` ranges)."""

#: Subscription filters one log group may have.
SUBSCRIPTION_FILTERS_PER_GROUP = 2
#: DescribeLogGroups / DescribeLogStreams / DescribeSubscriptionFilters: items per page.
DESCRIBE_LIMIT_MAX = 50
#: GetLogEvents / FilterLogEvents: events per page (and the default).
EVENTS_LIMIT_MAX = 10_000
#: GetLogEvents / FilterLogEvents: bytes of messages one answer holds at most.
EVENTS_RESPONSE_MAX_BYTES = 1024 * 1024
#: FilterLogEvents: events one call reads before it answers, maybe with no events and a
#: ``nextToken`` (AWS documents that a search can end early that way).
FILTER_SCAN_MAX = 100_000
#: PutLogEvents: events per batch, and bytes per batch (each event counts 26 more).
PUT_EVENTS_MAX = 10_000
PUT_BATCH_MAX_BYTES = 1_048_576
#: PutLogEvents: how far in the past (14 days) and the future (2 hours) an event may be.
PUT_PAST_MAX_MS = 14 * 86_400_000
PUT_FUTURE_MAX_MS = 2 * 3_600_000
#: Events one subscription delivery (one asynchronous invoke) carries at most.
DELIVERY_EVENTS_MAX = 10_000
#: Bytes of messages one delivery carries at most, before gzip: well inside the 1 MB
#: of an asynchronous invoke's payload once compressed and base64-encoded.
DELIVERY_MAX_BYTES = 256 * 1024
