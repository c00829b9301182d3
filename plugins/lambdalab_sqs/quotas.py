"""SQS's limits and defaults, as AWS documents them: this plugin's own, apart from
Lambda's (:mod:`lambdalab.limits`), so core knows nothing of SQS or its event source mappings."""

# -- SQS (plugins/lambdalab_sqs) and event source mappings ------------------------------

#: A message body plus its attributes is at most 256 KiB
#: (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html).
SQS_MESSAGE_MAX_BYTES = 262_144
#: Queue names: 1-80 characters of letters, digits, ``-`` and ``_`` (``.fifo`` suffix allowed).
SQS_QUEUE_NAME_MAX = 80
#: VisibilityTimeout: default 30 s, 0 to 12 hours.
SQS_VISIBILITY_TIMEOUT_DEFAULT_S = 30
SQS_VISIBILITY_TIMEOUT_MAX_S = 43_200
#: MessageRetentionPeriod: default 4 days, 60 s to 14 days.
SQS_RETENTION_DEFAULT_S = 345_600
SQS_RETENTION_MIN_S = 60
SQS_RETENTION_MAX_S = 1_209_600
#: DelaySeconds: 0 to 15 minutes.
SQS_DELAY_MAX_S = 900
#: ReceiveMessage returns 1-10 messages; long polling waits 0-20 s.
SQS_RECEIVE_MAX_MESSAGES = 10
SQS_WAIT_TIME_MAX_S = 20
#: A batch request (SendMessageBatch, DeleteMessageBatch) has 1-10 entries.
SQS_BATCH_MAX_ENTRIES = 10
#: RedrivePolicy maxReceiveCount: 1 to 1,000.
SQS_MAX_RECEIVE_COUNT_MAX = 1000
#: ListQueues returns at most 1,000 URLs per page.
SQS_LIST_MAX_RESULTS = 1000
#: Event source mapping for SQS: BatchSize default 10, 1-10,000; above 10 needs a batching
#: window of at least 1 s; the window is 0-300 s
#: (https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html).
ESM_SQS_BATCH_SIZE_DEFAULT = 10
ESM_SQS_BATCH_SIZE_MAX = 10_000
ESM_SQS_BATCH_SIZE_WITHOUT_WINDOW_MAX = 10
ESM_BATCHING_WINDOW_MAX_S = 300
#: ScalingConfig.MaximumConcurrency: 2-1,000 concurrent invokes per SQS mapping.
ESM_MAXIMUM_CONCURRENCY_MIN = 2
ESM_MAXIMUM_CONCURRENCY_MAX = 1000
#: Pollers per SQS mapping at most (AWS scales to 1,250 concurrent invokes; one machine
#: is smaller: the function's concurrency usually caps it first)
#: (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
ESM_SQS_POLLERS_MAX = 64
#: FIFO queues: a MessageDeduplicationId is remembered for 5 minutes; a MessageGroupId
#: and a MessageDeduplicationId are 1-128 characters
#: (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-exactly-once-processing.html).
SQS_DEDUP_WINDOW_S = 300
SQS_FIFO_ID_MAX = 128
