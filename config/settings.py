"""Process settings: environment (``OPENLINES_*``) over ``openlines.toml`` over defaults."""

from __future__ import annotations

import os
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from config.cpu_list import parse_cpus

Role = Literal["all", "router", "connectors", "console", "crm"]


def config_path() -> Path:
    """The settings file: ``OPENLINES_CONFIG``, else ``openlines.toml`` in the working dir."""
    return Path(os.environ.get("OPENLINES_CONFIG", "openlines.toml"))


class _TomlWithoutLines(TomlConfigSettingsSource):
    """The TOML source minus its ``[[lines]]``: those are lines for the database
    (``config.lines.LinesFile``), not process settings, and Settings stays strict about
    every other unknown key."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        data = super()._read_file(file_path)
        data.pop("lines", None)
        return data


LOCAL_PROXIES: tuple[IPv4Network | IPv6Network, ...] = (
    IPv4Network("127.0.0.1/32"),
    IPv6Network("::1/128"),
)
"""A proxy on the hub's own machine, as the deployment guide sets nginx up."""


class Settings(BaseSettings):
    """Everything a process of Openlines needs to start.

    With nothing set, the hub runs on the embedded default: SQLite and a Redis server it starts
    itself, both under ``data_dir``.
    """

    model_config = SettingsConfigDict(
        env_prefix="OPENLINES_", extra="forbid", toml_file=None, validate_default=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = ""
    """The address browsers use to reach the hub; printed on start. Empty: http://host:port."""
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=lambda: list(LOCAL_PROXIES))
    """Reverse proxies (addresses or networks) whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` the hub believes (``operator_console.proxies``): the per-address
    budgets and logs see the client behind them. Default: a proxy on this machine. ``[]``:
    believe no one."""
    data_dir: Path = Path("var")
    redis_url: str = ""
    """An external Redis (``redis://…``), a Sentinel-managed one
    (``redis+sentinel://host:26379,host2:26379/<master name>/<db>``) or a Redis Cluster
    (``redis+cluster://host:6379,host2:6379``). Empty: start the embedded Redis under data_dir."""
    database_url: str = ""
    """SQLAlchemy URL (``postgresql+asyncpg://…``). Empty: SQLite under data_dir."""
    secret_key: SecretStr = SecretStr("")
    """Signs visitor tokens. Empty: generated once and kept in data_dir/secret_key."""
    admin_login: str = "admin"
    admin_password: SecretStr = SecretStr("")
    """The first admin's password. Empty: generated on first start and printed once."""
    inbound_shards: int = Field(default=4, ge=1, le=256)
    batch_size: int = Field(default=100, ge=1, le=10_000)
    bus_block_ms: int = Field(default=3000, ge=10, le=10_000)
    """How long a consumer's read waits for new entries on a quiet stream, kept under the Redis
    client's socket timeout (``core.redis_connect.quiet_read_ms``). A stop or a handed-back
    stream cancels the read, so this bounds no stop; shorter only wakes an idle hub more."""
    router_gather_ms: float = Field(default=0.0, ge=0, le=100)
    """While the router is busy (``router_gather_per_s`` entries a second or more), how long a
    transaction of fewer than 8 entries waits for others to join it (``router.group_commit``).
    At 200 visitor messages a second, 4 ms saved 6–15 % of the hub's CPU per message and
    doubled the p50 (docs/BENCHMARKS.md): for a hub short of CPU. 0: never wait."""
    router_gather_per_s: float = Field(default=300.0, gt=0)
    claim_idle_ms: int = Field(default=30_000, ge=100)
    max_deliveries: int = Field(default=5, ge=1)
    redis_max_connections: int = Field(default=200, ge=10)
    """Connections per process; past this, callers wait for one to come free."""
    lease_ttl_ms: int = Field(default=15_000, ge=500)
    """How long a router keeps a stream after it stops renewing (a crash): the failover time."""
    stream_maxlen: int = Field(default=1_000_000, ge=1000)
    redis_appendfsync: Literal["everysec", "always"] = "everysec"
    session_hours: int = Field(default=12, ge=1)
    presence_grace_s: float = Field(default=60.0, gt=0, le=3600)
    """How long an operator stays online after their last console socket closed."""
    auto_away_minutes: int = Field(default=0, ge=0, le=24 * 60)
    """Minutes without activity in the console after which an online operator becomes away;
    0 turns auto-away off."""
    webchat_max_per_visitor: int = Field(default=20, ge=1)
    """Widget messages one visitor may send in 10 s, over all their sockets (a load test
    raises it)."""
    webchat_max_per_address: int = Field(default=1000, ge=0)
    """Widget messages one client address may send in 10 s, over all its visitors (each visitor
    has ``webchat_max_per_visitor`` of their own); 0: no ceiling. Behind one NAT or proxy
    address, raise it."""
    webchat_upload_files_per_visitor: int = Field(default=60, ge=0)
    """Files one widget visitor may upload in an hour; 0: no ceiling."""
    webchat_upload_mb_per_address: int = Field(default=1000, ge=0)
    """Megabytes the widget's visitors at one client address may upload in an hour, over all
    of them: what a script minting visitor tokens could write to the disk; 0: no ceiling."""
    webchat_report_gather_ms: float = Field(default=50.0, ge=0, le=1000)
    """How long the web chat lets delivery reports (an answer reached the widget, the visitor
    saw it) gather before they go to the router in one entry
    (``connectors.webchat.reports``). 0: each read's reports at once."""
    max_open_sockets: int = Field(default=0, ge=0)
    """Websockets this process keeps open at most (503 past it); 0: what the open-file limit
    leaves after the Redis pool and a margin."""
    login_max_failures: int = Field(default=10, ge=1)
    """Wrong passwords in a row that lock a login for ``login_lock_seconds``."""
    login_max_failures_per_ip: int = Field(default=50, ge=1)
    """Wrong passwords from one address that lock it for ``login_lock_seconds``."""
    login_lock_seconds: int = Field(default=900, ge=1)
    """How long a locked login or address is refused (429 with ``Retry-After``)."""
    log_level: str = "INFO"
    cpus: str = ""
    """CPUs to keep the hub's process on, as ``1``, ``0,2`` or ``2-3`` (``core.cpus``); empty:
    wherever the system runs it."""
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per line with the component, dialog, channel and message ids
    where known, and the request id (``core.logs``)."""
    metrics_token: SecretStr = SecretStr("")
    """Bearer token of ``GET /metrics`` on the hub's port. Empty (and no ``metrics_port``):
    metrics are off."""
    metrics_port: int = Field(default=0, ge=0, le=65535)
    """A port of its own for ``/metrics`` (on ``metrics_host``); 0: none."""
    metrics_host: str = "127.0.0.1"
    redis_wait_replicas_ms: int = Field(default=1000, ge=0, le=10_000)
    """When the Redis has a replica connected, the widget answers ``accepted`` only once one has
    the message (``WAIT 1``); after this long without, it asks the widget to send again.
    0: do not wait."""
    crm_adapter: Literal["builtin", "bitrix24", "webhook"] = "builtin"
    """Where the CRM sink also sends leads and transcripts; the built-in tables always hold them."""
    crm_bitrix24_url: str = ""
    """Bitrix24 inbound webhook base (``https://portal.bitrix24.ru/rest/1/<token>/``)."""
    crm_webhook_url: str = ""
    """Outgoing CRM webhook: signed JSON POSTs, retried until a 2xx answer."""
    crm_webhook_secret: SecretStr = SecretStr("")
    """HMAC-SHA256 key of the outgoing CRM webhook's signature."""
    event_webhook_retry_s: float = Field(default=5.0, gt=0, le=3600)
    """First wait before an event webhook is tried again; each further wait is 3 times longer
    (up to 10 minutes)."""
    event_webhook_max_tries: int = Field(default=8, ge=1, le=100)
    """Tries of one event webhook delivery before it is given up (about 30 minutes at the
    default waits)."""
    event_webhook_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """How long an event webhook's receiver has to answer one POST."""
    crm_gather_ms: float = Field(default=100.0, ge=0, le=10_000)
    """After a read that brought CRM events, how long the CRM sink lets more gather before it
    reads again: leads and transcripts are written this much later, in fewer transactions, and
    not in the same moment as a burst's new dialogs (``crm_sink.service``). 0: read at once."""
    crm_phone_region: str = ""
    """ISO country (``RU``) to read phones typed without ``+``; empty: only ``+`` numbers."""
    telegram_api_base: str = "https://api.telegram.org"
    """Telegram Bot API server (tests point it at a local server)."""
    vk_api_base: str = "https://api.vk.ru"
    """VK API host; vk-api's own host is rewritten to this one."""
    viber_api_base: str = "https://chatapi.viber.com/pa"
    """Viber REST bot API."""
    max_upload_mb: int = Field(default=20, ge=1, le=2048)
    """Largest file an operator may attach to a reply, in MiB (larger uploads get 413)."""
    file_link_hours: int = Field(default=168, ge=1)
    """How long a public signed file link (``/files/…``, for visitors and Viber) stays valid."""
    mail_files_max_mb: int = Field(default=10, ge=0, le=2048)
    """Total size of the files attached to a mail the hub writes to a web chat visitor (an
    operator's answer, a transcript), in MiB; a file past it is named with a link instead."""

    weekly_digest: bool = True
    """Email every operator, manager and admin with an address their week's KPI figures and
    points at the end of each week (Sunday 23:59 to Monday 00:00 in ``digest_time_zone``)."""
    digest_time_zone: str = "UTC"
    """The IANA zone whose Monday 00:00 ends the digest's week."""
    digest_smtp_host: str = ""
    """SMTP server of the digest. Empty: the SMTP account of the first enabled email channel."""
    digest_smtp_port: int = Field(default=587, ge=1, le=65535)
    digest_smtp_tls: Literal["ssl", "starttls", "none"] = "starttls"
    digest_smtp_login: str = ""
    """Empty: send without authenticating."""
    digest_smtp_password: SecretStr = SecretStr("")
    digest_from_address: str = Field(default="", pattern=r"^$|^[^@\s]+@[^@\s]+$")
    """The digest's sender; needed when ``digest_smtp_host`` is set."""

    @field_validator("digest_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _digest_sender(self) -> Settings:
        if self.digest_smtp_host and not self.digest_from_address:
            raise ValueError("digest_from_address: needed when digest_smtp_host is set")
        return self

    @field_validator("cpus")
    @classmethod
    def _cpu_list(cls, value: str) -> str:
        parse_cpus(value)  # its ValueError names what is wrong
        return value.strip()

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = config_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml.is_file():
            sources.append(_TomlWithoutLines(settings_cls, toml_file=toml))
        return tuple(sources)

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to SQLite in data_dir."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'openlines.db'}"

    @property
    def effective_public_url(self) -> str:
        """Where browsers reach the hub."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and ``openlines.toml``; keyword overrides win."""
    return Settings(**overrides)  # type: ignore[arg-type]
