"""Plausible wrong solutions, next to the reference solutions: the mistakes a learner
makes, each as an edit of the reference solution, with the words its check's failure
must use to name the misconception.

``tests/test_labs.py`` proves that every one fails its lab's check with that message;
``benchmarks/lab_checks.py`` runs each of them (and each reference solution) 20 times.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    """``old`` -> ``new`` in ``file`` of lab ``lab``'s reference solution."""

    lab: int
    name: str
    file: str
    old: str
    new: str
    #: Words the failure (summary, got or try) must contain, naming the misconception.
    says: str
    #: Further (old, new) edits of the same file, for a mistake that spans two places.
    more: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return f"lab{self.lab:02d}-{self.name}"

    def apply(self, text: str) -> str:
        for old, new in ((self.old, self.new), *self.more):
            assert old in text, f"{self.id}: the solution no longer has {old!r}"
            text = text.replace(old, new)
        return text


MISTAKES = (
    # -- lab 1: event and context --------------------------------------------------------
    Mistake(1, "no-fallback-name", "app.py", "event.get('name', 'world')", "event['name']",
            'event.get("name", "world")'),
    Mistake(1, "typed-function-name", "app.py", '"function": context.function_name',
            '"function": "greeter"', "cannot be typed in"),
    Mistake(1, "made-up-request-id", "app.py", '"request_id": context.aws_request_id',
            '"request_id": __import__("uuid").uuid4().hex', "context.aws_request_id"),
    # -- lab 2: async retries and destinations ------------------------------------------
    Mistake(2, "default-retries", "deploy.py", "maximum_retry_attempts=1,",
            "maximum_retry_attempts=2,", "Lambda's default"),
    Mistake(2, "no-retry", "deploy.py", "maximum_retry_attempts=1,",
            "maximum_retry_attempts=0,", "no retry at all"),
    Mistake(2, "on-success", "deploy.py", '"OnFailure"', '"OnSuccess"',
            "OnSuccess destination gets the events that succeeded"),
    Mistake(2, "no-destination", "deploy.py",
            'destination_config={"OnFailure": {"Destination": audit_arn}},', "",
            "OnFailure destination"),
    # -- lab 3: errors and timeouts -------------------------------------------------------
    Mistake(3, "int-conversion", "app.py",
            "    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:\n",
            "    try:\n        quantity = int(quantity)\n    except (TypeError, ValueError):\n"
            "        raise InvalidOrder(\"quantity must be a whole number\")\n"
            "    if quantity <= 0:\n", "int(2.5) is 2"),
    Mistake(3, "bool-is-int", "app.py",
            " or isinstance(quantity, bool) or quantity <= 0:", " or quantity <= 0:",
            "True is an int"),
    Mistake(3, "int-crashes", "app.py",
            "    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:\n",
            "    if quantity is None or int(quantity) <= 0:\n",
            "before it got to InvalidOrder"),
    Mistake(3, "class-not-defined", "app.py",
            'class InvalidOrder(Exception):\n    """The order is malformed: the caller must fix it; retrying will not help."""\n',
            "", "define `class InvalidOrder(Exception)`"),
    Mistake(3, "fixed-item-count", "app.py",
            "    for item in items:\n        if context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS:\n            break\n",
            "    for item in items[:40]:\n", "not after a fixed number of items"),
    Mistake(3, "own-stopwatch", "app.py",
            "    for item in items:\n        if context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS:\n",
            "    started = time.monotonic()\n    for item in items:\n        if time.monotonic() - started > 0.75:\n",
            "a fixed time of your own"),
    # -- lab 4: cold and warm -------------------------------------------------------------
    Mistake(4, "lazy-load-in-handler", "app.py",
            "MODEL = load_model()  # runs once, during INIT\n",
            "MODEL = None\n", "at module level",
            more=(("    global INVOCATIONS\n",
                   "    global INVOCATIONS, MODEL\n    if MODEL is None:\n        MODEL = load_model()\n"),)),
    Mistake(4, "local-counter", "app.py",
            "    global INVOCATIONS\n    INVOCATIONS += 1\n    return {\"answer\": MODEL[\"answer\"], \"invocations\": INVOCATIONS}",
            "    invocations = INVOCATIONS + 1\n    return {\"answer\": MODEL[\"answer\"], \"invocations\": invocations}",
            "module-level variable"),
    Mistake(4, "loads-again-per-invoke", "app.py",
            "    global INVOCATIONS\n",
            "    global INVOCATIONS\n    load_model()\n", "and again in the handler"),
    # -- lab 5: freeze and thaw -----------------------------------------------------------
    Mistake(5, "thread-per-invoke", "app.py",
            "    flush()  # before returning: after it, the environment is frozen\n",
            "    threading.Thread(target=flush).start()\n", "races the freeze"),
    Mistake(5, "timer-at-once", "app.py",
            "    flush()  # before returning: after it, the environment is frozen\n",
            "    threading.Timer(0, flush).start()\n", "races the freeze"),
    Mistake(5, "flush-before-append", "app.py",
            '    PENDING.append({"order": event["order"], "request_id": context.aws_request_id})\n'
            "    flush()  # before returning: after it, the environment is frozen\n",
            "    flush()\n"
            '    PENDING.append({"order": event["order"], "request_id": context.aws_request_id})\n',
            "flush() after PENDING.append"),
    # -- lab 6: memory buys CPU -----------------------------------------------------------
    Mistake(6, "memory-never-set", "measure.py",
            "        lab.update_function_configuration(name, memory_size=memory_size)\n", "",
            "BEFORE each invoke"),
    Mistake(6, "memory-set-after-invoke", "measure.py",
            "        lab.update_function_configuration(name, memory_size=memory_size)\n"
            '        result = lab.invoke(name, {}, log_type="Tail")\n',
            '        result = lab.invoke(name, {}, log_type="Tail")\n'
            "        lab.update_function_configuration(name, memory_size=memory_size)\n",
            "BEFORE each invoke"),
    Mistake(6, "billed-duration", "measure.py", 'if key == "Duration":',
            'if key == "Billed Duration":', "you read Billed Duration"),
    Mistake(6, "smallest-fast-enough", "measure.py",
            "    return min(fast_enough, key=lambda m: m * durations[m])",
            "    return fast_enough[0]", "not the cheapest"),
    Mistake(6, "fastest", "measure.py",
            "    return min(fast_enough, key=lambda m: m * durations[m])",
            "    return min(fast_enough, key=lambda m: durations[m])",
            "least memory_size * duration"),
    # -- lab 7: versions and aliases ------------------------------------------------------
    Mistake(7, "all-at-once", "deploy.py",
            '        function_version=stable,\n        routing_config={"AdditionalVersionWeights": {new: CANARY_WEIGHT}},\n',
            "        function_version=new,\n", "not a canary"),
    Mistake(7, "publish-without-upload", "deploy.py",
            "    lab.update_function_code(name, code_dir)\n", "", "update_function_code"),
    Mistake(7, "assumes-version-1", "deploy.py",
            '    stable = lab.get_alias(name, "live").function_version\n',
            '    stable = "1"\n', "instead of assuming a number"),
    Mistake(7, "returns-a-number", "deploy.py", "    return new\n", "    return int(new)\n",
            "publish_version(name).version"),
    # -- lab 8: concurrency and throttling ------------------------------------------------
    Mistake(8, "constant-sleep", "deploy.py",
            "            time.sleep(delay)\n            delay *= 2\n",
            "            time.sleep(0.5)\n", "must double"),
    Mistake(8, "no-wait", "deploy.py",
            "            time.sleep(delay)\n            delay *= 2\n", "            pass\n",
            "without waiting"),
    Mistake(8, "returns-none-when-exhausted", "deploy.py",
            "            if attempt == attempts - 1:\n                raise\n", "",
            "returning None hides the throttle"),
    Mistake(8, "result-not-returned", "deploy.py", "            return lab.invoke(name, payload)\n",
            "            result = lab.invoke(name, payload)\n            break\n",
            "return the result of lab.invoke"),
    Mistake(8, "retries-forever", "deploy.py",
            "    for attempt in range(attempts):\n", "    attempt = -1\n    while True:\n",
            "never gives up"),
    Mistake(8, "no-first-delay", "deploy.py", "FIRST_DELAY_S = 0.1", "FIRST_DELAY_S = 0",
            "start with FIRST_DELAY_S (0.1 s)"),
    Mistake(8, "cap-of-one", "deploy.py", "lab.put_function_concurrency(name, 2)",
            "lab.put_function_concurrency(name, 1)", "not capped at 2"),
    # -- lab 9: the S3 trigger ------------------------------------------------------------
    Mistake(9, "no-permission", "wire.py",
            '    lab.add_permission(\n        function_name, "s3-photos", "lambda:InvokeFunction", "s3.amazonaws.com",\n        source_arn="arn:aws:s3:::" + PHOTOS,\n    )\n',
            "", "add_permission"),
    Mistake(9, "no-suffix-filter", "wire.py",
            '            "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}},\n',
            "", "suffix"),
    Mistake(9, "unquote-not-plus", "app.py", "urllib.parse.unquote_plus(", "urllib.parse.unquote(",
            "unquote_plus"),
    # -- lab 10: SQS batches --------------------------------------------------------------
    Mistake(10, "catches-too-little", "worker.py", "except Exception as error:",
            "except KeyError as error:", "batchItemFailures"),
    Mistake(10, "swallowed-failures", "worker.py",
            '            failures.append({"itemIdentifier": record["messageId"]})\n', "",
            "as if they had succeeded"),
    Mistake(10, "too-many-receives", "worker.py", '"maxReceiveCount": 3', '"maxReceiveCount": 5',
            "maxReceiveCount 3"),
    Mistake(10, "no-partial-responses", "worker.py",
            '        function_response_types=["ReportBatchItemFailures"],\n', "",
            "report single failures"),
    # -- lab 11: schedules ----------------------------------------------------------------
    Mistake(11, "unix-day-numbers", "deploy.py", "MON-FRI", "1-5", "1-7 from SUNDAY"),
    Mistake(11, "local-time", "deploy.py", "cron(30 3 ", "cron(30 4 ", "cron runs in UTC"),
    Mistake(11, "daily-rate", "deploy.py", '"cron(30 3 ? * MON-FRI *)"', '"rate(1 day)"',
            "cron(minutes hours"),
    Mistake(11, "both-day-fields", "deploy.py", "cron(30 3 ? * MON-FRI *)",
            "cron(30 3 * * MON-FRI *)", "ValidationException"),
    # -- lab 12: your own trigger ---------------------------------------------------------
    Mistake(12, "synchronous-invoke", "heartbeat.py", ', invocation_type="Event")', ")",
            "invoked synchronously"),
    Mistake(12, "beats-once", "heartbeat.py",
            "    lab.clock.call_later(BEAT_S, lambda: beat(lab, number + 1))\n", "",
            "schedule the next one"),
    Mistake(12, "ignores-opt-in", "heartbeat.py",
            '        if function.environment.get(OPT_IN) == "on":\n            event', "        if True:\n            event",
            "did not opt in"),
    Mistake(12, "not-a-hook", "heartbeat.py", "@lambdalab.hookimpl\n", "", "@lambdalab.hookimpl"),
    # -- lab 13: your own backend ---------------------------------------------------------
    Mistake(13, "not-a-hook", "threads.py", "@lambdalab.hookimpl\n", "", "@lambdalab.hookimpl"),
    Mistake(13, "imports-per-invoke", "threads.py", "result = self.handler(event, context)",
            "result = load_handler(self.spec)(event, context)", "import the handler once"),
    Mistake(13, "error-reported-as-ok", "threads.py",
            'status, payload = "error", json.dumps(error_object(exc)).encode()',
            'status, payload = "ok", json.dumps(error_object(exc)).encode()',
            'InvokeOutcome("error"'),
    # -- lab 14: memory by cost ---------------------------------------------------------
    Mistake(14, "smallest-fast-enough", "choose.py",
            "key=lambda p: (p.cost.total_usd, p.measured.memory_mb)",
            "key=lambda p: p.measured.memory_mb", "smallest size that meets the target"),
    Mistake(14, "fastest", "choose.py",
            "key=lambda p: (p.cost.total_usd, p.measured.memory_mb)",
            "key=lambda p: p.measured.average_duration_ms", "the fastest, but not the cheapest"),
    Mistake(14, "ignores-target", "choose.py",
            "fast_enough = [p for p in projections if p.measured.average_duration_ms <= target_ms]",
            "fast_enough = list(projections)", "over the target"),
    Mistake(14, "after-free-tier", "choose.py", "(p.cost.total_usd, p.measured.memory_mb)",
            "(p.cost.after_free_tier_usd, p.measured.memory_mb)", "free tier"),
    Mistake(14, "larger-on-a-tie", "choose.py", "(p.cost.total_usd, p.measured.memory_mb)",
            "(p.cost.total_usd, -p.measured.memory_mb)", "return the smaller one"),
    Mistake(14, "one-invoke-each", "choose.py", "for _ in range(2):", "for _ in range(1):",
            "cold start"),
    Mistake(14, "memory-never-changed", "choose.py",
            "        lab.update_function_configuration(name, memory_size=memory_size)\n", "",
            "update_function_configuration"),
    # -- lab 15: an alarm that catches a bad deploy ------------------------------------
    Mistake(15, "function-not-alias", "alarm.py",
            '                       {"Name": "Resource", "Value": f"{name}:live"}],',
            "                       ],", "Resource"),
    Mistake(15, "twitchy", "alarm.py", '"EvaluationPeriods": 3,\n        "DatapointsToAlarm": 3,',
            '"EvaluationPeriods": 1,\n        "DatapointsToAlarm": 1,', "too twitchy"),
    Mistake(15, "two-of-three", "alarm.py", '"DatapointsToAlarm": 3,', '"DatapointsToAlarm": 2,',
            "too twitchy"),
    Mistake(15, "missing-is-breaching", "alarm.py", '"TreatMissingData": "notBreaching",',
            '"TreatMissingData": "breaching",', "TreatMissingData"),
    Mistake(15, "threshold-out-of-reach", "alarm.py", '"Threshold": 1,', '"Threshold": 10,',
            "threshold it cannot reach"),
    Mistake(15, "alias-value-alone", "alarm.py", '"Value": f"{name}:live"}', '"Value": "live"}',
            "no data at all"),
    Mistake(15, "no-action", "alarm.py", '        "AlarmActions": [rollback_arn],\n', "",
            "AlarmActions"),
    Mistake(15, "ok-action", "alarm.py", '"AlarmActions": [rollback_arn]', '"OKActions": [rollback_arn]',
            "OKActions"),
    # -- lab 16: where did the time go ---------------------------------------------------
    Mistake(16, "lambdas-own-parts", "trace.py",
            '        if sub["name"] in LAMBDAS_OWN:\n            continue\n', "",
            "Lambda's own part"),
    Mistake(16, "call-not-subtracted", "trace.py",
            ' + downstream.get(sub["id"], [])', "", "call to another traced function"),
    Mistake(16, "children-not-subtracted", "trace.py",
            'sub.get("subsegments", []) + ', "", "its own subsegments"),
    Mistake(16, "percent", "trace.py", "own[name] / duration(root)",
            "100 * own[name] / duration(root)", "not a percentage"),
    Mistake(16, "share-of-the-function", "trace.py",
            "    root = next(s for s in segments if not s.get(\"parent_id\"))\n",
            "    root = next(s for s in segments for sub in parts(s) if sub[\"name\"] == name)\n",
            "whole trace"),
    Mistake(16, "names-the-function", "trace.py", "    return name, own[name] / duration(root)",
            "    function = next(s[\"name\"] for s in segments for sub in parts(s) if sub[\"name\"] == name)\n"
            "    return function, own[name] / duration(root)", "whole function"),
    # -- lab 17: fan-out with SNS and filter policies ----------------------------------
    Mistake(17, "at-least-1000", "subscriptions.py", '[{"numeric": [">", 1000]}]',
            '[{"numeric": [">=", 1000]}]', "not over 1000"),
    Mistake(17, "any-big-total", "subscriptions.py",
            '{"event_type": ["order_placed"],\n                                    "total"',
            '{"total"', "the event type too"),
    Mistake(17, "placed-only", "subscriptions.py", '["order_placed", "order_refunded"]',
            '["order_placed"]', "any of them"),
    Mistake(17, "body-as-attributes", "subscriptions.py",
            '        "FilterPolicyScope": "MessageBody",\n', "", "FilterPolicyScope"),
    Mistake(17, "wrapped", "subscriptions.py", '        "RawMessageDelivery": "true",\n', "",
            "RawMessageDelivery"),
    Mistake(17, "prefix-without-dash", "subscriptions.py", '{"prefix": "eu-"}', '{"prefix": "eu"}',
            "dash included"),
    # -- lab 18: ordering and parallelism in a stream ----------------------------------
    Mistake(18, "one-shard", "stream.py", "SHARDS = 4", "SHARDS = 1", "one batch at a time"),
    Mistake(18, "two-shards", "stream.py", "SHARDS = 4", "SHARDS = 2", "At most 2 batches at once"),
    Mistake(18, "key-per-order", "stream.py", 'return order["customer"]', 'return order["id"]',
            "shards are read independently"),
    Mistake(18, "random-keys", "stream.py", 'return order["customer"]',
            'return __import__("uuid").uuid4().hex', "shards are read independently"),
    Mistake(18, "factor-with-key-per-order", "stream.py", 'return order["customer"]', 'return order["id"]',
            "keeps order per partition key, not per shard",
            more=(("SHARDS = 4", "SHARDS = 1"), ("PARALLELIZATION_FACTOR = 1", "PARALLELIZATION_FACTOR = 4"))),
    Mistake(18, "factor-with-key-per-region", "stream.py", 'return order["customer"]', 'return order["region"]',
            "only 2 distinct partition keys",
            more=(("SHARDS = 4", "SHARDS = 1"), ("PARALLELIZATION_FACTOR = 1", "PARALLELIZATION_FACTOR = 4"))),
    Mistake(18, "one-key", "stream.py", 'return order["customer"]', 'return "orders"',
            "only 1 distinct partition key"),
    # -- lab 19: a poison record blocks a shard -----------------------------------------
    Mistake(19, "retries-forever", "mapping.py", "        maximum_retry_attempts=2,\n", "",
            "MaximumRetryAttempts -1"),
    Mistake(19, "no-destination", "mapping.py",
            '        destination_config={"OnFailure": {"Destination": failures_arn}},\n', "",
            "no OnFailure destination"),
    Mistake(19, "no-bisect", "mapping.py", "        bisect_batch_on_function_error=True,\n", "",
            "BisectBatchOnFunctionError splits"),
    Mistake(19, "report-but-raise", "mapping.py", "        bisect_batch_on_function_error=True,\n",
            '        function_response_types=["ReportBatchItemFailures"],\n', "itemIdentifier"),
    Mistake(19, "swallow-errors", "app.py",
            "        order = json.loads(base64.b64decode(record[\"kinesis\"][\"data\"]))\n"
            "        total = order[\"price\"] * order[\"quantity\"]\n",
            "        try:\n"
            "            order = json.loads(base64.b64decode(record[\"kinesis\"][\"data\"]))\n"
            "            total = order[\"price\"] * order[\"quantity\"]\n"
            "        except Exception:\n            continue\n", "caught the error"),
    # -- lab 20: route events by pattern with EventBridge -------------------------------
    Mistake(20, "at-least-100", "rules.py", '[{"numeric": [">", 100]}]', '[{"numeric": [">=", 100]}]',
            "not over 100"),
    Mistake(20, "any-status", "rules.py", '"status": ["paid"], ', "", "only paid"),
    Mistake(20, "any-source", "rules.py", '        "source": ["com.example.orders"],\n', "",
            "another source"),
    Mistake(20, "fields-at-the-top", "rules.py",
            '"detail": {"status": ["paid"], "total": [{"numeric": [">", 100]}]},',
            '"status": ["paid"], "total": [{"numeric": [">", 100]}],', "are in detail"),
    Mistake(20, "total-as-text", "rules.py", '[{"numeric": [">", 100]}]', '[">100"]',
            "compared with {\"numeric\""),
    # -- lab 21: an audit trail from a table's stream ----------------------------------
    Mistake(21, "keys-only", "stream.py", '"NEW_AND_OLD_IMAGES"', '"KEYS_ONLY"',
            "no value before nor after"),
    Mistake(21, "new-image", "stream.py", '"NEW_AND_OLD_IMAGES"', '"NEW_IMAGE"', "no OldImage"),
    Mistake(21, "latest", "stream.py", '"TRIM_HORIZON"', '"LATEST"', "LATEST reads only"),
    Mistake(21, "ignores-remove", "app.py", '        change = record["dynamodb"]\n',
            '        change = record["dynamodb"]\n        if record["eventName"] == "REMOVE":\n'
            '            continue\n', "deletes are missing"),
    Mistake(21, "new-image-on-remove", "app.py", 'change.get("NewImage", {})', 'change["NewImage"]',
            "MaximumRetryAttempts"),
    Mistake(21, "whole-item", "app.py",
            'before, after = changed(change.get("OldImage", {}), change.get("NewImage", {}))',
            'before, after = change.get("OldImage", {}), change.get("NewImage", {})',
            "only the attributes that changed"),
    # -- lab 22: the least privilege for a function that reads from S3 -----------------
    Mistake(22, "s3-star-everywhere", "policy.py",
            '            "Action": "s3:GetObject",\n            "Resource": f"arn:aws:s3:::{bucket}/{prefix}*",\n',
            '            "Action": "s3:*",\n            "Resource": "*",\n', "overwrite and delete"),
    Mistake(22, "get-anything", "policy.py", 'f"arn:aws:s3:::{bucket}/{prefix}*"', '"*"',
            "every bucket of the account"),
    Mistake(22, "bucket-arn", "policy.py", 'f"arn:aws:s3:::{bucket}/{prefix}*"', 'f"arn:aws:s3:::{bucket}"',
            "is the bucket itself"),
    Mistake(22, "wrong-bucket", "policy.py", 'f"arn:aws:s3:::{bucket}/{prefix}*"',
            'f"arn:aws:s3:::reports/{prefix}*"', "does not name the bucket"),
    Mistake(22, "whole-bucket", "policy.py", 'f"arn:aws:s3:::{bucket}/{prefix}*"', 'f"arn:aws:s3:::{bucket}/*"',
            "outside reports/"),
    # -- lab 23: a bucket policy, not a role policy ---------------------------------------
    Mistake(23, "public", "policy.py", '"Principal": {"AWS": role_arn}', '"Principal": "*"', "public"),
    Mistake(23, "the-account", "policy.py", '"Principal": {"AWS": role_arn}',
            '"Principal": {"AWS": "arn:aws:iam::000000000000:root"}', "delegates"),
    Mistake(23, "s3-star", "policy.py", '"Action": "s3:GetObject"', '"Action": "s3:*"', "overwrite and delete"),
    Mistake(23, "whole-bucket", "policy.py", 'f"arn:aws:s3:::{bucket}/{prefix}*"', 'f"arn:aws:s3:::{bucket}/*"',
            "outside reports/"),
    Mistake(23, "bucket-arn", "policy.py", 'f"arn:aws:s3:::{bucket}/{prefix}*"', 'f"arn:aws:s3:::{bucket}"',
            "Action does not apply"),
    Mistake(23, "no-principal", "policy.py", '            "Principal": {"AWS": role_arn},\n', "",
            "Principal"),
    # -- lab 24: canary deployments ------------------------------------------------------
    Mistake(24, "all-at-once", "template.yaml", "Type: Canary10Percent5Minutes", "Type: AllAtOnce",
            "all at once"),
    Mistake(24, "no-alarm", "template.yaml", "        Alarms:\n          - !Ref CheckoutErrors\n", "",
            "watches no alarm"),
    Mistake(24, "function-errors", "template.yaml",
            '        - Name: Resource\n          Value: !Sub "${Checkout}:live"\n', "", "$LATEST"),
    Mistake(24, "slow-linear", "template.yaml", "Type: Canary10Percent5Minutes",
            "Type: Linear10PercentEvery10Minutes", "too long"),
    Mistake(24, "never-reports", "hooks.py", "    codedeploy.put_lifecycle_event_hook_execution_status(",
            "    dict(", "PutLifecycleEventHookExecutionStatus"),
    Mistake(24, "always-succeeds", "hooks.py", 'status="Succeeded" if works else "Failed")',
            'status="Succeeded")', "smoke test"),
)
