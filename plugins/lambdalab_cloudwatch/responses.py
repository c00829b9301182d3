"""CloudWatch's operations, served by lambdalab's protocol layer.

botocore's ``cloudwatch`` model lists three protocols (``smithy-rpc-v2-cbor``, ``json``,
``query``); boto3 and the AWS CLI pick JSON (``X-Amz-Target:
GraniteServiceVersion20100801.GetMetricStatistics``), older SDKs send query
(``Action=GetMetricStatistics``): both are served, chosen by the request's
``X-Amz-Target``. Each method takes the operation's input as a dict and returns its
output as a dict.
"""

from __future__ import annotations

from typing import Any, Mapping

from lambdalab.plugin import ErrorCodes, ProtocolService

from . import quotas
from .exceptions import InvalidNextToken
from .alarms import Alarm, Alarms
from .composite import CompositeAlarm
from .models import Metrics, epoch_of, dimensions_from, dimensions_to_aws

TARGET_PREFIX = "GraniteServiceVersion20100801."
#: What CloudWatch answers for what the protocol layer refuses (its query codes).
ERRORS = ErrorCodes(validation="InvalidParameterValue", serialization="InvalidParameterValue",
                    internal="InternalServiceError")
QUERY_ERRORS = ErrorCodes(validation="InvalidParameterValue",
                          serialization="MalformedQueryString", unknown_operation="InvalidAction",
                          internal="InternalServiceError")


def _page(items: list[Any], token: str | None, size: int) -> tuple[list[Any], str | None]:
    start = 0
    if token:
        if not token.isdigit() or int(token) > len(items):
            raise InvalidNextToken("The NextToken is not valid: pass the one the last answer gave.")
        start = int(token)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


class CloudWatchResponses:
    """Every CloudWatch operation lambdalab serves, named in snake_case."""

    def __init__(self, metrics: Metrics, alarms: Alarms) -> None:
        self.metrics = metrics
        self.alarms = alarms

    # -- metrics ------------------------------------------------------------------------

    def put_metric_data(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.metrics.put_metric_data(body["Namespace"], body.get("MetricData") or [])
        return {}

    def get_metric_statistics(self, body: Mapping[str, Any]) -> dict[str, Any]:
        points = self.metrics.statistics(
            body["Namespace"], body["MetricName"], dimensions_from(body.get("Dimensions")),
            body["StartTime"], body["EndTime"], body["Period"], body.get("Statistics") or [],
            body.get("ExtendedStatistics") or [], body.get("Unit"),
        )
        return {"Label": body["MetricName"], "Datapoints": [p.to_aws() for p in points]}

    def get_metric_data(self, body: Mapping[str, Any]) -> dict[str, Any]:
        results = self.metrics.metric_data(body["MetricDataQueries"], body["StartTime"],
                                           body["EndTime"], body.get("ScanBy"))
        return {"MetricDataResults": results, "Messages": []}

    def list_metrics(self, body: Mapping[str, Any]) -> dict[str, Any]:
        found = self.metrics.list_metrics(body.get("Namespace"), body.get("MetricName"),
                                          body.get("Dimensions"), body.get("RecentlyActive"))
        page, token = _page(found, body.get("NextToken"), quotas.LIST_METRICS_PAGE)
        out: dict[str, Any] = {"Metrics": [
            {"Namespace": ns, "MetricName": name, "Dimensions": dimensions_to_aws(dims)}
            for ns, name, dims in page]}
        if token:
            out["NextToken"] = token
        return out


    # -- alarms -------------------------------------------------------------------------

    def put_metric_alarm(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.alarms.put_metric_alarm(dict(body))
        return {}

    def put_composite_alarm(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.alarms.put_composite_alarm(dict(body))
        return {}

    def describe_alarms(self, body: Mapping[str, Any]) -> dict[str, Any]:
        found = self.alarms.describe_alarms(
            body.get("AlarmNames"), body.get("AlarmNamePrefix"), body.get("StateValue"),
            body.get("ActionPrefix"), body.get("AlarmTypes"), body.get("ChildrenOfAlarmName"),
            body.get("ParentsOfAlarmName"))
        page, token = _page(found, body.get("NextToken"),
                            body.get("MaxRecords") or quotas.DESCRIBE_ALARMS_PAGE)
        out: dict[str, Any] = {
            "MetricAlarms": [a.to_aws() for a in page if isinstance(a, Alarm)],
            "CompositeAlarms": [a.to_aws() for a in page if isinstance(a, CompositeAlarm)]}
        if token:
            out["NextToken"] = token
        return out

    def describe_alarm_history(self, body: Mapping[str, Any]) -> dict[str, Any]:
        start, end = body.get("StartDate"), body.get("EndDate")
        found = self.alarms.history(
            body.get("AlarmName"), body.get("HistoryItemType"),
            epoch_of(start) if start is not None else None, epoch_of(end) if end is not None else None,
            oldest_first=body.get("ScanBy") == "TimestampAscending",
            types=body.get("AlarmTypes"))
        page, token = _page(found, body.get("NextToken"),
                            body.get("MaxRecords") or quotas.DESCRIBE_ALARMS_PAGE)
        out: dict[str, Any] = {"AlarmHistoryItems": [h.to_aws() for h in page]}
        if token:
            out["NextToken"] = token
        return out

    def describe_alarms_for_metric(self, body: Mapping[str, Any]) -> dict[str, Any]:
        dims = body.get("Dimensions")
        found = self.alarms.for_metric(
            body["Namespace"], body["MetricName"],
            dimensions_from(dims) if dims is not None else None,
            body.get("Statistic") or body.get("ExtendedStatistic"), body.get("Period"),
            body.get("Unit"))
        return {"MetricAlarms": [a.to_aws() for a in found]}

    def enable_alarm_actions(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.alarms.set_actions_enabled(body["AlarmNames"], True)
        return {}

    def disable_alarm_actions(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.alarms.set_actions_enabled(body["AlarmNames"], False)
        return {}

    def delete_alarms(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.alarms.delete_alarms(body["AlarmNames"])
        return {}

    def set_alarm_state(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.alarms.set_alarm_state(body["AlarmName"], body["StateValue"], body["StateReason"],
                                    body.get("StateReasonData"))
        return {}


class CloudWatchQuery(ProtocolService):
    """CloudWatch in the query protocol (``Action=...``, XML answers)."""

    def __init__(self, operations: CloudWatchResponses) -> None:
        super().__init__("cloudwatch", operations, protocol="query", errors=QUERY_ERRORS)


class CloudWatchService(ProtocolService):
    """The ASGI app the edge hands CloudWatch requests to: JSON, or query without a target."""

    def __init__(self, operations: CloudWatchResponses) -> None:
        super().__init__("cloudwatch", operations, protocol="json", errors=ERRORS)
        self.query = CloudWatchQuery(operations)

    def for_request(self, headers: Any) -> ProtocolService:
        return self if headers.get("x-amz-target") else self.query
