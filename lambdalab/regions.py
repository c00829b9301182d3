"""Regions: each AWS region a client signs for has its own functions, as on AWS.

On AWS a region is a separate deployment: a function created through
``lambda.eu-west-1.amazonaws.com`` is not listed, read or invoked through us-east-1, its ARN
names eu-west-1, and the account's concurrency quota is counted per region
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html,
https://docs.aws.amazon.com/general/latest/gr/rande.html). lambdalab keeps one
:class:`~lambdalab.Lab` per region, all in one data dir::

    <data dir>/                the home region's lab, laid out as it always was
    <data dir>/home-region     the home region's name, written when a server first serves it
    <data dir>/regions/<name>/ the lab of every other region, opened when first addressed

The labs share the account id, the clock and the settings they are opened with (sandbox,
plugins, limits); each has its own state, environments and concurrency pool, but what AWS
keeps once per account (IAM, S3's bucket names) lives with home (:func:`~lambdalab.plugin.home_lab`,
:func:`~lambdalab.plugin.home_data_dir`). The HTTP edge
picks a request's lab by the region of its SigV4 credential scope.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Callable, Iterator

from .arn import checked_region
from .function_urls import FunctionUrlConfig
from .lab import Lab
from .stash import StashKey
from .store import HOME_REGION_FILE

#: The folder of a data dir under which each other region keeps a data dir of its own.
REGIONS_FOLDER = "regions"

#: Opens the lab of ``region`` on ``data_dir``.
OpenLab = Callable[[Path, str], Lab]

#: Where each lab a :class:`Regions` opened finds it (``lab.stash``).
REGIONS_KEY = StashKey["Regions"]()


class RegionMismatch(ValueError):
    """A data dir's home region is another than the one asked for."""


def remember_home_region(lab: Lab) -> None:
    """Write ``lab``'s region in its data dir, unless one is written already.

    :raises RegionMismatch: the data dir belongs to another region.
    """
    region = lab.arns.region
    stored = lab.store.keep_home_region(region)
    if stored != region:
        raise RegionMismatch(home_region_message(Path(lab.store.data_dir), stored, region))


def home_region_message(data_dir: Path, home: str, asked: str) -> str:
    """What a learner reads when a data dir of ``home`` is opened as ``asked``."""
    return (
        f"The data dir {data_dir} belongs to region {home} (its {HOME_REGION_FILE} file "
        f"says so), not {asked}: its functions have ARNs in {home}. Serve it as {home} "
        f"(leave out --region, or give {home}); clients signing for "
        f"{asked} still reach {asked}'s own functions, kept in "
        f"{data_dir / REGIONS_FOLDER / asked}. For a data dir whose home is {asked}, give "
        "another --data-dir."
    )


@functools.lru_cache(maxsize=1)
def aws_regions() -> frozenset[str]:
    """Every region botocore's endpoint data names in any partition (us-east-1,
    cn-north-1, us-gov-west-1…): the regions a client can sign for."""
    import botocore.session

    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("lambda", partition_name=partition)
    )


def home_data_dir(data_dir: str | Path) -> Path:
    """The home region's data dir, given the data dir of any region's lab (itself, for
    home's): what is kept once per account, such as S3's bucket names, lives there."""
    path = Path(data_dir)
    if path.parent.name == REGIONS_FOLDER and path.name in aws_regions():
        return path.parent.parent
    return path


def lab_of_region(lab: Lab, region: str) -> Lab | None:
    """The lab of ``region`` beside ``lab`` (opened when first asked for); None when
    ``lab`` was opened alone, not by :class:`~lambdalab.regions.Regions`, or no client
    may sign for ``region``."""
    regions: Regions | None = lab.stash.get(REGIONS_KEY, None)
    if regions is None or not regions.is_served(region):
        return None
    return regions.lab(region)


def home_lab(lab: Lab) -> Lab:
    """The home region's lab beside ``lab`` (``lab`` itself when it is home's, or was
    opened alone): where state AWS keeps once per account, such as IAM's, is kept."""
    regions: Regions | None = lab.stash.get(REGIONS_KEY, None)
    return regions.home if regions is not None else lab


def open_labs(lab: Lab) -> list[Lab]:
    """Every region's lab open beside ``lab``, home's first (``[lab]`` when it was opened
    alone)."""
    regions: Regions | None = lab.stash.get(REGIONS_KEY, None)
    return regions.opened() if regions is not None else [lab]


def labs_opened(lab: Lab) -> int:
    """How many times a region's lab was opened beside ``lab``, home's included: it
    grows and never shrinks, so a plugin that keeps what it derived from
    :func:`~lambdalab.plugin.open_labs` (IAM moving older per-region rows home) knows,
    by one read, when to derive it again. 1 for a lab opened alone."""
    regions: Regions | None = lab.stash.get(REGIONS_KEY, None)
    return regions.labs_opened if regions is not None else 1


def signed_region(authorization: str | None, query_string: str = "") -> str | None:
    """The region a request is signed for: its SigV4 credential scope's (``Authorization``
    header, or a presigned URL's ``X-Amz-Credential``); None when it names none
    (unsigned, or a SigV2 presigned URL)."""
    from .server.auth import credential_scope

    scope = credential_scope(authorization, query_string)
    return scope.region if scope is not None else None


def added_plugins(lab: Lab) -> list[object]:
    """The plugins of ``lab`` that are no installed entry point's: given to ``Lab(plugins=)``
    or registered on its plugin manager since."""
    import importlib.metadata

    from .plugins import ENTRY_POINT_GROUP

    installed = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return [plugin for name, plugin in lab.plugin_manager.list_name_plugin()
            if name not in installed and plugin is not None]


def like(home: Lab) -> OpenLab:
    """Open another region's lab with ``home``'s clock, account and settings."""

    def open_lab(data_dir: Path, region: str) -> Lab:
        return Lab(
            data_dir,
            clock=home.clock,
            region=region,
            account_id=home.arns.account_id,
            account_concurrency=home.pool.account_limit,
            idle_timeout=home.pool.idle_ttl,
            default_sandbox=home.default_sandbox,
            plugins=added_plugins(home),
            preload=home.preload,
            log_max_bytes=home.logs.max_bytes,
            state_transition=home.registry.settle_after,
            enforce_iam=home.enforce_iam,
        )

    return open_lab


class Regions:
    """The lab of each region, the home region's given, the others opened when first
    addressed (and, so that their queued events and pollers carry on, every region
    the data dir already holds, at once).

    :param home: the lab on the data dir itself; its region is written in the data dir.
        The caller keeps it and closes it; :meth:`close` closes only the others.
    :param open_lab: how another region's lab is opened (default: :func:`like` ``home``).
    :raises RegionMismatch: the data dir's stored home region is not ``home``'s.
    """

    def __init__(self, home: Lab, open_lab: Callable[[Path, str], Lab] | None = None) -> None:
        remember_home_region(home)
        self.home = home
        self._open_lab = open_lab or like(home)
        self._labs: dict[str, Lab] = {home.arns.region: home}
        self._lock = threading.Lock()
        self._endpoint_url: str | None = None
        #: Labs opened so far, home's first (:func:`labs_opened`).
        self.labs_opened = 1
        home.stash[REGIONS_KEY] = self
        for region in self.stored():
            self.lab(region)

    @property
    def folder(self) -> Path:
        return Path(self.home.store.data_dir) / REGIONS_FOLDER

    def stored(self) -> list[str]:
        """The regions other than home with a data dir of their own, by name."""
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if p.name in aws_regions())

    def is_served(self, region: str) -> bool:
        """Whether a client may address ``region``: home, or a region AWS has."""
        return region == self.home.arns.region or region in aws_regions()

    def lab(self, region: str) -> Lab:
        """The lab of ``region``, opened (and its folder made) on first use.

        :raises ~lambdalab.errors.InvalidParameterValueException: ``region`` is not shaped
            like a region.
        """
        found = self._labs.get(region)
        if found is not None:
            return found
        with self._lock:
            if region not in self._labs:
                data_dir = self.folder / checked_region(region)
                data_dir.mkdir(parents=True, exist_ok=True)
                lab = self._open_lab(data_dir, region)
                try:
                    remember_home_region(lab)
                except RegionMismatch:
                    lab.close()
                    raise
                lab.endpoint_url = self._endpoint_url
                lab.stash[REGIONS_KEY] = self
                self._labs[region] = lab
                self.labs_opened += 1
            return self._labs[region]

    def opened(self) -> list[Lab]:
        """Every lab open now, home first."""
        with self._lock:
            return list(self._labs.values())

    def is_open(self, region: str) -> bool:
        return region in self._labs

    def function_url(self, url_id: str) -> tuple[Lab, FunctionUrlConfig] | None:
        """The lab and configuration of the function URL ``url_id``, in whichever open
        region it was made (a URL names its region in its host name on AWS; here its id
        alone finds it)."""
        for lab in self.opened():
            config = lab.function_urls.by_url_id(url_id)
            if config is not None:
                return lab, config
        return None

    def code_blob(self, sha256_hex: str) -> Path | None:
        """The stored zip with this SHA-256 in any open region's data dir."""
        for lab in self.opened():
            found = lab.store.blob_path(sha256_hex)
            if found.is_file():
                return found
        return None

    @property
    def endpoint_url(self) -> str | None:
        return self._endpoint_url

    @endpoint_url.setter
    def endpoint_url(self, url: str | None) -> None:
        """The edge serving every region: environments of each get it as ``AWS_ENDPOINT_URL``."""
        with self._lock:
            self._endpoint_url = url
            for lab in self._labs.values():
                lab.endpoint_url = url

    def __iter__(self) -> Iterator[Lab]:
        return iter(self.opened())

    def close(self) -> None:
        """Close every region's lab but home's (its opener closes it)."""
        with self._lock:
            others = [lab for region, lab in self._labs.items() if lab is not self.home]
            self._labs = {self.home.arns.region: self.home}
        for lab in others:
            lab.close()


__all__ = ["HOME_REGION_FILE", "REGIONS_FOLDER", "REGIONS_KEY", "OpenLab", "RegionMismatch",
           "Regions", "aws_regions", "home_data_dir", "home_lab", "home_region_message", "lab_of_region", "labs_opened", "open_labs",
           "like", "remember_home_region", "signed_region"]
