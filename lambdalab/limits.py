"""AWS Lambda's limits and defaults, in one place.

Every number here is AWS's own, for on-demand (non-Managed-Instance) functions, as
documented at https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
and https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html.
Where the study notes lambdalab grew from are dated (a 5-minute timeout, 3008 MB,
billing in 100 ms steps) today's values are used; ``docs/explanation`` says what changed.
Nothing outside this module writes these numbers down.
"""

from __future__ import annotations

import re

# -- Identity ------------------------------------------------------------------------

#: The region in ARNs and ``AWS_REGION`` unless a Lab says otherwise.
DEFAULT_REGION = "us-east-1"
#: The account id in ARNs unless a Lab says otherwise.
DEFAULT_ACCOUNT_ID = "000000000000"

#: Seconds (of the Lab's clock) a new function stays ``Pending`` and an update
#: ``InProgress`` before they become ``Active`` / ``Successful``. AWS takes about a second
#: for a .zip function; lambdalab's default 0 shows the states in the answer of the call
#: that starts them and settles them by the next read. ``lambdalab serve
#: --state-transition 2`` (or ``Lab(state_transition=2)``) makes them last, to watch a
#: waiter work (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).
STATE_TRANSITION_S = 0.0

#: Tags on one function (https://docs.aws.amazon.com/lambda/latest/dg/configuration-tags.html).
TAGS_PER_RESOURCE_MAX = 50

#: CreateFunction's FunctionName (the short name, not an ARN): 1-64 of these characters.
FUNCTION_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
#: Alias names: 1-128 characters, not all digits (that would read as a version).
ALIAS_NAME_PATTERN = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}$")
#: Environment variable names: a letter, then letters, digits or underscores.
ENV_VAR_NAME_PATTERN = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+$")
#: The mutable, unpublished version of every function.
LATEST = "$LATEST"

# -- Function configuration ----------------------------------------------------------

#: Smallest memory size (MB); CPU share grows with memory (1769 MB = one vCPU).
MEMORY_MIN_MB = 128
#: Largest memory size (MB); the study notes' 3008 MB limit was raised in 2020.
MEMORY_MAX_MB = 10_240
#: Memory size when none is given (MB).
MEMORY_DEFAULT_MB = 128
#: Memory that buys one vCPU (MB): CPU share = memory / 1769 MB of a vCPU.
#: https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
MEMORY_MB_PER_VCPU = 1769

#: Shortest timeout (seconds).
TIMEOUT_MIN_S = 1
#: Longest timeout (seconds): 15 minutes since 2018 (the study notes say 5).
TIMEOUT_MAX_S = 900
#: Timeout when none is given (seconds).
TIMEOUT_DEFAULT_S = 3

#: Smallest ``/tmp`` size (MB).
EPHEMERAL_STORAGE_MIN_MB = 512
#: Largest ``/tmp`` size (MB).
EPHEMERAL_STORAGE_MAX_MB = 10_240
#: ``/tmp`` size when none is given (MB).
EPHEMERAL_STORAGE_DEFAULT_MB = 512

#: Longest function or version description.
DESCRIPTION_MAX_CHARS = 256
#: Longest handler string (``module.function``).
HANDLER_MAX_CHARS = 128
#: All environment variable names and values together.
ENVIRONMENT_MAX_BYTES = 4 * 1024

#: Runtimes run on the local interpreter (whatever Python runs lambdalab).
PYTHON_RUNTIMES = (
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
)
#: OS-only runtimes: the function's ``bootstrap`` executable speaks the Runtime API.
PROVIDED_RUNTIMES = ("provided.al2023", "provided.al2")
#: Node.js runtimes, run on the machine's ``node`` by lambdalab's Node runtime client.
NODEJS_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x")
#: Every runtime a function may name.
RUNTIMES = PYTHON_RUNTIMES + NODEJS_RUNTIMES + PROVIDED_RUNTIMES
#: ``PATH`` and ``LD_LIBRARY_PATH`` of a function, AWS's values (LocalStack's AWS-recorded
#: ``test_lambda.snapshot.json``); directories the machine lacks are simply skipped.
RUNTIME_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
RUNTIME_LD_LIBRARY_PATH = (
    "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)
#: The version path of the Lambda Runtime API (``/2018-06-01/runtime/…``).
RUNTIME_API_VERSION = "2018-06-01"
#: The instruction set architecture reported for every function.
DEFAULT_ARCHITECTURE = "x86_64"
#: Every architecture the Lambda API names (a layer's CompatibleArchitectures).
ARCHITECTURES = ("x86_64", "arm64")

#: Environment variables a function may not set, because Lambda sets them.
#: https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
RESERVED_ENV_VARS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

# -- Invocation ----------------------------------------------------------------------

#: Synchronous request payloads: 6 MB; Invoke answers a larger one with
#: ``RequestTooLargeException`` ("Request must be smaller than 6291456 bytes…").
#: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
SYNC_PAYLOAD_MAX_BYTES = 6 * 1024 * 1024
#: Synchronous response payloads: "6 MB" too, but the figure AWS's
#: ``Function.ResponseSizeTooLarge`` names is 100 bytes more ("exceeded maximum allowed
#: payload size (6291556 bytes)"), so a response of exactly 6 MB still passes.
SYNC_RESPONSE_MAX_BYTES = 6_291_556
#: Asynchronous (Event) request payloads; AWS raised this from 256 KB to 1 MB in 2025.
ASYNC_PAYLOAD_MAX_BYTES = 1024 * 1024
#: X-Amz-Client-Context, base64 encoded.
CLIENT_CONTEXT_MAX_BYTES = 3583
#: ``LogType=Tail`` returns the last 4 KB of the invocation's log.
TAIL_LOG_BYTES = 4 * 1024

# -- CloudWatch Logs -----------------------------------------------------------------
#: One log event, its UTF-8 message plus 26 bytes of overhead: 1 MB since April 2025
#: (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html;
#: botocore's InputLogEvent: "Each log event can be no larger than 1 MB"; 256 KB before).
#: Lambda cuts a longer line to this size in lambdalab (AWS does not document it).
LOG_EVENT_MAX_BYTES = 1024 * 1024
#: What CloudWatch Logs counts for each event on top of its message
#: (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html).
LOG_EVENT_OVERHEAD_BYTES = 26
#: ``retentionInDays`` values PutRetentionPolicy takes (botocore's ``Days`` shape,
#: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)
#: lambdalab's own cap on the log events one data dir keeps (messages plus overhead):
#: past it the oldest events go. ``Lab(log_max_bytes=...)`` or ``$LAMBDALAB_LOG_MAX_MB``
#: change it; 0 keeps everything. AWS has no such cap (it bills storage instead).
LOG_STORE_MAX_BYTES_DEFAULT = 100 * 1024 * 1024
#: A full log store deletes its oldest events down to this fraction of the cap.
LOG_STORE_LOW_WATER = 0.9

#: The INIT phase (import the handler module, run module-level code).
INIT_TIMEOUT_S = 10

#: Open file descriptors per execution environment.
#: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
FILE_DESCRIPTORS_MAX = 1024
#: Processes and threads, together, per execution environment.
PROCESSES_AND_THREADS_MAX = 1024

#: Invoke's InvocationType values: wait for the result, queue it, or only validate.
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
#: ``LoggingConfig``'s values (botocore's ``lambda`` model: ``LogFormat``,
#: ``ApplicationLogLevel``, ``SystemLogLevel``, ``LogGroup``), most detailed level first.
LOG_FORMATS = ("JSON", "Text")
APPLICATION_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
#: The level both take when a function switches to ``JSON`` without naming one.
LOG_LEVEL_DEFAULT = "INFO"
LOG_GROUP_NAME_MAX_CHARS = 512
LOG_GROUP_NAME_PATTERN = re.compile(r"[.\-_/#A-Za-z0-9]+")

#: Invoke's LogType values.
LOG_TYPES = ("None", "Tail")

# -- Asynchronous invocation ---------------------------------------------------------
# https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html

#: Fewest retries after a function error (``MaximumRetryAttempts``).
ASYNC_RETRY_ATTEMPTS_MIN = 0
#: Most retries after a function error.
ASYNC_RETRY_ATTEMPTS_MAX = 2
#: Retries when no event invoke configuration says otherwise.
ASYNC_RETRY_ATTEMPTS_DEFAULT = 2
#: Shortest ``MaximumEventAgeInSeconds``.
ASYNC_EVENT_AGE_MIN_S = 60
#: Longest ``MaximumEventAgeInSeconds`` (6 hours).
ASYNC_EVENT_AGE_MAX_S = 21_600
#: How long an event may wait in the queue unless configured otherwise (6 hours).
ASYNC_EVENT_AGE_DEFAULT_S = 21_600
#: Waits before the 2nd and the 3rd attempt after a function error: "one minute between
#: the first two attempts, and two minutes between the second and third".
ASYNC_RETRY_DELAYS_S = (60, 120)
#: AWS keeps retrying a throttled event for up to 6 hours (bounded by the event's age).
ASYNC_THROTTLE_RETRY_WINDOW_S = 21_600
#: lambdalab's own: real seconds a worker waits after a throttle before it tries that
#: function again (AWS backs off from 1 s to 5 min; here concurrency frees in real time).
ASYNC_THROTTLE_BACKOFF_S = 0.05
#: lambdalab's own: most threads draining the queue at once (per Lab). A function with
#: reserved concurrency R gets at most min(R, this) of them.
ASYNC_WORKERS_MAX = 10
#: ``ErrorMessage`` of a dead-letter message is cut to this many bytes.
DLQ_ERROR_MESSAGE_MAX_BYTES = 1024
#: Services a destination or dead-letter ARN may name (``arn:aws:SERVICE:...``).
DESTINATION_SERVICES = ("lambda", "sqs", "sns", "events", "s3")
#: Services a ``DeadLetterConfig.TargetArn`` may name.
DEAD_LETTER_SERVICES = ("sqs", "sns")

# -- Concurrency ---------------------------------------------------------------------

#: Concurrent executions per account and region (AWS's default quota).
ACCOUNT_CONCURRENCY_DEFAULT = 1000
#: Reserved concurrency may not push the unreserved pool below this.
UNRESERVED_CONCURRENCY_MIN = 100

# -- Execution environments ----------------------------------------------------------

#: AWS does not publish how long an idle environment lives (observed: 5 to 15 minutes).
#: lambdalab reaps after this many seconds of idleness; configurable per Lab.
IDLE_ENVIRONMENT_TTL_S = 600

# -- Billing -------------------------------------------------------------------------

#: Duration is billed in 1 ms steps since December 2020 (it was 100 ms before).
BILLING_GRANULARITY_MS = 1

# -- AWS's prices: the one place for them -------------------------------------------
#
# Lambda's published on-demand prices for us-east-1 (USD), from PRICING_URL, as of
# PRICES_AS_OF. AWS's page draws its rate tables client-side, so the figures were
# checked against copies of those tables and AWS's announcements: 1 ms billing
# (December 2020), arm64 (September 2021), ephemeral storage up to 10 GB (March 2022),
# tiered duration pricing (https://aws.amazon.com/blogs/compute/introducing-tiered-pricing-for-aws-lambda/,
# August 2022). Other regions, Savings Plans, provisioned concurrency, SnapStart and
# data transfer are not priced here (docs/explanation/differences.rst).

#: Where the prices below come from (us-east-1, on-demand).
PRICING_URL = "https://aws.amazon.com/lambda/pricing/"
#: When they were last checked against it.
PRICES_AS_OF = "2026-12-05"
#: Price of one GB-second of duration, x86_64, in the first tier (USD).
PRICE_PER_GB_SECOND_USD = 0.0000166667
#: Price of one GB-second of duration, arm64 (Graviton), in the first tier (USD).
PRICE_PER_GB_SECOND_ARM64_USD = 0.0000133334
#: Duration tiers per architecture: (GB-seconds a month up to which the price holds,
#: price per GB-second). Tiers count the month's GB-seconds of one architecture in one
#: region and account; the last tier has no upper end.
PRICE_TIERS_GB_SECOND_USD: dict[str, tuple[tuple[float, float], ...]] = {
    "x86_64": (
        (6_000_000_000, PRICE_PER_GB_SECOND_USD),
        (15_000_000_000, 0.000015),
        (float("inf"), 0.0000133334),
    ),
    "arm64": (
        (7_500_000_000, PRICE_PER_GB_SECOND_ARM64_USD),
        (18_750_000_000, 0.0000120001),
        (float("inf"), 0.0000106667),
    ),
}
#: Price of one million requests (USD), either architecture.
PRICE_PER_MILLION_REQUESTS_USD = 0.20
#: Price of one GB-second of ephemeral storage beyond the 512 MB that comes free, either
#: architecture (USD). GB-seconds of storage: (EphemeralStorage - 512 MB) x duration.
PRICE_PER_EPHEMERAL_GB_SECOND_USD = 0.0000000309
#: The free tier, every month, shared by both architectures: requests, and GB-seconds
#: of duration (not of ephemeral storage).
FREE_TIER_REQUESTS = 1_000_000
FREE_TIER_GB_SECONDS = 400_000
#: A GB here is 1,024 MB: 1,024 MB for one second is one GB-second.
MB_PER_GB = 1024

# -- Lambda API requests -------------------------------------------------------------

#: A function's resource-based policy (all its statements, as JSON).
FUNCTION_POLICY_MAX_BYTES = 20 * 1024
#: A deployment package uploaded directly (``ZipFile``), zipped: 50 MB
#: (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
ZIPPED_PACKAGE_MAX_BYTES = 50 * 1024 * 1024
#: A deployment package unzipped, with its layers: 250 MB (each alone, and all together).
#: AWS: "Unzipped size must be smaller than 262144000 bytes".
UNZIPPED_PACKAGE_MAX_BYTES = 262_144_000
#: Code storage of every function and layer version in a region: 75 GB (a soft quota;
#: GetAccountSettings' ``AccountLimit.TotalCodeSize`` answers 80530636800,
#: https://docs.aws.amazon.com/lambda/latest/dg/example_lambda_GetAccountSettings_section.html).
TOTAL_CODE_SIZE_MAX_BYTES = 75 * 1024**3
#: A CreateFunction or UpdateFunctionCode request: the zip, base64 encoded (4/3 of
#: 50 MB). AWS: "Request must be smaller than 69905067 bytes for the CreateFunction
#: operation".
CODE_REQUEST_MAX_BYTES = 69_905_067
#: Any other control-plane request body (AWS does not publish one limit; every
#: other operation's input is a few KB of JSON).
CONTROL_REQUEST_MAX_BYTES = 1024 * 1024
#: JSON nested deeper than this is refused (request bodies and Invoke payloads). AWS's
#: JSON reader (Jackson) refuses documents nested deeper than 1000; Python's stops at its
#: recursion limit (1000 by default), which is where lambdalab's reader stops too.
JSON_DEPTH_MAX = 1000
#: ListFunctions, ListVersionsByFunction and ListAliases: most items per page.
LIST_MAX_ITEMS = 10_000
#: ListFunctions and ListVersionsByFunction return at most 50 items per page.
LIST_FUNCTIONS_PAGE_MAX = 50
#: ListEventSourceMappings returns at most 100 items per page, "even if you set the
#: number higher" (botocore's model, MaxItems).
EVENT_SOURCE_MAPPING_PAGE_MAX = 100
#: Layers a function may use (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
LAYERS_PER_FUNCTION_MAX = 5
#: ListLayers and ListLayerVersions: most items per page (botocore's MaxLayerListItems).
LAYER_LIST_PAGE_MAX = 50
#: PublishLayerVersion's CompatibleRuntimes: at most this many (botocore's model).
LAYER_COMPATIBLE_RUNTIMES_MAX = 15
#: A layer version's policy (all its statements, as JSON). AWS publishes 20 KB for a
#: function's policy; AddLayerVersionPermission may answer PolicyLengthExceededException
#: too, and lambdalab holds a layer version's policy to the same size.
LAYER_POLICY_MAX_BYTES = 20 * 1024
#: How far a SigV4 signature's X-Amz-Date may be from now (AWS: 5 minutes).
SIGV4_MAX_SKEW_S = 300
#: The longest a presigned URL's X-Amz-Expires may be: 7 days
#: (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
SIGV4_PRESIGNED_EXPIRES_MAX_S = 604800

#: Where ``lambdalab serve`` listens by default; a function URL made while no edge serves
#: the lab names it.
EDGE_HOST = "127.0.0.1"
EDGE_PORT = 9001

#: The edge path from which a deployment package downloads (``Code.Location``, where AWS
#: gives a presigned S3 URL): ``/_lambdalab/code/<sha256>``.
CODE_PATH = "/_lambdalab/code/"

# -- Function URLs (https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html)
#: The edge path under which function URLs are served: ``/_lambdalab/url/<url-id>/``.
FUNCTION_URL_PATH_PREFIX = "/_lambdalab/url/"
#: A url-id is 32 lower-case letters and digits, as in ``<url-id>.lambda-url.<region>.on.aws``.
FUNCTION_URL_ID_LENGTH = 32
#: ListFunctionUrlConfigs returns at most 50 per page (``MaxItems``).
FUNCTION_URL_LIST_MAX = 50

# -- Event filtering (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html)
#: Filters in one event source mapping's FilterCriteria (AWS's default quota; 10 on request).
FILTERS_PER_MAPPING_MAX = 5
#: The longest filter Pattern (botocore's ``Filter.Pattern``: 0-4096 characters).
FILTER_PATTERN_MAX_CHARS = 4096
