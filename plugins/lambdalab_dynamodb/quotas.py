"""DynamoDB's limits, in one place
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html)."""

#: The largest item: attribute names and values together.
ITEM_MAX_BYTES = 400 * 1024
#: A partition key value; a sort key value.
PARTITION_KEY_MAX_BYTES = 2048
SORT_KEY_MAX_BYTES = 1024
#: What one Query or Scan page reads before it stops (before any filter).
PAGE_MAX_BYTES = 1024 * 1024
#: A number's significant digits, and its magnitude's range.
NUMBER_MAX_DIGITS = 38
NUMBER_MAX_EXPONENT = 125
NUMBER_MIN_EXPONENT = -130
#: How deep maps and lists may nest in an item.
NESTING_MAX = 32
#: Table names: 3 to 255 of ``[a-zA-Z0-9_.-]``.
TABLE_NAME_MIN = 3
TABLE_NAME_MAX = 255
#: Secondary indexes of a table.
GSI_MAX = 20
LSI_MAX = 5
#: ListTables' page.
LIST_TABLES_MAX = 100
#: Items in a BatchGetItem; write requests in a BatchWriteItem; actions in a transaction.
BATCH_GET_MAX = 100
BATCH_WRITE_MAX = 25
TRANSACT_MAX = 100
#: How long, in seconds of the lab's clock after the first request completed, a
#: TransactWriteItems' ClientRequestToken is remembered
#: (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
CLIENT_TOKEN_SECONDS = 600
#: How many seconds of unused provisioned capacity a table keeps for bursts
#: (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/burst-adaptive-capacity.html).
BURST_SECONDS = 300
#: ListBackups' page; the longest point-in-time recovery period, in days
#: (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Point-in-time-recovery.html).
LIST_BACKUPS_MAX = 100
PITR_DAYS_MAX = 35
#: Statements in a PartiQL BatchExecuteStatement (an ExecuteTransaction holds up to
#: TRANSACT_MAX) (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.multiplestatements.batching.html).
PARTIQL_BATCH_MAX = 25
#: An expression's length, in characters, and its operators and functions.
EXPRESSION_MAX_CHARS = 4096
EXPRESSION_OPERATORS_MAX = 300
#: How deep parentheses nest in an expression: lambdalab's bound (AWS documents none;
#: the 4 KB length bounds it there), which keeps the parser's recursion in Python's stack.
EXPRESSION_PARENTHESES_MAX = 100
#: How long a stream keeps a record, and how long a shard iterator stays valid
#: (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html).
STREAM_RETENTION_S = 24 * 3600
SHARD_ITERATOR_TTL_S = 15 * 60
#: What one partition of a provisioned table serves, which sets how many shards its
#: stream has (a shard per partition); lambdalab's bound on a stream's shards.
PARTITION_RCU = 3000
PARTITION_WCU = 1000
STREAM_SHARDS_MAX = 64
#: GetRecords' page.
GET_RECORDS_MAX = 1000
#: A TTL-expired item is deleted within a few days on AWS; lambdalab's sweep runs
#: this often on the lab's clock.
TTL_SWEEP_S = 60.0
