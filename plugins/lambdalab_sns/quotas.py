"""SNS's limits and defaults, as AWS documents them
(https://docs.aws.amazon.com/general/latest/gr/sns.html): this plugin's own, apart from
Lambda's (:mod:`lambdalab.limits`)."""

#: Topic names: 1-256 letters, digits, hyphens and underscores.
TOPIC_NAME_MAX = 256
#: A message with its attributes is at most 256 KiB; so is a PublishBatch request.
MESSAGE_MAX_BYTES = 262_144
#: Subject: at most 100 characters.
SUBJECT_MAX_CHARS = 100
#: PublishBatch: at most 10 entries; entry Ids are 1-80 letters, digits, ``-`` and ``_``.
BATCH_ENTRIES_MAX = 10
BATCH_ID_MAX = 80
#: Message attributes per message (as SQS takes them, so raw delivery can carry them).
MESSAGE_ATTRIBUTES_MAX = 10
#: ListTopics, ListSubscriptions and ListSubscriptionsByTopic: 100 per page.
LIST_PAGE = 100
#: A filter policy: at most 5 attribute names (keys), 150 value combinations, 256 KiB
#: (https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html).
FILTER_POLICY_KEYS_MAX = 5
FILTER_POLICY_COMBINATIONS_MAX = 150
FILTER_POLICY_MAX_BYTES = 256 * 1024
#: Tags on one topic.
TAGS_MAX = 50
#: How SNS retries a delivery to an AWS-managed endpoint (Lambda, SQS) that failed with a
#: server-side error, phase by phase
#: (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html): 3
#: retries without delay, 2 one second apart, 10 with exponential backoff from 1 to 20
#: seconds, then 100,000 twenty seconds apart (about 23 days in all).
IMMEDIATE_RETRIES = 3
PRE_BACKOFF_RETRIES = 2
PRE_BACKOFF_DELAY_S = 1.0
BACKOFF_RETRIES = 10
BACKOFF_MIN_DELAY_S = 1.0
BACKOFF_MAX_DELAY_S = 20.0
POST_BACKOFF_RETRIES = 100_000
POST_BACKOFF_DELAY_S = 20.0
#: A dead letter's ``ErrorMessage`` attribute is cut to this many characters.
DEAD_LETTER_MESSAGE_MAX = 1024
#: FIFO topics (https://docs.aws.amazon.com/sns/latest/dg/fifo-message-dedup.html): a
#: deduplication id counts for 5 minutes; MessageGroupId and MessageDeduplicationId are
#: at most 128 characters.
FIFO_DEDUP_INTERVAL_S = 300.0
FIFO_TOKEN_MAX = 128
#: Sequence numbers as SNS writes them: 20 digits, growing per topic (lambdalab starts
#: them at this base so that they read like AWS's).
FIFO_SEQUENCE_DIGITS = 20
FIFO_SEQUENCE_BASE = 10_000_000_000_000_000_000
#: HTTP(S) endpoints: SNS's default delivery policy for them retries 3 times, 20 seconds
#: apart (``EffectiveDeliveryPolicy``'s ``defaultHealthyRetryPolicy``), and waits 15
#: seconds for an answer
#: (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html).
HTTP_RETRIES = 3
HTTP_RETRY_DELAY_S = 20.0
HTTP_TIMEOUT_S = 15.0
#: A confirmation token: this many random bytes, written in hex.
CONFIRMATION_TOKEN_BYTES = 64
#: An http(s) DeliveryPolicy: at most 100 retries, delays up to 3,600 seconds, and all
#: its retries within 3,600 seconds (a hard limit, the retries page says).
HTTP_RETRIES_MAX = 100
HTTP_DELAY_MAX_S = 3600.0
HTTP_POLICY_TIME_MAX_S = 3600.0
