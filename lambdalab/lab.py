"""``Lab``: lambdalab's Python API, shaped like boto3's Lambda client.

Every method mirrors the boto3 method of the same name, with parameters in snake_case
(``FunctionName`` → ``function_name``, ``MemorySize`` → ``memory_size``) and results as
dataclasses whose ``to_aws()`` gives the exact JSON the Lambda API returns::

    >>> from lambdalab import Lab
    >>> with Lab(data_dir=tmp) as lab:                                  # doctest: +SKIP
    ...     lab.create_function(function_name="hello", runtime="python3.12",
    ...                         handler="app.handler", code="path/to/dir")
    ...     lab.invoke("hello", {"name": "world"}).json()
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import config as check
from . import limits
from .arn import (
    ArnBuilder,
    checked_account_id,
    checked_region,
    parse_function_ref,
    taggable_function,
)
from .invocation.event_queue import AsyncEvent, EventPolicy, EventQueue, QueuedEvent, QueueHooks
from .clock import Clock, RealClock
from .code import FUNCTION_OBJECT_HANDLER, CodeSource, check_zip, package
from .invocation.destinations import (
    DestinationMessage,
    EventInvokeConfigs,
    FunctionEventInvokeConfig,
)
from .invocation.backends import Backends
from .invocation.environments import EnvironmentPool, PooledEnvironment
from .function_urls import FunctionUrlConfig, FunctionUrls
from .errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from .layers import LayerOperations, Layers, collect_opt_directories
from .invocation.invoker import Answer, Invoker, Payload, RunBlocking, Steps, drive, drive_async
from .logs import LogEvent, LogStore
from .models import AliasConfiguration, FunctionConfiguration, FunctionDetails, InvokeResult
from .permissions import Permissions, Policy
from .plugins import PluginInfo, describe, make_plugin_manager, migrations
from .registry import Registry, aws_timestamp, new_revision_id
from .source_mappings import MAPPING_ARN, MappingTags, SourceMappings, mapping_uuid
from .stash import Stash

DEFAULT_DATA_DIR = ".lambdalab"
DEFAULT_ROLE_NAME = "lambdalab-execution-role"
#: The edge path that serves a code blob by its SHA-256 (GetFunction's ``Code.Location``).


def default_data_dir() -> Path:
    """``$LAMBDALAB_DATA_DIR``, else ``./.lambdalab``: where a Lab keeps its state."""
    return Path(os.environ.get("LAMBDALAB_DATA_DIR", DEFAULT_DATA_DIR))


def local_runtime() -> str:
    """The runtime name of the interpreter lambdalab runs on, e.g. ``python3.12``."""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def _check_ranges(
    operation: str, memory_size: Any, timeout: Any, ephemeral_storage: Any
) -> None:
    """Raise what Lambda answers for a number below its input shape's minimum
    (``MemorySize`` 128, ``Timeout`` 1, ``EphemeralStorage.Size`` 512 in botocore's
    model): ValidationException, ``1 validation error detected: Value '100' at
    'memorySize' failed to satisfy constraint: …``, before anything else is looked at,
    as the HTTP edge answers. Values of the wrong type and Lambda's own limits beyond the
    model (10,240 MB, 900 s) are left to :mod:`lambdalab.config`.
    """
    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    params: dict[str, Any] = {}
    if whole(memory_size):
        params["MemorySize"] = memory_size
    if whole(timeout):
        params["Timeout"] = timeout
    if whole(ephemeral_storage):
        params["EphemeralStorage"] = {"Size": ephemeral_storage}
    if not params:
        return
    from .protocol.validate import message, validate  # botocore's model: load when needed

    violations = [v for v in validate("lambda", operation, params) if v.members[0] in params]
    if violations:
        raise ValidationException(message(violations))


def _tracing_mode(operation: str, tracing_config: Mapping[str, Any] | None) -> str | None:
    """``TracingConfig.Mode``, checked against botocore's model (``Active`` or
    ``PassThrough``), or ``None`` when the caller left it out."""
    if tracing_config is None:
        return None
    from .protocol.validate import message, validate

    params = {"TracingConfig": tracing_config}
    violations = [v for v in validate("lambda", operation, params) if v.members[0] in params]
    if violations:
        raise ValidationException(message(violations))
    return tracing_config.get("Mode")


def _variables(environment: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Accept boto3's ``{"Variables": {...}}`` as well as a plain mapping."""
    if environment is not None and set(environment) == {"Variables"}:
        return environment["Variables"]
    return environment


class Lab(LayerOperations):
    """AWS Lambda on this machine, with its state in ``data_dir``.

    :param data_dir: where functions, versions, logs and code live (default
        ``./.lambdalab``, or ``$LAMBDALAB_DATA_DIR``). Reopening it restores everything.
    :param clock: :class:`~lambdalab.clock.RealClock` (default) or a
        :class:`~lambdalab.clock.VirtualClock` to move time by hand.
    :param region: the region in ARNs and ``AWS_REGION`` [default: the data dir's home
        region (:mod:`lambdalab.regions`), else ``$LAMBDALAB_REGION``, else ``us-east-1``].
    :param account_id: the account in ARNs [default: ``$LAMBDALAB_ACCOUNT_ID``, else
        ``000000000000``].
    :param state_transition: seconds of ``clock`` a new function stays ``Pending`` and
        an update ``InProgress`` (default 0: the answer of the call shows the state, the
        next read shows ``Active`` / ``Successful``).
    :param account_concurrency: concurrent executions for the whole account.
    :param idle_timeout: seconds an environment may stay idle before it is reaped.
    :param default_sandbox: the isolation backend functions without their own run in
        [default: ``$LAMBDALAB_SANDBOX``, else ``"limited"``].
    :param plugins: extra plugin modules or objects to register.
    :param preload: modules the sandbox imports once so cold starts skip them.
    :param log_max_bytes: the most log data the data dir keeps; past it the oldest events
        go (lambdalab's own cap; 0 keeps everything) [default: ``$LAMBDALAB_LOG_MAX_MB``
        megabytes, else 100 MB].
    :param enforce_iam: authorise every request to the edge from its access key, with
        IAM's policies (``docs/reference/iam-enforcement.rst``) [default:
        ``$LAMBDALAB_ENFORCE_IAM``, else off].
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        clock: Clock | None = None,
        region: str | None = None,
        account_id: str | None = None,
        account_concurrency: int = limits.ACCOUNT_CONCURRENCY_DEFAULT,
        idle_timeout: float = limits.IDLE_ENVIRONMENT_TTL_S,
        default_sandbox: str | None = None,
        plugins: Iterable[Any] = (),
        preload: tuple[str, ...] = ("boto3",),
        log_max_bytes: int | None = None,
        state_transition: float = limits.STATE_TRANSITION_S,
        enforce_iam: bool | None = None,
    ) -> None:
        from .store import Store

        self.plugin_manager = make_plugin_manager(plugins)
        self.store = Store(
            data_dir if data_dir is not None else default_data_dir(),
            migrations(self.plugin_manager),
        )
        #: Plugins' per-lab state (:class:`~lambdalab.stash.Stash`), closed with the lab.
        self.stash = Stash()
        self.clock = clock or RealClock()
        self.arns = ArnBuilder(
            checked_region(
                region or self.store.home_region()
                or os.environ.get("LAMBDALAB_REGION") or limits.DEFAULT_REGION
            ),
            checked_account_id(
                account_id or os.environ.get("LAMBDALAB_ACCOUNT_ID") or limits.DEFAULT_ACCOUNT_ID
            ),
        )
        self.preload = preload
        #: Whether the edge authorises every request from its access key
        #: (:mod:`lambdalab.protocol.authorize`); default: ``$LAMBDALAB_ENFORCE_IAM``.
        self.enforce_iam = _enforce_iam(enforce_iam)
        self.registry = Registry(self.store, self.arns, self.clock.now, state_transition)
        self.registry.on_change = self._function_changed
        self.pool = EnvironmentPool(
            self.clock, idle_timeout, account_concurrency, stopped=self._environment_stopped
        )
        self.logs = LogStore(
            self.store, now=self.clock.now, max_bytes=_log_max_bytes(log_max_bytes)
        )
        self.permissions = Permissions(self.store, self.registry, self.arns)
        self.layers = Layers(self.store, self.arns, self.clock.now)
        self.backends = Backends(
            self.plugin_manager.hook.lambdalab_sandbox_backends,
            default_sandbox or os.environ.get("LAMBDALAB_SANDBOX", "limited"),
            preload,
        )
        self._code_lock = threading.Lock()
        self._code_deferred: set[str] = set()  # code kept for a running environment
        self.events = EventQueue(
            self.store,
            self.clock,
            QueueHooks(
                run=self._run_event,
                policy=self._event_policy,
                deliver=self._deliver,
                reserved=self.registry.reserved_concurrency,
                metrics=lambda data: self.plugin_manager.hook.lambdalab_lambda_metrics(data=data),
                ended=self._event_ended,
                retry=self._event_retry,
            ),
        )
        self.event_configs = EventInvokeConfigs(
            self.store,
            self.registry,
            self.arns,
            self.clock,
            invoke_event=lambda arn, event: self.invoke(arn, event, invocation_type="Event"),
            plugin_sender=lambda arn: self.plugin_manager.hook.lambdalab_destination_sender(
                lab=self, destination_arn=arn
            ),
            role_denies=self._role_denies,
        )
        self.mapping_tags = MappingTags(self.store)
        self.invoker = Invoker(
            store=self.store,
            registry=self.registry,
            pool=self.pool,
            logs=self.logs,
            arns=self.arns,
            backend=self.backends.for_function,
            hooks=self.plugin_manager,
            enqueue=self.events.put,
            now=self.clock.now,
        )
        self.function_urls = FunctionUrls(
            self.store, self.registry, self.arns, self.clock.now, lambda: self.endpoint_url
        )
        self._closed = False
        self.collect_code()  # what a crash or an older lambdalab left behind
        self.events.start()  # events acknowledged before a restart still run
        self.plugin_manager.hook.lambdalab_lab_started.call_historic(kwargs={"lab": self})

    # -- plugins and sandboxes --------------------------------------------------------

    @property
    def default_sandbox(self) -> str:
        """The isolation backend functions without their own ``Sandbox`` run in."""
        return self.backends.default

    @default_sandbox.setter
    def default_sandbox(self, name: str) -> None:
        self.backends.default = name

    def sandbox_backends(self) -> dict[str, type]:
        """Every backend class the loaded plugins offer, by name."""
        return self.backends.classes()

    def plugins(self) -> list[PluginInfo]:
        """Every loaded plugin, where it came from and the hooks it implements."""
        return describe(self.plugin_manager)

    # -- functions --------------------------------------------------------------------

    def create_function(
        self,
        function_name: str,
        code: CodeSource,
        *,
        runtime: str | None = None,
        handler: str | None = None,
        role: str | None = None,
        memory_size: int = limits.MEMORY_DEFAULT_MB,
        timeout: int = limits.TIMEOUT_DEFAULT_S,
        environment: Mapping[str, Any] | None = None,
        description: str = "",
        ephemeral_storage: int = limits.EPHEMERAL_STORAGE_DEFAULT_MB,
        publish: bool = False,
        dead_letter_config: Mapping[str, Any] | None = None,
        sandbox: str | None = None,
        tags: Mapping[str, str] | None = None,
        layers: Sequence[str] | None = None,
        tracing_config: Mapping[str, Any] | None = None,
        logging_config: Mapping[str, Any] | None = None,
    ) -> FunctionConfiguration:
        """Create a function from a directory, a .zip, zip bytes or a Python function.

        ``handler`` is ``module.function`` (``file.function`` for Node.js); it may be
        left out when ``code`` is a Python function object. A ``provided.*`` function's
        handler is any name its bootstrap reads from ``_HANDLER`` (``"bootstrap"`` if
        left out). ``runtime`` defaults to the local interpreter's.
        ``sandbox`` (a lambdalab extension, not an AWS parameter) names the isolation
        backend to run it in, e.g. ``"limited"``; ``None`` follows the Lab's default.
        ``logging_config`` is AWS's ``LoggingConfig`` (``{"LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG", "LogGroup": "/my/group"}``): JSON logs, their
        levels, and the group they go to (:doc:`/how-to/read-logs`).
        """
        _check_ranges("CreateFunction", memory_size, timeout, ephemeral_storage)
        name = check.function_name(function_name)
        if role is not None:
            self.plugin_manager.hook.lambdalab_check_execution_role(lab=self, role=role,
                                                                    function_arn=self.arns.function(name))
        tracing_mode = _tracing_mode("CreateFunction", tracing_config) or "PassThrough"
        if handler is None and callable(code) and not isinstance(code, (str, os.PathLike)):
            handler = FUNCTION_OBJECT_HANDLER
        runtime = check.runtime(runtime or local_runtime())
        config = FunctionConfiguration(
            function_name=name,
            function_arn=self.arns.function(name),
            runtime=runtime,
            role=role or self.arns.role(DEFAULT_ROLE_NAME),
            handler=check.handler(handler, runtime),
            description=check.description(description),
            timeout=check.timeout(timeout),
            memory_size=check.memory_size(memory_size),
            environment=check.environment(_variables(environment)),
            ephemeral_storage=check.ephemeral_storage(ephemeral_storage),
            sandbox=None if sandbox is None else self.backends.check(sandbox, runtime),
            code_size=0,
            code_sha256="",
            last_modified=aws_timestamp(self.clock.now()),
            revision_id=new_revision_id(),
            tags=_checked_tags({}, tags or {}),
            tracing_mode=tracing_mode,
            **self.registry.pending(),
        )
        if dead_letter_config is not None:
            config = config.evolve(dead_letter_target_arn=self._dead_letter(dead_letter_config))
        if logging_config is not None:
            config = config.evolve(logging=check.logging_config(logging_config, config.logging))
        pkg = package(code)
        config = config.evolve(
            code_size=pkg.size, code_sha256=pkg.code_sha256, code_blob=pkg.sha256_hex,
            layers=self._function_layers(layers or (), lambda: pkg.unzipped_size),
        )
        with self._code_lock:  # a collection must not remove the blob before it is named
            self.store.put_blob(pkg.sha256_hex, pkg.zip_bytes)
            self.registry.create(config)
        if not publish:
            return config
        # AWS answers with version 1's configuration under the function's own ARN.
        version = self.registry.publish(name, while_settling=True)
        return version.evolve(function_arn=config.function_arn)

    def get_function(self, function_name: str, qualifier: str | None = None) -> FunctionDetails:
        """Configuration, code location and reserved concurrency of a function version."""
        ref = parse_function_ref(function_name, qualifier)
        config = self._named(ref.name, ref.qualifier)
        return FunctionDetails(
            configuration=config,
            code_location=self.code_location(config),
            reserved_concurrency=self.registry.reserved_concurrency(ref.name),
            tags=self.registry.get(ref.name).tags,
        )

    def code_location(self, config: FunctionConfiguration) -> str:
        """Where GetFunction's ``Code.Location`` sends a client for the zip: an HTTP URL
        on the edge when one serves this lab (AWS's is a presigned S3 URL), else the
        blob's ``file://`` path."""
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}{limits.CODE_PATH}{config.code_blob}"
        return self.store.blob_path(config.code_blob).as_uri()

    def _named(self, name: str, qualifier: str | None) -> FunctionConfiguration:
        """The configuration a qualifier names, under the ARN AWS answers with: asked for
        ``$LATEST`` or an alias by name, AWS names the configuration by that qualifier
        (``...:function:NAME:$LATEST``, ``...:function:NAME:live`` with ``Version`` 1)."""
        config = self.registry.get(name, qualifier)
        if qualifier is not None and not qualifier.isdigit():
            return config.evolve(function_arn=self.arns.function(name, qualifier))
        return config

    def get_function_configuration(
        self, function_name: str, qualifier: str | None = None
    ) -> FunctionConfiguration:
        """The configuration of ``$LATEST``, a version, or the version an alias points at."""
        ref = parse_function_ref(function_name, qualifier)
        return self._named(ref.name, ref.qualifier)

    def list_functions(self) -> list[FunctionConfiguration]:
        """Every function's ``$LATEST`` configuration, by name."""
        return self.registry.list_functions()

    def update_function_code(
        self, function_name: str, code: CodeSource, *, publish: bool = False
    ) -> FunctionConfiguration:
        """Replace ``$LATEST``'s code; its warm environments serve until the update is done."""
        name = parse_function_ref(function_name).name
        self.registry.refuse_if_busy(name)  # before the new code is stored
        layers = self.registry.get(name).layers
        pkg = package(code)
        self._function_layers([x.arn for x in layers], lambda: pkg.unzipped_size, layers)
        with self._code_lock:
            old = self.registry.code_blobs(name, limits.LATEST)
            self.store.put_blob(pkg.sha256_hex, pkg.zip_bytes)
            config = self.registry.update_latest(
                name, code_size=pkg.size, code_sha256=pkg.code_sha256, code_blob=pkg.sha256_hex
            )
        self.collect_code(old)
        return self.registry.publish(name, while_settling=True) if publish else config

    def update_function_configuration(
        self,
        function_name: str,
        *,
        runtime: str | None = None,
        handler: str | None = None,
        role: str | None = None,
        memory_size: int | None = None,
        timeout: int | None = None,
        environment: Mapping[str, Any] | None = None,
        description: str | None = None,
        ephemeral_storage: int | None = None,
        dead_letter_config: Mapping[str, Any] | None = None,
        sandbox: str | None = None,
        layers: Sequence[str] | None = None,
        tracing_config: Mapping[str, Any] | None = None,
        logging_config: Mapping[str, Any] | None = None,
    ) -> FunctionConfiguration:
        """Change settings of ``$LATEST``; settings left as ``None`` keep their value.

        ``sandbox`` (lambdalab's own) moves the function to another isolation backend.
        The handler is checked against the runtime it will run in: the new one, or the
        one the function has (so a Python function moved to ``provided.al2023`` may keep
        ``app.handler``, and one moved back must have a ``module.function`` handler).
        """
        _check_ranges("UpdateFunctionConfiguration", memory_size, timeout, ephemeral_storage)
        name = parse_function_ref(function_name).name
        if role is not None:
            self.plugin_manager.hook.lambdalab_check_execution_role(lab=self, role=role,
                                                                    function_arn=self.arns.function(name))
        changes: dict[str, Any] = {}
        tracing_mode = _tracing_mode("UpdateFunctionConfiguration", tracing_config)
        if tracing_mode is not None:
            changes["tracing_mode"] = tracing_mode
        if runtime is not None:
            changes["runtime"] = check.runtime(runtime)
        if runtime is not None or handler is not None or sandbox is not None:
            current = self.registry.get(name)
            effective_runtime = changes.get("runtime", current.runtime)
            changes["handler"] = check.handler(
                current.handler if handler is None else handler, effective_runtime
            )
            if sandbox is not None or current.sandbox is not None:
                changes["sandbox"] = self.backends.check(
                    current.sandbox if sandbox is None else sandbox, effective_runtime
                )
        for field, value, validate in (
            ("role", role, str),
            ("memory_size", memory_size, check.memory_size),
            ("timeout", timeout, check.timeout),
            ("environment", environment, lambda v: check.environment(_variables(v))),
            ("description", description, check.description),
            ("ephemeral_storage", ephemeral_storage, check.ephemeral_storage),
        ):
            if value is not None:
                changes[field] = validate(value)
        if dead_letter_config is not None:  # {"TargetArn": ""} removes the queue
            changes["dead_letter_target_arn"] = self._dead_letter(dead_letter_config)
        if logging_config is not None:  # merged into the current one, as AWS merges it
            current = self.registry.get(name)
            changes["logging"] = check.logging_config(logging_config, current.logging)
        if layers is not None:  # [] removes them
            current = self.registry.get(name)
            blob = self.store.blob_path(current.code_blob)
            changes["layers"] = self._function_layers(
                layers, lambda: check_zip(blob.read_bytes()), current.layers
            )
        return self.registry.update_latest(name, **changes)

    def delete_function(self, function_name: str, qualifier: str | None = None) -> None:
        """Delete the function, or only the version ``qualifier`` names."""
        ref = parse_function_ref(function_name, qualifier)
        released = self.registry.code_blobs(ref.name, ref.qualifier)
        self.registry.delete(ref.name, ref.qualifier)
        if ref.qualifier:
            self.permissions.forget(ref.name, ref.qualifier)
        self.pool.retire(ref.name, ref.qualifier)
        self.collect_code(released)

    def collect_code(self, released: set[str] | None = None) -> int:
        """Remove code blobs and unpacked code that no version references; bytes freed.

        After a delete or a code update, ``released`` names the code it let go of; when
        a Lab opens, everything is looked at (see ``Store.collect_garbage``). Code an
        environment still runs from is kept, and looked at again by the next collection.
        """
        with self._code_lock:
            candidates = None if released is None else released | self._code_deferred
            referenced = self.registry.code_blobs() | self.layers.code_blobs()
            freed = self.store.collect_garbage(referenced, self.pool.task_roots(), candidates)
            if candidates is None:
                freed += collect_opt_directories(self.store)
            self._code_deferred = {
                name for name in candidates or ()
                if name not in referenced and (self.store.code_dir / name).exists()
            }
            return freed

    # -- versions and aliases ---------------------------------------------------------

    def publish_version(
        self, function_name: str, description: str | None = None
    ) -> FunctionConfiguration:
        """Snapshot ``$LATEST`` as an immutable version; unchanged code returns the last one."""
        return self.registry.publish(parse_function_ref(function_name).name, description)

    def list_versions_by_function(self, function_name: str) -> list[FunctionConfiguration]:
        """``$LATEST`` and every published version, oldest first."""
        return self.registry.versions(parse_function_ref(function_name).name)

    def create_alias(
        self,
        function_name: str,
        name: str,
        function_version: str,
        *,
        description: str = "",
        routing_config: Mapping[str, Any] | None = None,
    ) -> AliasConfiguration:
        """Point ``name`` at a version; ``routing_config`` sends a share to a second one.

        ``routing_config={"AdditionalVersionWeights": {"2": 0.1}}`` routes 10 % of
        invokes to version 2 – a canary release.
        """
        return self.registry.create_alias(
            parse_function_ref(function_name).name,
            name,
            str(function_version),
            description,
            _weights(routing_config),
        )

    def get_alias(self, function_name: str, name: str) -> AliasConfiguration:
        """The alias: its version and routing configuration."""
        return self.registry.get_alias(parse_function_ref(function_name).name, name)

    def update_alias(
        self,
        function_name: str,
        name: str,
        *,
        function_version: str | None = None,
        description: str | None = None,
        routing_config: Mapping[str, Any] | None = None,
    ) -> AliasConfiguration:
        """Repoint an alias or change its routing; arguments left ``None`` keep their value.

        ``routing_config={}`` removes the weighted routing.
        """
        return self.registry.update_alias(
            parse_function_ref(function_name).name,
            name,
            str(function_version) if function_version is not None else None,
            description,
            _weights(routing_config) if routing_config is not None else None,
        )

    def list_aliases(self, function_name: str) -> list[AliasConfiguration]:
        """Every alias of a function, by name."""
        return self.registry.list_aliases(parse_function_ref(function_name).name)

    def delete_alias(self, function_name: str, name: str) -> None:
        """Delete an alias (the versions stay)."""
        self.registry.delete_alias(parse_function_ref(function_name).name, name)
        self.permissions.forget(parse_function_ref(function_name).name, name)

    def code_from_s3(self, bucket: str, key: str, version: str | None = None) -> bytes:
        """The deployment package stored in S3 as ``bucket``/``key``, read through the
        plugin that emulates S3 (the ``lambdalab_code_object`` hook)."""
        data = self.plugin_manager.hook.lambdalab_code_object(
            lab=self, bucket=bucket, key=key, version=version
        )
        if data is None:
            raise InvalidParameterValueException(
                "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error "
                "Message: The specified bucket does not exist. (No loaded plugin serves S3: "
                "enable the s3 plugin, see `lambdalab plugins`, or send Code.ZipFile.)"
            )
        return bytes(data)

    # -- tags -------------------------------------------------------------------------

    def tag_resource(self, resource: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite tags of the function ``resource`` (its unqualified ARN) or of
        an event source mapping (its ``EventSourceMappingArn``)."""
        mapping = self._tagged_mapping(resource)
        name = "" if mapping else taggable_function(resource)
        current = self.mapping_tags.get(mapping) if mapping else self.registry.get(name).tags
        if not tags:
            raise InvalidParameterValueException(
                "An error occurred and the request cannot be processed. Tags: give at least "
                "one tag."
            )
        if mapping:
            self.mapping_tags.put(mapping, _checked_tags(current, tags))
        else:
            self.registry.set_tags(name, _checked_tags(current, tags))

    def untag_resource(self, resource: str, tag_keys: Iterable[str]) -> None:
        """Remove the tags named by ``tag_keys`` (keys that are not there are ignored)."""
        keys = set(tag_keys)
        mapping = self._tagged_mapping(resource)
        if mapping:
            current = self.mapping_tags.get(mapping)
            self.mapping_tags.put(mapping, {k: v for k, v in current.items() if k not in keys})
            return
        name = taggable_function(resource)
        current = self.registry.get(name).tags
        self.registry.set_tags(name, {k: v for k, v in current.items() if k not in keys})

    def list_tags(self, resource: str) -> dict[str, str]:
        """The tags of a function or of an event source mapping."""
        mapping = self._tagged_mapping(resource)
        if mapping:
            return self.mapping_tags.get(mapping)
        return dict(self.registry.get(taggable_function(resource)).tags)

    def _tagged_mapping(self, resource: str) -> str | None:
        """The UUID of the event source mapping ``resource`` names, or None when it names
        no mapping; a mapping that does not exist is AWS's 404."""
        match = MAPPING_ARN.match(resource or "")
        if match is None:
            return None
        uuid = match["uuid"]
        try:
            self._mappings().get(uuid)
        except (ResourceNotFoundException, InvalidParameterValueException):
            raise ResourceNotFoundException(
                f"Event source mapping not found: {resource}"
            ) from None
        return uuid

    # -- concurrency ------------------------------------------------------------------

    def put_function_concurrency(
        self, function_name: str, reserved_concurrent_executions: int
    ) -> int:
        """Reserve concurrency for a function (and cap it there). 0 stops all invokes."""
        name = parse_function_ref(function_name).name
        self.registry.get(name, limits.LATEST)  # AWS names ...:$LATEST when there is none
        value = check.reserved_concurrency(reserved_concurrent_executions)
        others = self.registry.total_reserved(excluding=name)
        unreserved = self.pool.account_limit - others - value
        if unreserved < limits.UNRESERVED_CONCURRENCY_MIN:
            raise InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                "UnreservedConcurrentExecution below its minimum value of "
                f"[{limits.UNRESERVED_CONCURRENCY_MIN}]. At most "
                f"{self.pool.account_limit - others - limits.UNRESERVED_CONCURRENCY_MIN} "
                "can be reserved for this function."
            )
        self.registry.set_reserved_concurrency(name, value)
        return value

    def get_function_concurrency(self, function_name: str) -> int | None:
        """The function's reserved concurrency, or ``None`` when it shares the pool."""
        return self.registry.reserved_concurrency(parse_function_ref(function_name).name)

    def delete_function_concurrency(self, function_name: str) -> None:
        """Remove the reservation: the function shares the unreserved pool again."""
        self.registry.set_reserved_concurrency(parse_function_ref(function_name).name, None)

    def get_account_settings(self) -> dict[str, Any]:
        """GetAccountSettings' AccountLimit and AccountUsage, in AWS's field names."""
        reserved = self.registry.total_reserved()
        functions = self.list_functions()
        return {
            "AccountLimit": {
                "TotalCodeSize": limits.TOTAL_CODE_SIZE_MAX_BYTES,
                "CodeSizeUnzipped": limits.UNZIPPED_PACKAGE_MAX_BYTES,
                "CodeSizeZipped": limits.ZIPPED_PACKAGE_MAX_BYTES,
                "ConcurrentExecutions": self.pool.account_limit,
                "UnreservedConcurrentExecutions": self.pool.account_limit - reserved,
            },
            "AccountUsage": {
                "TotalCodeSize": sum(f.code_size for f in functions),
                "FunctionCount": len(functions),
            },
        }

    # -- resource-based policy --------------------------------------------------------

    def add_permission(
        self,
        function_name: str,
        statement_id: str,
        action: str,
        principal: str,
        *,
        qualifier: str | None = None,
        source_arn: str | None = None,
        source_account: str | None = None,
        principal_org_id: str | None = None,
        event_source_token: str | None = None,
        function_url_auth_type: str | None = None,
        revision_id: str | None = None,
    ) -> dict[str, Any]:
        """Allow ``principal`` (a service, account or ARN) to call ``action`` on the function.

        Returns the statement added to the resource-based policy, in AWS's shape
        (https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html). A
        ``statement_id`` already in the policy raises ResourceConflictException.
        """
        ref = parse_function_ref(function_name, qualifier)
        return self.permissions.add(
            ref.name,
            statement_id,
            action,
            principal,
            qualifier=ref.qualifier,
            source_arn=source_arn,
            source_account=source_account,
            principal_org_id=principal_org_id,
            event_source_token=event_source_token,
            function_url_auth_type=function_url_auth_type,
            revision_id=revision_id,
        )

    def remove_permission(
        self,
        function_name: str,
        statement_id: str,
        *,
        qualifier: str | None = None,
        revision_id: str | None = None,
    ) -> None:
        """Take the statement ``statement_id`` out of the resource-based policy."""
        ref = parse_function_ref(function_name, qualifier)
        self.permissions.remove(
            ref.name, statement_id, qualifier=ref.qualifier, revision_id=revision_id
        )

    def get_policy(self, function_name: str, qualifier: str | None = None) -> Policy:
        """The resource-based policy; ``to_aws()`` gives GetPolicy's ``Policy`` JSON string."""
        ref = parse_function_ref(function_name, qualifier)
        return self.permissions.get(ref.name, ref.qualifier)

    # -- the HTTP edge ----------------------------------------------------------------

    @property
    def endpoint_url(self) -> str | None:
        """The HTTP edge serving this lab (``lambdalab serve``), or ``None``.

        Environments started while it is set get it as ``AWS_ENDPOINT_URL``.
        """
        return self.invoker.endpoint_url

    @endpoint_url.setter
    def endpoint_url(self, url: str | None) -> None:
        self.invoker.endpoint_url = url

    # -- function URLs ----------------------------------------------------------------

    def create_function_url_config(
        self,
        function_name: str,
        auth_type: str,
        *,
        qualifier: str | None = None,
        cors: Mapping[str, Any] | None = None,
        invoke_mode: str | None = None,
    ) -> FunctionUrlConfig:
        """Give ``$LATEST`` (or an alias) an HTTP endpoint on the edge.

        ``FunctionUrl`` is the working address, ``http://127.0.0.1:9001/_lambdalab/url/<url-id>/``
        (see :doc:`/reference/function-urls`). ``auth_type`` is ``NONE`` or ``AWS_IAM``;
        ``AWS_IAM`` is recorded but not enforced.
        """
        config = self.function_urls.create(function_name, qualifier, auth_type, cors, invoke_mode)
        self._function_changed(parse_function_ref(function_name).name)
        return config

    def get_function_url_config(
        self, function_name: str, qualifier: str | None = None
    ) -> FunctionUrlConfig:
        """The function URL's configuration; ResourceNotFoundException if there is none."""
        return self.function_urls.get(function_name, qualifier)

    def update_function_url_config(
        self,
        function_name: str,
        *,
        qualifier: str | None = None,
        auth_type: str | None = None,
        cors: Mapping[str, Any] | None = None,
        invoke_mode: str | None = None,
    ) -> FunctionUrlConfig:
        """Change a function URL's settings; the URL itself never changes."""
        config = self.function_urls.update(function_name, qualifier, auth_type, cors, invoke_mode)
        self._function_changed(parse_function_ref(function_name).name)
        return config

    def delete_function_url_config(self, function_name: str, qualifier: str | None = None) -> None:
        """Remove the function URL: its address answers 404 from now on."""
        self.function_urls.delete(function_name, qualifier)
        self._function_changed(parse_function_ref(function_name).name)

    def list_function_url_configs(self, function_name: str) -> list[FunctionUrlConfig]:
        """Every function URL of a function (``$LATEST`` and its aliases)."""
        return self.function_urls.of_function(function_name)

    # -- invoking ---------------------------------------------------------------------

    def invoke(
        self,
        function_name: str,
        payload: Payload = None,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
        log_type: str = "None",
        client_context: str | dict[str, Any] | None = None,
        trace_header: str | None = None,
    ) -> InvokeResult:
        """Invoke a function: ``RequestResponse`` (200), ``Event`` (202) or ``DryRun`` (204).

        ``payload`` is a JSON-serialisable value, or JSON text as ``str``/``bytes``.
        ``log_type="Tail"`` returns the last 4 KB of the log in ``log_result``.
        ``trace_header``: an X-Ray ``X-Amzn-Trace-Id`` whose trace the invoke continues
        (the handler's ``_X_AMZN_TRACE_ID`` keeps its ``Root``).
        A handler error is not raised: see ``result.function_error``.
        """
        return drive(self._steps(function_name, payload, qualifier, invocation_type, log_type,
                                 client_context, trace_header))

    async def invoke_async(
        self,
        function_name: str,
        payload: Payload = None,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
        log_type: str = "None",
        client_context: str | dict[str, Any] | None = None,
        trace_header: str | None = None,
        run_blocking: RunBlocking | None = None,
        answer: Answer | None = None,
    ) -> InvokeResult:
        """:meth:`invoke` for code on an event loop (the HTTP edge): the handler's answer
        is awaited instead of blocking the loop; work that blocks (a cold start, a
        backend that cannot be awaited) runs in ``run_blocking`` [default:
        ``asyncio.to_thread``].

        ``answer`` (a coroutine function) is awaited with a synchronous invoke's result
        as soon as it is known, before the invoke is recorded (its END and REPORT lines,
        the hooks, the metrics), as AWS answers before the REPORT line reaches
        CloudWatch Logs; the invoke is recorded right after, before this returns. Not
        for a ``Tail``, whose log tail holds the REPORT line."""
        steps = self._steps(function_name, payload, qualifier, invocation_type, log_type,
                            client_context, trace_header)
        return await drive_async(steps, run_blocking or asyncio.to_thread, answer)

    def _steps(
        self,
        function_name: str,
        payload: Payload,
        qualifier: str | None,
        invocation_type: str,
        log_type: str,
        client_context: str | dict[str, Any] | None,
        trace_header: str | None,
    ) -> Steps:
        """The invoke both :meth:`invoke` and :meth:`invoke_async` run."""
        return self.invoker.invocation(
            function_name,
            payload,
            qualifier=qualifier,
            invocation_type=invocation_type,
            log_type=log_type,
            client_context=client_context,
            trace_header=trace_header,
        )

    def _run_event(self, event: AsyncEvent) -> InvokeResult:
        config = self.registry.resolve(event.function_name, event.qualifier)
        return self.invoker.execute(
            config,
            event.payload,
            request_id=event.request_id,
            invoked_arn=self.arns.function(event.function_name, event.qualifier),
            client_context=event.client_context,
            trace_id=event.trace_id,
        )

    def wait_for_events(self, timeout: float | None = None) -> bool:
        """Block until every ``Event`` invocation that is due has run.

        Events waiting for a retry (1 and 2 minutes later on the Lab's clock) stay
        queued: advance a :class:`~lambdalab.clock.VirtualClock` to make them due.
        Returns False if ``timeout`` (real seconds) passed first.
        """
        return self.events.join(timeout)

    def queue(self) -> list[QueuedEvent]:
        """Every queued ``Event`` invocation: pending, in flight or retrying, oldest first."""
        return self.events.snapshot()

    # -- asynchronous invocation: event invoke config, destinations -------------------

    def _role_denies(self, role: str, actions: tuple[str, ...], resource: str) -> str | None:
        from .protocol.authorize import denied_action  # botocore: load when needed

        return denied_action(self, role, actions, resource)

    def put_function_event_invoke_config(
        self,
        function_name: str,
        *,
        qualifier: str | None = None,
        maximum_retry_attempts: int | None = None,
        maximum_event_age_in_seconds: int | None = None,
        destination_config: Mapping[str, Any] | None = None,
    ) -> FunctionEventInvokeConfig:
        """Set how ``Event`` invokes of a function (or one qualifier) are retried and routed.

        Replaces any earlier configuration; settings left out take AWS's defaults (2
        retries, 6 hours). ``destination_config={"OnSuccess": {"Destination": arn},
        "OnFailure": {"Destination": arn}}`` sends AWS's invocation record there.
        """
        return self.event_configs.put(
            function_name,
            qualifier,
            {
                "maximum_retry_attempts": maximum_retry_attempts,
                "maximum_event_age_in_seconds": maximum_event_age_in_seconds,
                "destination_config": destination_config,
            },
            merge=False,
        )

    def update_function_event_invoke_config(
        self,
        function_name: str,
        *,
        qualifier: str | None = None,
        maximum_retry_attempts: int | None = None,
        maximum_event_age_in_seconds: int | None = None,
        destination_config: Mapping[str, Any] | None = None,
    ) -> FunctionEventInvokeConfig:
        """Change some settings of an existing event invoke configuration."""
        return self.event_configs.put(
            function_name,
            qualifier,
            {
                "maximum_retry_attempts": maximum_retry_attempts,
                "maximum_event_age_in_seconds": maximum_event_age_in_seconds,
                "destination_config": destination_config,
            },
            merge=True,
        )

    def get_function_event_invoke_config(
        self, function_name: str, qualifier: str | None = None
    ) -> FunctionEventInvokeConfig:
        """The event invoke configuration; ResourceNotFoundException if there is none."""
        return self.event_configs.get(function_name, qualifier)

    def list_function_event_invoke_configs(
        self, function_name: str
    ) -> list[FunctionEventInvokeConfig]:
        """Every qualifier's event invoke configuration of a function."""
        return self.event_configs.of_function(function_name)

    def delete_function_event_invoke_config(
        self, function_name: str, qualifier: str | None = None
    ) -> None:
        """Remove the configuration: AWS's defaults apply again, without destinations."""
        self.event_configs.delete(function_name, qualifier)

    def _dead_letter(self, dead_letter_config: Mapping[str, Any]) -> str | None:
        return self.event_configs.check_dead_letter(dead_letter_config.get("TargetArn"))

    def _event_policy(self, event: AsyncEvent) -> EventPolicy:
        qualifier = event.qualifier or limits.LATEST
        version = self.registry.get(event.function_name, event.qualifier)
        config = self.event_configs.find(event.function_name, qualifier)
        config = config or FunctionEventInvokeConfig("", 0.0)
        return EventPolicy(
            function_arn=self.arns.function(event.function_name, qualifier),
            maximum_retry_attempts=config.retries,
            maximum_event_age_in_seconds=config.max_age,
            on_success=config.on_success,
            on_failure=config.on_failure,
            dead_letter_arn=version.dead_letter_target_arn,
            reserved_concurrency=self.registry.reserved_concurrency(event.function_name),
        )

    def _deliver(self, destination_arn: str, message: DestinationMessage) -> None:
        self.event_configs.sender(destination_arn)(message)

    def _event_retry(self, event: AsyncEvent, attempts: int, when: float) -> None:
        self.plugin_manager.hook.lambdalab_async_event_retry(
            request_id=event.request_id, function_name=event.function_name,
            qualifier=event.qualifier, attempts=attempts, next_attempt_at=when,
        )

    def _event_ended(self, event: AsyncEvent, condition: str, attempts: int,
                     sent_to: list[str]) -> None:
        self.plugin_manager.hook.lambdalab_async_event_ended(
            request_id=event.request_id, function_name=event.function_name,
            qualifier=event.qualifier, condition=condition, attempts=attempts, sent_to=sent_to,
        )

    # -- event source mappings (kept by a plugin: see lambdalab_event_source_mappings) --

    def _mappings(self) -> SourceMappings:
        found = SourceMappings(self.plugin_manager.hook.lambdalab_event_source_mappings(lab=self))
        if not found.keepers:
            raise InvalidParameterValueException(
                "No loaded plugin keeps event source mappings. Install or enable the plugin "
                "that emulates the event source (see `lambdalab plugins`)."
            )
        return found

    def create_event_source_mapping(self, function_name: str, **settings: Any) -> Any:
        """Poll a queue (``event_source_arn``) and invoke the function with batches.

        Takes boto3's parameters in snake_case: ``event_source_arn``, ``enabled``,
        ``batch_size``, ``maximum_batching_window_in_seconds``,
        ``function_response_types``, ``scaling_config``
        (https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html),
        and ``tags`` (see :meth:`tag_resource`).
        """
        tags = _checked_tags({}, settings.pop("tags", None) or {})
        # AWS's answers, in AWS's order (LocalStack's recorded
        # test_event_source_mapping_exceptions): no source, then no function.
        if not settings.get("event_source_arn"):
            raise InvalidParameterValueException("Unrecognized event source.")
        try:
            ref = parse_function_ref(function_name)
            self.registry.get(ref.name, ref.qualifier)
        except ResourceNotFoundException:
            raise InvalidParameterValueException("Function does not exist") from None
        mapping = self._mappings().create(function_name=function_name, **settings)
        uuid = mapping_uuid(mapping)
        if uuid is not None:
            self.mapping_tags.put(uuid, tags)
        self._mapping_changed(mapping)
        return mapping

    def get_event_source_mapping(self, uuid: str) -> Any:
        """One event source mapping; ``to_aws()`` gives GetEventSourceMapping's JSON."""
        return self._mappings().get(uuid)

    def update_event_source_mapping(self, uuid: str, **settings: Any) -> Any:
        """Change a mapping (``enabled=False`` stops its pollers); unnamed settings stay."""
        mapping = self._mappings().update(uuid, **settings)
        self._mapping_changed(mapping)
        return mapping

    def delete_event_source_mapping(self, uuid: str) -> Any:
        """Stop and remove a mapping; returns it with ``State`` ``Deleting``."""
        mapping = self._mappings().delete(uuid)
        self.mapping_tags.put(uuid, {})
        self._mapping_changed(mapping)
        return mapping

    def list_event_source_mappings(
        self, *, event_source_arn: str | None = None, function_name: str | None = None
    ) -> list[Any]:
        """Every mapping, optionally only those of one queue or one function."""
        return self._mappings().find(event_source_arn=event_source_arn, function_name=function_name)

    # -- logs -------------------------------------------------------------------------

    def get_logs(self, function_name: str, after_id: int = 0) -> list[LogEvent]:
        """Log events of the function's log group, oldest first."""
        name = parse_function_ref(function_name).name
        if self.registry.exists(name):  # its LoggingConfig may name a group of its own
            return self.logs.read(self.registry.get(name).log_group_name, after_id)
        if not self.logs.read(f"/aws/lambda/{name}", limit=1):
            raise ResourceNotFoundException(
                f"The specified log group does not exist: /aws/lambda/{name}"
            )
        return self.logs.read(f"/aws/lambda/{name}", after_id)

    def put_retention_policy(self, log_group_name: str, retention_in_days: int) -> None:
        """Keep a log group's events ``retention_in_days`` days (CloudWatch Logs' values:
        1, 3, 5, 7, 14, 30, … 3653); older events are deleted."""
        self.logs.put_retention_policy(self._log_group(log_group_name), retention_in_days)

    def delete_retention_policy(self, log_group_name: str) -> None:
        """Keep a log group's events forever again (the default)."""
        self.logs.delete_retention_policy(self._log_group(log_group_name))

    def _log_group(self, name: str) -> str:
        """``name`` if that log group exists: a function's, or one that has events."""
        function = name.removeprefix("/aws/lambda/") if name.startswith("/aws/lambda/") else None
        if (function and self.registry.exists(function)) or self.logs.read(name, limit=1):
            return name
        raise ResourceNotFoundException("The specified log group does not exist.")

    # -- lifecycle --------------------------------------------------------------------

    def _environment_stopped(self, pooled: PooledEnvironment, reason: str) -> None:
        self.plugin_manager.hook.lambdalab_environment_stopped(
            function_name=pooled.function_name, version=pooled.version,
            log_stream_name=pooled.env.spec.log_stream_name, reason=reason,
        )

    def _function_changed(self, function_name: str) -> None:
        self.plugin_manager.hook.lambdalab_function_changed(lab=self, function_name=function_name)

    def _mapping_changed(self, mapping: Any) -> None:
        """A mapping of a function was created, changed or deleted: its triggers changed."""
        arn = mapping.to_aws().get("FunctionArn") if hasattr(mapping, "to_aws") else None
        if isinstance(arn, str):
            self._function_changed(parse_function_ref(arn).name)

    def close(self) -> None:
        """Stop every environment and flush logs. The data dir keeps everything."""
        if self._closed:
            return
        self._closed = True
        self.plugin_manager.hook.lambdalab_lab_closing(lab=self)
        self.stash.close()
        self.events.close()
        self.pool.close()
        self.backends.close()
        self.logs.close()
        self.clock.close()
        self.store.close()

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _enforce_iam(value: bool | None) -> bool:
    if value is not None:
        return value
    return os.environ.get(limits.ENFORCE_IAM_ENV, "").strip().lower() in ("1", "true", "yes")


def _log_max_bytes(value: int | None) -> int:
    if value is not None:
        return value
    megabytes = os.environ.get("LAMBDALAB_LOG_MAX_MB")
    if megabytes is None:
        return limits.LOG_STORE_MAX_BYTES_DEFAULT
    try:
        return max(0, int(float(megabytes) * 1024 * 1024))
    except ValueError:
        raise InvalidParameterValueException(
            f"LAMBDALAB_LOG_MAX_MB={megabytes!r} is not a number of megabytes; use e.g. 500, "
            "or 0 to keep every log event."
        ) from None


def _checked_tags(current: Mapping[str, str], new: Mapping[str, Any]) -> dict[str, str]:
    merged = {**current, **{str(k): str(v) for k, v in new.items()}}
    if len(merged) > limits.TAGS_PER_RESOURCE_MAX:
        raise InvalidParameterValueException(
            "Number of tags exceeds resource tag limit. A resource has at most "
            f"{limits.TAGS_PER_RESOURCE_MAX} tags."
        )
    return merged


def _weights(routing_config: Mapping[str, Any] | None) -> dict[str, float]:
    if not routing_config:
        return {}
    return dict(routing_config.get("AdditionalVersionWeights", {}))
