"""EventBridge's limits and defaults, as AWS documents them: this plugin's own, apart from
Lambda's (:mod:`lambdalab.limits`), so core knows nothing of EventBridge."""

# -- EventBridge schedules (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html)
#: Targets one rule may have.
EVENTS_TARGETS_PER_RULE_MAX = 5
#: A target's constant ``Input`` is at most 8,192 characters (botocore's TargetInput).
EVENTS_TARGET_INPUT_MAX_BYTES = 8192
#: A rule's ``Description`` is at most 512 characters (botocore's RuleDescription).
EVENTS_RULE_DESCRIPTION_MAX = 512
#: ListRules and ListTargetsByRule return at most 100 per page (``Limit``).
EVENTS_LIST_LIMIT_MAX = 100
#: A ``ScheduleExpression`` is at most 256 characters (botocore's ScheduleExpression).
EVENTS_SCHEDULE_EXPRESSION_MAX = 256
#: The longest ``rate(...)`` period lambdalab takes: 100 years (``rate(36500 days)``).
#: EventBridge documents only "a positive number"
#: (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html);
#: the bound is lambdalab's, so that every rule's timer can be armed.
EVENTS_RATE_PERIOD_MAX_S = 36_500 * 86_400

# -- Event buses and PutEvents (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html)
#: Event buses per account, the default one included.
EVENTS_BUSES_MAX = 100
#: Entries in one PutEvents request (botocore's PutEventsRequestEntryList).
EVENTS_PUT_ENTRIES_MAX = 10
#: A PutEvents request's entries total at most 256 KB, counted as AWS counts them
#: (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html).
EVENTS_PUT_MAX_BYTES = 256 * 1024
#: An EventPattern is at most 4,096 characters (botocore's EventPattern).
EVENTS_PATTERN_MAX_CHARS = 4096
#: A target's RetryPolicy defaults: 185 retries over 24 hours
#: (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html).
EVENTS_RETRY_ATTEMPTS_DEFAULT = 185
EVENTS_EVENT_AGE_DEFAULT_S = 86_400
#: Back-off between tries of a failed send (EventBridge's is "exponential back off and
#: jitter" without figures; lambdalab's: 1 s doubling up to 5 minutes, no jitter).
EVENTS_RETRY_BACKOFF_BASE_S = 1
EVENTS_RETRY_BACKOFF_MAX_S = 300
#: The longest ERROR_MESSAGE attribute a dead-lettered event carries (lambdalab's bound).
EVENTS_DLQ_MESSAGE_MAX = 1024

# -- EventBridge Scheduler (https://docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html)
#: A flexible time window is at most 1,440 minutes (botocore's MaximumWindowInMinutes).
SCHEDULER_WINDOW_MAX_MINUTES = 1440
#: ListSchedules returns at most 100 per page (botocore's MaxResults).
SCHEDULER_LIST_MAX = 100
