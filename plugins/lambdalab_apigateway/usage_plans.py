"""REST APIs' API keys and usage plans: what a method with ``apiKeyRequired`` asks.

https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-usage-plans.html:
an API key (``CreateApiKey``) is account-wide; a usage plan (``CreateUsagePlan``) names
API stages (``apiStages``) and, through ``CreateUsagePlanKey``, the keys that may call
them. A method with ``apiKeyRequired`` answers ``403 {"message":"Forbidden"}`` unless the
request's ``x-api-key`` is an enabled key of a plan that names the API's stage. A plan's
``throttle`` and ``quota`` are enforced per key (:mod:`.metering`), and ``GetUsage``
answers the counts, which are kept in the data dir. Keys and plans live in the API table under kinds of their own. This
module never touches HTTP.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
import secrets
import string
from typing import TYPE_CHECKING, Any

from . import patch, quotas
from .exceptions import BadRequestException, ConflictException, NotFoundException
from .metering import Meter, period_start

if TYPE_CHECKING:
    from lambdalab import Lab

API_KEY = "API_KEY"
USAGE_PLAN = "USAGE_PLAN"
#: A key's value is 20 to 128 characters (AWS's recorded refusals).
KEY_VALUE_MIN, KEY_VALUE_MAX = 20, 128
_ID_ALPHABET = string.ascii_lowercase + string.digits
_VALUE_ALPHABET = string.ascii_letters + string.digits


def _new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


class UsagePlans:
    """API keys and usage plans of a lab, in the ``apigateway_apis`` table."""

    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self.meter = Meter(lab.store)

    def _rows(self, kind: str) -> list[dict[str, Any]]:
        rows = self.lab.store.query("SELECT config FROM apigateway_apis WHERE kind = ? ORDER BY id", (kind,))
        return [json.loads(row["config"]) for row in rows]

    def _get(self, kind: str, item_id: Any) -> dict[str, Any] | None:
        rows = self.lab.store.query("SELECT config FROM apigateway_apis WHERE id = ? AND kind = ?",
                                    (str(item_id), kind))
        return json.loads(rows[0]["config"]) if rows else None

    def _put(self, kind: str, item: dict[str, Any]) -> dict[str, Any]:
        with self.lab.store.transaction() as db:
            db.execute("INSERT OR REPLACE INTO apigateway_apis (id, kind, config) VALUES (?, ?, ?)",
                       (item["id"], kind, json.dumps(item)))
        return item

    def _drop(self, item_id: str) -> None:
        with self.lab.store.transaction() as db:
            db.execute("DELETE FROM apigateway_apis WHERE id = ?", (item_id,))

    # -- API keys ---------------------------------------------------------------------------

    def create_api_key(self, name: str | None = None, *, value: str | None = None, enabled: bool = False,
                       description: str | None = None) -> dict[str, Any]:
        """An API key; without ``value`` one is generated (40 characters)."""
        if value is None:
            value = "".join(secrets.choice(_VALUE_ALPHABET) for _ in range(40))
        if len(value) < KEY_VALUE_MIN:
            raise BadRequestException(f"API Key value should be at least {KEY_VALUE_MIN} characters")
        if len(value) > KEY_VALUE_MAX:
            raise BadRequestException(f"API Key value exceeds maximum size of {KEY_VALUE_MAX} characters")
        if any(k["value"] == value for k in self._rows(API_KEY)):
            raise ConflictException("API Key already exists")
        now = self.lab.clock.now()
        key: dict[str, Any] = {"id": _new_id(), "value": value, "name": name or "", "enabled": bool(enabled),
                               "createdDate": now, "lastUpdatedDate": now, "stageKeys": []}
        if description is not None:
            key["description"] = description
        return self._put(API_KEY, key)

    def get_api_key(self, key_id: str, *, include_value: bool = False) -> dict[str, Any]:
        key = self._get(API_KEY, key_id)
        if key is None:
            raise NotFoundException("Invalid API Key identifier specified")
        return key if include_value else {k: v for k, v in key.items() if k != "value"}

    def get_api_keys(self, *, include_values: bool = False) -> list[dict[str, Any]]:
        return [k if include_values else {n: v for n, v in k.items() if n != "value"} for k in self._rows(API_KEY)]

    def update_api_key(self, key_id: str, patch_operations: Any) -> dict[str, Any]:
        """UpdateApiKey: replace ``/name``, ``/description``, ``/enabled``, ``/customerId``
        (https://docs.aws.amazon.com/apigateway/latest/api/patch-operations.html)."""
        key = self.get_api_key(key_id, include_value=True)
        patch.apply(patch_operations, lambda parts: patch.read_pointer(key, parts),
                    lambda operation: _patch_api_key(key, operation))
        key["lastUpdatedDate"] = self.lab.clock.now()
        self._put(API_KEY, key)
        return {k: v for k, v in key.items() if k != "value"}

    def delete_api_key(self, key_id: str) -> None:
        self.get_api_key(key_id)
        for plan in self._rows(USAGE_PLAN):
            if key_id in plan.get("_keys", []):
                plan["_keys"].remove(key_id)
                self._put(USAGE_PLAN, plan)
        self._drop(key_id)

    # -- usage plans ------------------------------------------------------------------------

    def create_usage_plan(self, name: str, *, api_stages: list[dict[str, Any]] | None = None,
                          throttle: dict[str, Any] | None = None, quota: dict[str, Any] | None = None,
                          description: str | None = None, stage_exists: Any = None) -> dict[str, Any]:
        """A usage plan over ``api_stages`` (``[{"apiId", "stage"}]``); ``stage_exists``
        (api id, stage) → bool checks each."""
        _check_limits(throttle, quota)
        plan: dict[str, Any] = {"id": _new_id(), "name": name, "apiStages": list(api_stages or []), "_keys": [],
                                "_since": self.lab.clock.now()}
        for stage in plan["apiStages"]:
            if stage_exists is not None and not stage_exists(stage.get("apiId"), stage.get("stage")):
                raise BadRequestException(f"Invalid API Stage {{api: {stage.get('apiId')}, stage: "
                                          f"{stage.get('stage')}}} specified for usageplan {plan['id']}")
        for key, given in (("throttle", throttle), ("quota", quota), ("description", description)):
            if given is not None:
                plan[key] = given
        return _public(self._put(USAGE_PLAN, plan))

    def _plan(self, plan_id: str) -> dict[str, Any]:
        plan = self._get(USAGE_PLAN, plan_id)
        if plan is None:
            raise NotFoundException("Invalid Usage Plan ID specified")
        return plan

    def get_usage_plan(self, plan_id: str) -> dict[str, Any]:
        return _public(self._plan(plan_id))

    def get_usage_plans(self) -> list[dict[str, Any]]:
        return [_public(p) for p in self._rows(USAGE_PLAN)]

    def update_usage_plan(self, plan_id: str, patch_operations: Any, stage_exists: Any = None) -> dict[str, Any]:
        """UpdateUsagePlan: add or remove ``/apiStages`` (value ``<api id>:<stage>``),
        replace ``/name``, ``/description``, ``/productCode``, ``/throttle/rateLimit``,
        ``/throttle/burstLimit``, ``/quota/limit``, ``/quota/offset``, ``/quota/period``,
        remove ``/throttle`` or ``/quota``; checked as CreateUsagePlan checks."""
        plan = self._plan(plan_id)
        patch.apply(patch_operations, lambda parts: patch.read_pointer(plan, parts),
                    lambda operation: _patch_usage_plan(plan, operation, stage_exists))
        _check_limits(plan.get("throttle"), plan.get("quota"))
        return _public(self._put(USAGE_PLAN, plan))

    def delete_usage_plan(self, plan_id: str) -> None:
        self._plan(plan_id)
        self._drop(plan_id)
        self.meter.forget(plan_id)

    def create_usage_plan_key(self, plan_id: str, key_id: str, key_type: str = API_KEY) -> dict[str, Any]:
        plan = self._plan(plan_id)
        if key_type != API_KEY:
            raise BadRequestException(f"Invalid key type: {key_type!r}. Use API_KEY.")
        key = self.get_api_key(key_id, include_value=True)
        if key_id in plan["_keys"]:
            raise ConflictException(f"Usage Plan {plan_id} cannot be added because API Key {key_id} already "
                                    "belongs to it")
        plan["_keys"].append(key_id)
        self._put(USAGE_PLAN, plan)
        return _plan_key(key)

    def get_usage_plan_keys(self, plan_id: str) -> list[dict[str, Any]]:
        keys = (self._get(API_KEY, k) for k in self._plan(plan_id)["_keys"])
        return [_plan_key(k) for k in keys if k is not None]

    def get_usage_plan_key(self, plan_id: str, key_id: str) -> dict[str, Any]:
        if key_id not in self._plan(plan_id)["_keys"]:
            raise NotFoundException("Invalid API Key identifier specified")
        return _plan_key(self.get_api_key(key_id, include_value=True))

    def update_usage(self, plan_id: str, key_id: str, patch_operations: Any) -> dict[str, Any]:
        """UpdateUsage: replace ``/remaining``, the requests the key may still make in the
        current quota period (a temporary extension of its quota,
        https://docs.aws.amazon.com/apigateway/latest/api/API_UpdateUsage.html); answers the
        key's usage from the period's start to today."""
        plan = self._plan(plan_id)
        if key_id not in plan["_keys"]:
            raise NotFoundException("Invalid API Key identifier specified")
        if not plan.get("quota"):
            raise BadRequestException(f"Usage plan {plan_id} has no quota to extend: give it one with UpdateUsagePlan")
        now = self.lab.clock.now()
        left = self.meter.remaining(plan, key_id, now)
        given: list[int] = []
        patch.apply(patch_operations, lambda parts: left if parts == ("remaining",) else patch.MISSING,
                    lambda operation: given.append(_remaining(operation)))
        if given:
            self.meter.extend(plan, key_id, given[-1], now)
        start = period_start(now, plan["quota"].get("period", "DAY")).strftime("%Y-%m-%d")
        return self.get_usage(plan_id, start, datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%d"), key_id)

    def delete_usage_plan_key(self, plan_id: str, key_id: str) -> None:
        plan = self._plan(plan_id)
        if key_id not in plan["_keys"]:
            raise NotFoundException("Invalid API Key identifier specified")
        plan["_keys"].remove(key_id)
        self._put(USAGE_PLAN, plan)

    # -- the invoke side --------------------------------------------------------------------

    def plan_for(self, value: str | None, api_id: str, stage: str) -> tuple[dict[str, Any], str] | None:
        """The usage plan naming ``api_id``'s ``stage`` that holds the enabled key whose
        value is ``value`` (the ``x-api-key`` header), and that key's id; ``None`` if none."""
        if not value:
            return None
        key = next((k for k in self._rows(API_KEY) if k["value"] == value), None)
        if key is None or not key["enabled"]:
            return None
        for plan in self._rows(USAGE_PLAN):
            stages = [{"apiId": s.get("apiId"), "stage": s.get("stage")} for s in plan["apiStages"]]
            if key["id"] in plan["_keys"] and {"apiId": api_id, "stage": stage} in stages:
                return plan, key["id"]
        return None

    def get_usage(self, plan_id: str, start: str, end: str, key_id: str | None = None) -> dict[str, Any]:
        """GetUsage: each key's ``[used, remaining]`` a day, from ``start`` to ``end``
        (https://docs.aws.amazon.com/apigateway/latest/api/API_GetUsage.html)."""
        plan = self._plan(plan_id)
        try:
            first, last = (datetime.strptime(d, "%Y-%m-%d").date() for d in (start, end))
        except (TypeError, ValueError):
            raise BadRequestException("Invalid date format: use YYYY-MM-DD for startDate and endDate") from None
        if not 0 <= (last - first).days < quotas.USAGE_DAYS_MAX:
            raise BadRequestException(f"The usage data period must end on or after its start and span at most "
                                      f"{quotas.USAGE_DAYS_MAX} days")
        keys = [k for k in plan["_keys"] if key_id is None or k == key_id]
        items = self.meter.usage(plan, keys, start, end, self.lab.clock.now())
        return {"usagePlanId": plan_id, "startDate": start, "endDate": end, "items": items}


def _check_limits(throttle: dict[str, Any] | None, quota: dict[str, Any] | None) -> None:
    """Refuse a throttle or quota that cannot be enforced."""
    for name, value in {**(throttle or {}), **{k: v for k, v in (quota or {}).items() if k != "period"}}.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < math.inf:
            raise BadRequestException(f"Invalid {name}: {value!r}; it must be a number, 0 or more")
    if quota is not None and quota.get("period") not in quotas.QUOTA_PERIODS:
        raise BadRequestException(f"Invalid quota period: use one of {', '.join(quotas.QUOTA_PERIODS)}")


def _remaining(operation: patch.PatchOperation) -> int:
    """UpdateUsage's one operation: ``replace`` ``/remaining`` with a whole number."""
    if operation.path != "/remaining":
        raise patch.unsupported_for_op(operation, ("/remaining",))
    patch.only_replace(operation)
    value = operation.needs_value()
    if not value.isdigit():
        raise BadRequestException(f"Invalid value for /remaining: a whole number, 0 or more, not {value!r}")
    return int(value)


def _patch_api_key(key: dict[str, Any], operation: patch.PatchOperation) -> None:
    """One UpdateApiKey operation, applied to ``key``."""
    if operation.path not in ("/name", "/description", "/enabled", "/customerId"):
        raise patch.unsupported_for_op(operation, ("/name", "/description", "/enabled", "/customerId"))
    patch.only_replace(operation)
    member = operation.parts[0]
    key[member] = patch.boolean(operation) if member == "enabled" else operation.value or ""


def _patch_usage_plan(plan: dict[str, Any], operation: patch.PatchOperation, stage_exists: Any) -> None:
    """One UpdateUsagePlan operation, applied to ``plan``."""
    if operation.path == "/apiStages" and operation.op in ("add", "remove"):
        api_id, _, stage = operation.needs_value().partition(":")
        named = [s for s in plan["apiStages"] if (s.get("apiId"), s.get("stage")) == (api_id, stage)]
        if operation.op == "remove" and not named:
            raise NotFoundException(f"Invalid API Stage {{api: {api_id}, stage: {stage}}} in usage plan {plan['id']}")
        if operation.op == "add" and stage_exists is not None and not stage_exists(api_id, stage):
            raise BadRequestException(f"Invalid API Stage {{api: {api_id}, stage: {stage}}} specified for "
                                      f"usageplan {plan['id']}")
        plan["apiStages"] = [s for s in plan["apiStages"] if s not in named]
        if operation.op == "add":
            plan["apiStages"].append({"apiId": api_id, "stage": stage})
        return
    if operation.path in ("/throttle", "/quota") and operation.op == "remove":
        plan.pop(operation.parts[0], None)
        return
    if operation.path not in _PLAN_PATHS:
        raise patch.unsupported_for_op(operation, _PLAN_PATHS)
    patch.only_replace(operation)
    if len(operation.parts) == 1:
        plan[operation.parts[0]] = operation.value or ""
        return
    group, member = operation.parts
    value: Any = operation.needs_value()
    if member != "period":
        try:
            value = float(value) if member == "rateLimit" else int(value)
        except ValueError:
            raise BadRequestException(f"Invalid {member}: {operation.value!r}; it must be a number") from None
    plan.setdefault(group, {})[member] = value


#: UpdateUsagePlan's ``replace`` paths.
_PLAN_PATHS = ("/name", "/description", "/productCode", "/throttle/rateLimit", "/throttle/burstLimit",
               "/quota/limit", "/quota/offset", "/quota/period")


def _public(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan.items() if not k.startswith("_")}


def _plan_key(key: dict[str, Any]) -> dict[str, Any]:
    return {"id": key["id"], "type": API_KEY, "value": key["value"], "name": key["name"]}
