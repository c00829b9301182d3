"""Kinesis Data Streams' limits and defaults, as AWS documents them
(https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html), and those
of stream event source mappings
(https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html)."""

# -- streams and shards ---------------------------------------------------------------

#: Shards per account in the larger regions (us-east-1, us-west-2, eu-west-1).
SHARDS_PER_ACCOUNT = 500
#: An on-demand stream starts with 4 shards (4 MB/s or 4,000 records/s of writes).
ON_DEMAND_SHARDS = 4
#: The hash key space: MD5 of the partition key, 0 to 2^128 - 1.
HASH_KEY_MAX = 2**128 - 1
#: Retention: 24 hours by default, up to 8,760 hours (365 days).
RETENTION_DEFAULT_HOURS = 24
RETENTION_MAX_HOURS = 8760
# -- records ------------------------------------------------------------------------

#: A record's data plus partition key is at most 1 MiB.
RECORD_MAX_BYTES = 1_048_576
#: PutRecords: 1-500 records and at most 5 MiB in one request.
PUT_RECORDS_MAX_ENTRIES = 500
PUT_RECORDS_MAX_BYTES = 5 * 1_048_576
#: The largest request body the edge reads for Kinesis: a full PutRecords in base64 JSON.
REQUEST_MAX_BYTES = PUT_RECORDS_MAX_BYTES * 4 // 3 + 1_048_576
# -- throughput per shard, per second -----------------------------------------------------

#: Writes: 1 MiB or 1,000 records per second per shard.
SHARD_WRITE_BYTES_PER_S = 1_048_576
SHARD_WRITE_RECORDS_PER_S = 1000
#: Reads: 2 MiB and 5 GetRecords calls per second per shard.
SHARD_READ_BYTES_PER_S = 2 * 1_048_576
SHARD_READ_CALLS_PER_S = 5
#: GetRecords returns at most 10,000 records (its Limit's default and maximum).
GET_RECORDS_MAX = 10_000
#: A shard iterator expires 5 minutes after GetShardIterator or GetRecords returned it.
ITERATOR_TTL_S = 300
#: ListShards and ListStreams pages: default 1,000 and 100 results.
LIST_SHARDS_DEFAULT = 1000
LIST_STREAMS_DEFAULT = 100

# -- stream event source mappings -------------------------------------------------------

#: BatchSize: default 100, 1-10,000.
ESM_STREAM_BATCH_SIZE_DEFAULT = 100
ESM_STREAM_BATCH_SIZE_MAX = 10_000
#: MaximumBatchingWindowInSeconds: 0-300 s.
ESM_BATCHING_WINDOW_MAX_S = 300
#: ParallelizationFactor: 1-10 concurrent batches per shard.
ESM_PARALLELIZATION_MAX = 10
#: MaximumRetryAttempts: -1 (forever, the default) to 10,000.
ESM_RETRY_ATTEMPTS_MAX = 10_000
#: MaximumRecordAgeInSeconds: -1 (forever, the default) or 60 to 604,800 (7 days).
ESM_RECORD_AGE_MIN_S = 60
ESM_RECORD_AGE_MAX_S = 604_800
#: TumblingWindowInSeconds: 0-900 s.
ESM_TUMBLING_WINDOW_MAX_S = 900
#: A batch's event is at most 6 MB, the synchronous invoke payload.
ESM_BATCH_MAX_BYTES = 6 * 1_048_576

# -- enhanced fan-out (https://docs.aws.amazon.com/streams/latest/dev/enhanced-consumers.html) --

#: Consumers registered to one stream at a time.
CONSUMERS_PER_STREAM = 20
#: ListStreamConsumers' page: 100 consumers unless MaxResults says otherwise.
LIST_CONSUMERS_DEFAULT = 100
#: A consumer is CREATING (or DELETING) for this long on the lab's clock. AWS says only
#: that registering takes "a few seconds"; lambdalab's choice, in
#: docs/explanation/differences.rst.
CONSUMER_STATUS_CHANGE_S = 5
#: A SubscribeToShard subscription lasts 5 minutes; the consumer then subscribes again.
SUBSCRIPTION_S = 300
#: Subscribing again to the same shard with the same consumer within 5 seconds of a
#: successful SubscribeToShard is ResourceInUseException.
RESUBSCRIBE_MIN_S = 5
#: An idle subscription still sends an event (no records) this often on the lab's clock
#: (lambdalab's choice: AWS sends one every few seconds).
SUBSCRIPTION_HEARTBEAT_S = 5
#: Each consumer reads up to 2 MiB a second per shard, apart from the shared 2 MiB: one
#: SubscribeToShardEvent carries at most this many bytes of records (one record at least).
CONSUMER_READ_BYTES_PER_S = 2 * 1_048_576
