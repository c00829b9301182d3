"""CloudWatch's quotas and lambdalab's bounds for the metric store, in one place.

AWS's figures: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html
"""

#: The period every stored data point covers: CloudWatch's standard resolution.
PERIOD_S = 60
#: How long one-minute data is kept by default. AWS keeps one-minute data points 15 days
#: (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#metrics-retention).
RETENTION_DAYS_DEFAULT = 15
#: The longest retention a learner may set (AWS keeps aggregated data 455 days).
RETENTION_DAYS_MAX = 455
#: Raw values kept per metric and minute for percentiles; past it, a uniform sample.
PERCENTILE_SAMPLE_MAX = 1024
#: PutMetricData: metrics per request, dimensions per metric, values per datum.
PUT_METRIC_DATA_MAX = 1000
DIMENSIONS_MAX = 30
VALUES_MAX = 150
#: GetMetricStatistics: data points one answer may hold.
DATAPOINTS_MAX = 1440
#: GetMetricData: queries per request, data points per answer.
METRIC_DATA_QUERIES_MAX = 500
METRIC_DATA_POINTS_MAX = 100_800
#: ListMetrics and DescribeAlarms page sizes.
LIST_METRICS_PAGE = 500
DESCRIBE_ALARMS_PAGE = 100
#: How old (and how far ahead) a PutMetricData timestamp may be.
TIMESTAMP_PAST_S = 14 * 24 * 3600
TIMESTAMP_FUTURE_S = 2 * 3600
#: Alarm history entries kept per alarm (AWS keeps 30 days of it).
ALARM_HISTORY_MAX = 100
#: How often (real seconds) the in-memory minute aggregates are written to the data dir
#: under steady load (and before every read): a SIGKILL loses at most this much of the
#: newest data. Once invokes pause for FLUSH_IDLE_S, they are written at once.
FLUSH_INTERVAL_S = 5.0
FLUSH_IDLE_S = 0.2
#: A metric math expression's length (botocore's ``MetricExpression`` shape).
EXPRESSION_MAX = 2048
#: A composite alarm's AlarmRule: characters (botocore's ``AlarmRule`` shape), elements
#: and alarms named (PutCompositeAlarm's documentation).
ALARM_RULE_MAX = 10240
ALARM_RULE_ELEMENTS_MAX = 500
ALARM_RULE_CHILDREN_MAX = 100
