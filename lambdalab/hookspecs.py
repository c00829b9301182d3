"""Every hook a lambdalab plugin can implement, each with what it is for.

A plugin is a module (or object) with functions named after these hooks and marked
``@lambdalab.hookimpl``; it is found through the ``lambdalab`` entry point group, or
registered by hand with ``Lab(plugins=[module])``. lambdalab's own sandbox is a plugin
registered exactly that way (``plugins/lambdalab_subprocess``). A minimal plugin::

    # my_sandbox.py
    import lambdalab

    @lambdalab.hookimpl
    def lambdalab_sandbox_backends():
        return [MySandbox]

and in its ``pyproject.toml``::

    [project.entry-points.lambdalab]
    my_sandbox = "my_sandbox"

Hooks may omit arguments they do not need (pluggy passes only the ones named).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import pluggy

if TYPE_CHECKING:
    import click

    from .invocation.destinations import Sender
    from .lab import Lab
    from .models import FunctionConfiguration
    from .logs import InvokeReport
    from .metrics import LambdaDatum
    from .protocol.authorize import Principal
    from .protocol.calls import ApiCall
    from .server.http_service import ConsolePanel, HttpService
    from .store import Migrations
    from .triggers import FunctionTrigger

hookspec = pluggy.HookspecMarker("lambdalab")
hookimpl = pluggy.HookimplMarker("lambdalab")

# -------------------------------------------------------------------------------------
# Sandbox hooks
# -------------------------------------------------------------------------------------


@hookspec
def lambdalab_sandbox_backends() -> list[type]:
    """Return the isolation backend classes this plugin provides.

    Each class follows :class:`lambdalab.sandbox.SandboxBackend`: a ``name`` attribute
    (what users pass as ``Lab(default_sandbox=NAME)``), ``start(spec)`` returning an
    :class:`~lambdalab.sandbox.ExecutionEnvironment` whose INIT has run, and ``close()``.
    lambdalab instantiates a class the first time a function needs it, with the keyword
    argument ``preload`` (module names worth importing once, before any fork).

    The core owns everything around the sandbox: the pool of warm environments,
    concurrency, START/END/REPORT lines and AWS's error shapes. A backend only starts
    environments and runs one invoke at a time in each.

    Example: a backend that runs handlers in a thread of the current process, to step
    through them with a debugger (giving up isolation)::

        @lambdalab.hookimpl
        def lambdalab_sandbox_backends():
            return [ThreadBackend]
    """


# -------------------------------------------------------------------------------------
# Observation hooks: see what the data plane does
# -------------------------------------------------------------------------------------


@hookspec
def lambdalab_environment_started(
    function_name: str, version: str, log_stream_name: str, init_duration_ms: float
) -> None:
    """Called after a new execution environment finished INIT (a cold start).

    :param function_name: the function's name.
    :param version: the version the environment runs (``$LATEST``, ``1``, …).
    :param log_stream_name: the environment's log stream, unique per environment.
    :param init_duration_ms: how long INIT took.

    Use it to count cold starts, or to show them in a dashboard.
    """


@hookspec
def lambdalab_environment_stopped(
    function_name: str, version: str, log_stream_name: str, reason: str
) -> None:
    """Called after an execution environment was shut down (its processes are gone).

    :param function_name: the function's name.
    :param version: the version the environment ran.
    :param log_stream_name: the environment's log stream, as ``lambdalab_environment_started``
        gave it.
    :param reason: ``reaped`` (idle for the lab's idle timeout), ``replaced`` (its
        version's code or configuration changed), ``retired`` (its function was deleted),
        ``lost`` (an invoke or INIT it did not survive: a timeout, a runtime that exited)
        or ``closed`` (the lab closed).

    Lambda shuts idle environments down on its own schedule
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html);
    use this hook to show when lambdalab does.
    """


@hookspec
def lambdalab_invoke_completed(report: "InvokeReport") -> None:
    """Called after every synchronous execution, with what its REPORT line says.

    :param report: request id, function, version, duration, billed duration, memory
        size and max memory used, init duration on a cold start, and the outcome; and
        what billing needs beyond the REPORT line: architecture, ephemeral storage and
        the ARN the caller invoked (with its alias or version); the environment's log
        stream, the event the handler was given and what the invoke answered.

    Metrics, cost estimates and tracing plugins build on this hook. It runs on the
    invoking thread, so keep it quick. Behind ``lambdalab serve`` it runs after the
    caller of a synchronous invoke has its answer (docs: reference/http-api).
    """


@hookspec
def lambdalab_api_call(call: "ApiCall") -> None:
    """Called after the edge answered a call of an AWS operation, on any service it serves.

    :param call: an :class:`~lambdalab.plugin.ApiCall`: the service and operation, the
        region and access key the request was signed with, the client's address and
        ``User-Agent``, the input as read, the output or the error code and message, the
        request id and the time on the lab's clock.

    Every service on the protocol layer (:class:`~lambdalab.plugin.ProtocolService`)
    reports its calls, once their operation could be read; a request too malformed to
    name an operation is not reported. It runs on the thread that answered, before the
    client has the answer, so keep it quick (queue, and write later). When no plugin
    implements it, the edge does no work for it. The CloudTrail plugin
    (``plugins/lambdalab_cloudtrail``) records calls from it::

        @lambdalab.hookimpl
        def lambdalab_api_call(call):
            if call.error_code:
                print(call.operation, "failed:", call.error_code)
    """


@hookspec(firstresult=True)
def lambdalab_principal(lab: "Lab", access_key_id: str) -> "Principal | None":
    """The principal an access key stands for, when the lab enforces IAM.

    :param lab: the lab the request reached (``lab.enforce_iam`` is true).
    :param access_key_id: the SigV4 access key id the request was signed with.

    Return a :class:`~lambdalab.plugin.Principal` (its ARN, account, type and
    identity-based policy documents) or ``None`` for a key the plugin did not issue.
    Stops at first non-None result. A key no plugin knows (other than the lab's root key,
    ``test``) is refused with ``UnrecognizedClientException``. It runs on every request
    of an enforcing lab: answer from memory. The IAM plugin answers for its users'
    and role sessions' keys; a test can give keys of its own::

        @lambdalab.hookimpl
        def lambdalab_principal(lab, access_key_id):
            if access_key_id == "AKIAALICE":
                return Principal("arn:aws:iam::000000000000:user/alice", "000000000000",
                                 policies=(ALICE_POLICY,))
    """


@hookspec(firstresult=True)
def lambdalab_resource_policy(lab: "Lab", resource_arn: str) -> "Mapping[str, Any] | None":
    """The resource-based policy of a resource a plugin keeps, when the lab enforces IAM.

    :param lab: the lab the request reached (``lab.enforce_iam`` is true).
    :param resource_arn: the ARN the request acts on (``arn:aws:sqs:…:jobs``).

    Return the policy document (parsed JSON) or ``None`` (not the plugin's resource, or
    it has no policy). Stops at first non-None result. A Lambda function's policy
    (``AddPermission``) is core's and is not asked for. Return the same object while the
    policy is unchanged: the evaluator compiles each document object once. The SQS
    plugin answers with a queue's ``Policy`` attribute::

        @lambdalab.hookimpl
        def lambdalab_resource_policy(lab, resource_arn):
            if resource_arn.startswith("arn:aws:sqs:"):
                return queue_policy(lab, resource_arn)
    """


@hookspec(firstresult=True)
def lambdalab_role_policies(lab: "Lab", role_arn: str) -> "Sequence[Mapping[str, Any]] | None":
    """The identity-based policies of a role, when a service acts with it as a function's
    execution role in a lab that enforces IAM.

    :param lab: the lab (``lab.enforce_iam`` is true).
    :param role_arn: the function's ``Role``.

    Return the role's policy documents (parsed JSON), or ``None`` for a role the plugin
    does not keep (lambdalab then lets it do everything, as the placeholder keys of such
    a function do). Stops at first non-None result. The IAM plugin answers for its roles;
    :func:`~lambdalab.plugin.denied_action` asks it::

        @lambdalab.hookimpl
        def lambdalab_role_policies(lab, role_arn):
            if role_arn == "arn:aws:iam::000000000000:role/reader":
                return [READER_POLICY]
    """


@hookspec(firstresult=True)
def lambdalab_role_boundary(lab: "Lab", role_arn: str) -> "Mapping[str, Any] | None":
    """The permissions boundary of a role, when a service acts with it as a function's
    execution role in a lab that enforces IAM: what the role's policies grant is capped
    by it (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html).

    :param lab: the lab (``lab.enforce_iam`` is true).
    :param role_arn: the function's ``Role``.

    Return the boundary's policy document (parsed JSON), or ``None`` for a role without
    one. Stops at first non-None result. The IAM plugin answers for its roles::

        @lambdalab.hookimpl
        def lambdalab_role_boundary(lab, role_arn):
            if role_arn == "arn:aws:iam::000000000000:role/reader":
                return READ_ONLY_BOUNDARY
    """


@hookspec
def lambdalab_lambda_metrics(data: "list[LambdaDatum]") -> None:
    """Called with the ``AWS/Lambda`` metric data points of one thing the data plane did.

    :param data: :class:`~lambdalab.plugin.LambdaDatum` records, each an AWS metric
        name (``Invocations``, ``Errors``, ``Duration``, ``Throttles``,
        ``ConcurrentExecutions``, ``AsyncEventsReceived``, …), a value in AWS's unit,
        and the function, ``Resource`` and ``ExecutedVersion`` it is about.

    Called once per execution (with ``Invocations``, ``Errors``, ``Duration`` and the
    concurrency at that moment), per throttled invoke, and at each step of an
    asynchronous event (received, attempted, dropped, delivery failed). It runs on
    the invoking thread: aggregate in memory and write later. A data point may be
    handed again in later calls (the same ``Invocations`` of a function, say): read
    it, keep it, but do not change it. The built-in
    ``lambdalab_cloudwatch`` plugin turns these into CloudWatch metrics::

        @lambdalab.hookimpl
        def lambdalab_lambda_metrics(data):
            for datum in data:
                counts[datum.metric] += datum.value
    """


@hookspec
def lambdalab_async_event_retry(
    request_id: str, function_name: str, qualifier: "str | None", attempts: int,
    next_attempt_at: float,
) -> None:
    """Called when an asynchronous invocation failed and is queued again for a retry.

    :param request_id: the event's request id.
    :param function_name: the function it is for.
    :param qualifier: the version or alias it named, or ``None``.
    :param attempts: how many times it has run.
    :param next_attempt_at: when the next attempt is due, on the lab's clock (epoch
        seconds): 1 minute after the first failure, 2 after the second.

    Runs on the queue's worker thread: keep it quick.
    """


@hookspec
def lambdalab_async_event_ended(
    request_id: str, function_name: str, qualifier: "str | None", condition: str,
    attempts: int, sent_to: "list[str]",
) -> None:
    """Called when an asynchronous (``Event``) invocation leaves the queue for good.

    :param request_id: the event's request id (each of its attempts ran with it).
    :param function_name: the function it was for.
    :param qualifier: the version or alias it named, or ``None``.
    :param condition: ``Success``, ``RetriesExhausted`` or ``EventAgeExceeded``: the
        ``requestContext.condition`` of AWS's invocation record.
    :param attempts: how many times it ran (0 when it never did, e.g. dropped by age).
    :param sent_to: the ARNs it was delivered to: its on-success or on-failure
        destination, its dead-letter queue. A delivery that failed is not listed; empty
        when it went nowhere.

    Lambda retries a failed event twice, 1 and 2 minutes later, then sends it on or
    drops it (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
    Not called for an event whose function was deleted while it waited. It runs on the
    queue's worker thread: keep it quick.
    """


# -------------------------------------------------------------------------------------
# Lab hooks: attach to a running lab
# -------------------------------------------------------------------------------------


@hookspec(historic=True)
def lambdalab_lab_started(lab: "Lab") -> None:
    """Called once when a :class:`~lambdalab.Lab` has opened its data dir.

    :param lab: the lab; call ``lab.invoke(...)`` to deliver events to functions.

    Trigger plugins (S3 notifications, SQS pollers, schedules) use it to start their
    work, keeping what they start in ``lab.stash`` (a :class:`~lambdalab.stash.Stash`):
    it dies with the lab, and the lab calls each value's ``close()`` when it closes. This
    hook is *historic*: a plugin registered after the lab started is still
    called, once, with that lab.
    """


@hookspec
def lambdalab_lab_closing(lab: "Lab") -> None:
    """Called when a :class:`~lambdalab.Lab` is closing, before its environments stop.

    :param lab: the lab; it can still invoke functions while this hook runs.

    A plugin that started threads in :func:`lambdalab_lab_started` (an SQS poller, a
    scheduler) stops and joins them here, so nothing touches the lab once it is closed.
    """


# -------------------------------------------------------------------------------------
# Tracing hooks: what an execution environment and an invoke carry for X-Ray
# -------------------------------------------------------------------------------------


@hookspec
def lambdalab_runtime_environment(config: "FunctionConfiguration") -> "dict[str, str] | None":
    """Return runtime variables to set in a new execution environment of ``config``.

    :param config: the function version the environment will run.

    Called before every cold start; the answers of all plugins are merged over AWS's
    defaults and under the function's own ``Environment``. The X-Ray plugin sets
    ``AWS_XRAY_DAEMON_ADDRESS`` to the loopback address its daemon listens on::

        @lambdalab.hookimpl
        def lambdalab_runtime_environment(config):
            return {"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"}
    """


@hookspec(firstresult=True)
def lambdalab_invoke_trace_header(
    config: "FunctionConfiguration", request_id: str, caller_trace_header: str | None
) -> str | None:
    """Return the X-Ray trace header for one execution, or ``None`` to keep the caller's.

    :param config: the function version about to run (``config.tracing_mode`` is its
        ``TracingConfig.Mode``).
    :param request_id: the execution's request id (the same in its InvokeReport).
    :param caller_trace_header: the X-Ray header the caller sent, as sent (Invoke's
        ``X-Amzn-Trace-Id``, a function URL's ``x-amzn-trace-id``), or ``None``.

    Stops at first non-None result. What it returns becomes the handler's
    ``_X_AMZN_TRACE_ID`` (and the Runtime API's ``Lambda-Runtime-Trace-Id``); with no
    answer, the caller's header is passed on, or the runtime makes a new unsampled one,
    as ``PassThrough`` does. It runs on the invoking thread, once the environment is
    ready, so keep it quick. The X-Ray plugin (``plugins/lambdalab_xray``) answers for
    ``Active`` functions: it samples, and names the segment it will record as
    ``Parent``.
    """


# -------------------------------------------------------------------------------------
# Control plane hooks: Lambda API resources that a plugin manages
# -------------------------------------------------------------------------------------


@hookspec
def lambdalab_event_source_mappings(lab: "Lab") -> "Mapping[str, Any] | None":
    """Return the event source mappings this plugin keeps, by the source's service.

    :param lab: the lab whose mappings are asked for.

    Return ``{service: keeper}``, ``service`` being the third field of the sources'
    ARNs (``sqs`` for ``arn:aws:sqs:…``, ``kinesis``, ``dynamodb``), or ``None``. Every
    plugin is asked, so several sources coexist: ``Lab.create_event_source_mapping``
    hands a mapping to the keeper of its ``EventSourceArn``'s service, and
    ``get``/``update``/``delete``/``list`` ask each keeper in turn. A keeper has
    ``create(function_name=…, event_source_arn=…, …)``, ``get(uuid)``,
    ``update(uuid, …)``, ``delete(uuid)`` and ``list(event_source_arn=…,
    function_name=…)``, with boto3's parameters in snake_case; ``get``, ``update`` and
    ``delete`` raise :class:`~lambdalab.errors.ResourceNotFoundException` for a UUID
    they do not keep. Two plugins claiming one service is an error.

    Mappings live on the function in AWS, but what polls a stream or queue belongs to
    the service emulated, so the SQS and Kinesis plugins answer this hook
    (``plugins/lambdalab_sqs/mappings.py``, ``plugins/lambdalab_kinesis/mappings.py``)::

        @lambdalab.hookimpl
        def lambdalab_event_source_mappings(lab):
            return {"kafka": my_cluster_pollers_of(lab)}
    """


@hookspec
def lambdalab_function_changed(lab: "Lab", function_name: str) -> None:
    """Called after a function of ``lab`` changed: created, updated, settled (``Pending``
    to ``Active``), published, deleted, its aliases or reserved concurrency changed, or a
    trigger wired to it or unwired.

    :param lab: the lab the function belongs to.
    :param function_name: the function's name.

    The registry fires it after each write of this process, whatever the door (the
    Python API, the edge, a lab's check), and the Lab after a function URL or an event
    source mapping changed; trigger plugins fire it through
    :func:`~lambdalab.plugin.function_changed`. A write by another process on the same
    data dir is not told. It runs on the writing thread: keep it quick. The web console
    implements it to redraw its functions view::

        @lambdalab.hookimpl
        def lambdalab_function_changed(lab, function_name):
            print(function_name, "changed")
    """


@hookspec
def lambdalab_function_triggers(lab: "Lab", function_name: str) -> "list[FunctionTrigger]":
    """Return what this plugin keeps that invokes ``function_name`` by itself.

    :param lab: the lab the function belongs to.
    :param function_name: the function's name; a trigger of any of its versions or
        aliases counts.

    One :class:`~lambdalab.plugin.FunctionTrigger` per wiring: a bucket notification
    (``lambdalab_s3``), a subscription (``lambdalab_sns``), a rule's target or a
    Scheduler schedule (``lambdalab_schedule``). Event source mappings and function URLs
    are Lambda's own and are read through the :class:`~lambdalab.Lab`. The console
    lists the answers under each function::

        from lambdalab.plugin import FunctionTrigger

        @lambdalab.hookimpl
        def lambdalab_function_triggers(lab, function_name):
            return [FunctionTrigger("kafka", topic) for topic in my_topics_for(function_name)]
    """


@hookspec
def lambdalab_check_execution_role(lab: "Lab", role: str, function_arn: str) -> None:
    """Check the execution role a function is created or updated with.

    :param lab: the lab the function belongs to.
    :param role: the ``Role`` ARN the caller gave (a function created without one, which
        only the Python API allows, gets the lab's default role and no check).
    :param function_arn: the function's unqualified ARN (Lambda assumes the role with it
        as ``aws:SourceArn``); an implementation may leave this parameter out.

    Raise :class:`~lambdalab.errors.InvalidParameterValueException` to refuse it, as
    Lambda refuses a role it cannot assume ("The role defined for the function cannot
    be assumed by Lambda."); return ``None`` to accept it. Nothing has been written when
    the hook runs. The IAM plugin (``plugins/lambdalab_iam``) checks the role exists and
    trusts ``lambda.amazonaws.com``::

        @lambdalab.hookimpl
        def lambdalab_check_execution_role(lab, role):
            if not role.endswith("/lambda-role"):
                raise InvalidParameterValueException("Use lambda-role.")
    """


# -------------------------------------------------------------------------------------
# Storage hooks: a plugin's own tables
# -------------------------------------------------------------------------------------


@hookspec
def lambdalab_migrations() -> "Migrations":
    """Return this plugin's tables for the lab's database, as named migrations.

    Return ``{name: SQL script}``. Each is applied once per data dir, in order, after
    lambdalab's own and in the order plugins register, and recorded by name: never edit
    or rename one that has shipped, add a new name instead. Prefix names with the
    plugin's (``sqs-1``, ``sqs-2``) so they cannot meet another plugin's; a name that
    lambdalab or another plugin already uses is an error when the lab opens.

    The tables are then in ``lab.store`` (a :class:`~lambdalab.store.Database`: write in
    ``with lab.store.transaction() as db:``, read with ``lab.store.query(...)``). A plugin
    that prefers a file of its own opens one :class:`~lambdalab.store.Database` in the
    data dir instead, as the S3 plugin does::

        @lambdalab.hookimpl
        def lambdalab_migrations():
            return {"visits-1": "CREATE TABLE visits (path TEXT PRIMARY KEY, n INTEGER)"}
    """


# -------------------------------------------------------------------------------------
# Command line hooks
# -------------------------------------------------------------------------------------


@hookspec
def lambdalab_register_commands(cli: "click.Group") -> None:
    """Add commands to ``lambdalab``, the command line (datasette's ``register_commands``).

    :param cli: the ``lambdalab`` click group; decorate commands or groups onto it.

    Called once, and only when a command core does not know is run or ``lambdalab --help``
    lists the commands: everyday commands (``invoke``) never import plugins. The names and
    one-line helps are then kept in a small cache keyed by the installed packages, so the
    next ``--help`` lists them without importing anything. A command that needs the lab
    takes it with :func:`lambdalab.plugin.pass_lab`::

        import click
        from lambdalab.plugin import hookimpl, pass_lab, say

        @hookimpl
        def lambdalab_register_commands(cli):
            @cli.command(help="Say hello, and how many functions the lab has.")
            @click.argument("name")
            @pass_lab
            def hello(lab, name):
                say(f"Hello {name}: {len(lab.list_functions())} functions.")
    """


# -------------------------------------------------------------------------------------
# Destination hooks: where asynchronous invocation records go
# -------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def lambdalab_destination_sender(lab: "Lab", destination_arn: str) -> "Sender | None":
    """Return a callable that delivers messages to ``destination_arn``, or ``None``.

    :param lab: the lab the asynchronous invocation ran in.
    :param destination_arn: an ``OnSuccess``/``OnFailure`` destination of an event
        invoke configuration, or a ``DeadLetterConfig.TargetArn``.

    Stops at first non-None result. The sender is called with one
    :class:`~lambdalab.invocation.destinations.DestinationMessage`: ``body`` (AWS's invocation
    record JSON for a destination, the event itself for a dead-letter queue) and
    ``attributes`` (``RequestID``, ``ErrorCode``, ``ErrorMessage`` for a dead-letter
    queue). It is also asked when a configuration is saved, so an ARN no plugin
    accepts is refused with InvalidParameterValueException rather than lost later.

    lambdalab itself delivers to ``arn:aws:lambda:`` ARNs (the record is invoked
    asynchronously on that function) without asking this hook. A plugin that emulates
    a queue answers for its own ARNs::

        @lambdalab.hookimpl
        def lambdalab_destination_sender(lab, destination_arn):
            if destination_arn.startswith("arn:aws:sqs:"):
                return lambda message: my_queues.send(destination_arn, message.body)
            return None
    """


# -------------------------------------------------------------------------------------
# Code hooks: where a deployment package comes from
# -------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def lambdalab_code_object(
    lab: "Lab", bucket: str, key: str, version: str | None
) -> bytes | None:
    """Return the bytes of the S3 object a function's code is taken from, or ``None``.

    :param lab: the lab the function is created or updated in.
    :param bucket: ``Code.S3Bucket`` of CreateFunction (``S3Bucket`` of
        UpdateFunctionCode).
    :param key: ``S3Key``.
    :param version: ``S3ObjectVersion``, or ``None``.

    Stops at first non-None result. A plugin that emulates S3 answers for its buckets;
    when the object cannot be read it raises
    :class:`~lambdalab.errors.InvalidParameterValueException` with AWS's sentence
    ("Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: ...").
    The S3 plugin implements it (``plugins/lambdalab_s3/__init__.py``)::

        @lambdalab.hookimpl
        def lambdalab_code_object(lab, bucket, key, version):
            return my_buckets.read(bucket, key)
    """


# -------------------------------------------------------------------------------------
# HTTP edge hooks: serve more AWS services on lambdalab's port
# -------------------------------------------------------------------------------------


@hookspec
def lambdalab_http_services(lab: "Lab") -> "list[HttpService]":
    """Return the AWS services this plugin serves on the HTTP edge (``lambdalab serve``).

    :param lab: the lab of one region the edge serves; a service's handlers call into
        it (for example ``lab.invoke(...)`` to deliver an S3 notification). The edge
        calls this hook once for each region a client signs for, with that region's lab
        (:mod:`lambdalab.regions`), so state kept per lab (``lab.stash``) is per region.

    Each :class:`~lambdalab.server.HttpService` names the service as SigV4 credential
    scopes do (``s3``, ``sqs``, ``events``) and gives an ASGI app (a Starlette app is
    the easy way) that receives every request addressed to it. Unsigned requests can be
    claimed by ``X-Amz-Target`` prefix or path prefix. A name already served is an
    error when the edge starts. Lambda itself is built in.

    Example: a tiny SQS-like JSON service::

        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route
        from lambdalab.server import HttpService

        async def dispatch(request):
            return JSONResponse({"QueueUrls": []})

        @lambdalab.hookimpl
        def lambdalab_http_services(lab):
            app = Starlette(routes=[Route("/", dispatch, methods=["POST"])])
            return [HttpService("sqs", app, target_prefixes=("AmazonSQS.",))]
    """


# -------------------------------------------------------------------------------------
# Console hooks: what the web console shows beyond its own views
# -------------------------------------------------------------------------------------


@hookspec
def lambdalab_console_panels(lab: "Lab") -> "list[ConsolePanel]":
    """Return panels this plugin adds to the web console (``/_lambdalab/console/``).

    :param lab: the lab the console shows (the edge's home region).

    Each :class:`~lambdalab.plugin.ConsolePanel` is a titled table the page draws below
    its own views, with the numbers as text, so it is readable without sight too. A
    trigger plugin shows its queue or stream; a learner's plugin can show anything.

    Example: the functions and their memory::

        from lambdalab.plugin import ConsolePanel

        @lambdalab.hookimpl
        def lambdalab_console_panels(lab):
            def rows():
                return [{"Function": f.function_name, "Memory (MB)": f.memory_size}
                        for f in lab.list_functions()]
            return [ConsolePanel("Memory", rows)]
    """


@hookspec
def lambdalab_console_panel_changed(lab: "Lab", title: str) -> None:
    """Called when a plugin says its console panel titled ``title`` shows something new
    (:func:`~lambdalab.plugin.console_panel_changed`): the console tells each page
    watching, which reads that panel again. Implemented by the console."""
