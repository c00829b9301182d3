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
