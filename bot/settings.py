"""prguard's configuration: environment variables (and a `.env` file in the working directory).

Why one module: the receiver and the worker read the same names, and a wrong value must stop start-up with one
line that names the variable, never a traceback and never half a service.

Environment (exact names)::

    GITHUB_APP_ID             integer, the App's id                                  (worker)
    GITHUB_PRIVATE_KEY        the App's PEM private key; a one-line form with `\\n`   (worker, or _PATH)
                              escapes is accepted
    GITHUB_PRIVATE_KEY_PATH   path to the PEM file instead of GITHUB_PRIVATE_KEY
    GITHUB_WEBHOOK_SECRET     the webhook secret                                     (receiver)
    GITHUB_API_URL            default https://api.github.com; any other value is the API base
                              (GitHub Enterprise Server: https://HOST/api/v3)
    GITHUB_API_VERSION        the REST API version sent as `X-GitHub-Api-Version` on every request:
                              2022-11-28 or 2026-03-10. Default: 2026-03-10 for api.github.com, else
                              2022-11-28 (GHES rejects versions newer than itself with a 400; every
                              GHES >= 3.9 knows 2022-11-28)
    REDIS_URL                 default redis://localhost:6379/0 (redis://, rediss:// or unix://); a Redis
                              Cluster: redis+cluster://host:port[,host:port...] (rediss+cluster:// with
                              TLS; keys then share the hash tag {PRGUARD_REDIS_PREFIX}); Sentinel:
                              redis+sentinel://host:port[,host:port...]/SERVICE[/db]
    PRGUARD_LOG_LEVEL         DEBUG, INFO (default), WARNING, ERROR

Tunables (`PRGUARD_` + the field name in upper case, e.g. `PRGUARD_MAX_ATTEMPTS=5`): see `Settings`.

Use::

    from bot.settings import ConfigError, load_settings
    try:
        settings = load_settings("worker")      # or "web", or "any" (no role checks)
    except ConfigError as exc:
        return exc.exit()                      # prints `prguard: configuration error: ...`, returns 2

`settings.private_key` and `settings.webhook_secret` are plain `str` (PEM text / secret), excluded
from `repr()` and registered with `bot.log.add_sensitive` as soon as they are loaded, so no log line can
carry them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.log import add_sensitive
from checks.change import DEFAULT_MAX_FILE_BYTES
from checks.history import DEFAULT_MAX_COMMITS

Role = Literal["web", "worker", "any"]

DAY = 24 * 3600
GITHUB_COM_API = "https://api.github.com"
#: REST API versions prguard can speak (githubkit ships models for each; the first is GHES's common one).
API_VERSIONS = ("2022-11-28", "2026-03-10")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Bounds of PRGUARD_GITHUB_RETRY_DELAYS: a job must not sleep through minutes of retries on one request.
RETRY_DELAYS_MAX = 10
RETRY_DELAY_MAX_S = 60.0


class ConfigError(Exception):
    """A missing or malformed setting. `str(exc)` is one line naming the variable, never its value."""

    def exit(self) -> int:
        """Print the one-line error to stderr and return the exit status for start-up errors (2)."""
        print(f"prguard: configuration error: {self}", file=sys.stderr)
        return 2


def _env(name: str, default: Any, **constraints: Any) -> Any:
    """A field read from the environment variable `name` (exactly that name, no prefix added)."""
    return Field(default, validation_alias=AliasChoices(name), **constraints)


class Settings(BaseSettings):
    """Every setting prguard reads. Field -> environment variable is given in each description."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      env_ignore_empty=True, populate_by_name=False, frozen=True)

    # --- GitHub ---------------------------------------------------------------------------------------------
    app_id: int | None = _env("GITHUB_APP_ID", None, gt=0)
    #: PEM text, whichever of GITHUB_PRIVATE_KEY / GITHUB_PRIVATE_KEY_PATH supplied it.
    private_key: str | None = _env("GITHUB_PRIVATE_KEY", None, repr=False)
    private_key_path: Path | None = _env("GITHUB_PRIVATE_KEY_PATH", None)
    webhook_secret: str | None = _env("GITHUB_WEBHOOK_SECRET", None, repr=False)
    #: REST API base without a trailing slash (https://api.github.com, or https://HOST/api/v3 for GHES).
    api_url: str = _env("GITHUB_API_URL", GITHUB_COM_API)
    #: `X-GitHub-Api-Version` of every REST call; None in the environment means "by `api_url`"
    #: (`default_api_version`). Declared after `api_url`, which its validator reads.
    api_version: str = _env("GITHUB_API_VERSION", None, validate_default=True)

    # --- Redis and logs -----------------------------------------------------------------------------------
    redis_url: str = _env("REDIS_URL", "redis://localhost:6379/0")
    log_level: str = _env("PRGUARD_LOG_LEVEL", "INFO")

    # --- tunables (PRGUARD_*) -----------------------------------------------------------------------------
    #: Prefix of every Redis key (`{prefix}:jobs`, `{prefix}:dead`, ...): deployments can share a Redis.
    redis_prefix: str = _env("PRGUARD_REDIS_PREFIX", "prguard", min_length=1)
    #: Bound of the job stream (XADD MAXLEN ~, approximate trimming: Redis keeps at least this many entries
    #: and trims whole macro-nodes, so the stream may briefly hold a little more). 100,000 jobs is days of
    #: backlog for a large org; an entry trimmed before a worker read it is lost: keep it far above backlog.
    stream_maxlen: int = _env("PRGUARD_STREAM_MAXLEN", 100_000, ge=1000)
    #: Seconds a job may stay unacknowledged without a heartbeat before another worker reclaims it.
    visibility_timeout: float = _env("PRGUARD_VISIBILITY_TIMEOUT", 120.0, gt=0)
    #: Deliveries of a job (first try + retries) before it is dead-lettered and its check runs fail.
    max_attempts: int = _env("PRGUARD_MAX_ATTEMPTS", 3, ge=1)
    #: Seconds a delivery id is remembered (GitHub lets a delivery be redelivered for 3 days).
    dedupe_ttl: int = _env("PRGUARD_DEDUPE_TTL", 4 * DAY, ge=3 * DAY)
    #: Seconds the newest head SHA of a PR is remembered (for superseding older jobs).
    head_ttl: int = _env("PRGUARD_HEAD_TTL", 30 * DAY, ge=DAY)
    #: Jobs one worker process runs at once.
    worker_concurrency: int = _env("PRGUARD_WORKER_CONCURRENCY", 4, ge=1, le=256)
    #: Seconds a stopping worker waits for running jobs before handing them back to the queue.
    shutdown_grace: float = _env("PRGUARD_SHUTDOWN_GRACE", 20.0, ge=0)
    #: Files larger than this are skipped (and reported as skipped) by the checks.
    max_file_bytes: int = _env("PRGUARD_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES, ge=1)
    #: Seconds each check may run on one PR head; an engine still running then is killed and the check's run
    #: fails saying so (never a pass). It may exceed the visibility timeout: running jobs heartbeat.
    check_timeout: float = _env("PRGUARD_CHECK_TIMEOUT", 300.0, gt=0, le=3600)
    #: Commits of a PR whose additions the secrets check reads (a key committed, then deleted, is still in
    #: history); each costs one request. The PR's other commits are listed as not scanned. GitHub lists 250.
    history_max_commits: int = _env("PRGUARD_HISTORY_MAX_COMMITS", DEFAULT_MAX_COMMITS, ge=1, le=250)
    #: Directory of the offline advisory index (the dependencies check); None: PRGUARD_ADVISORY_DIR as read
    #: by `checks.dependencies.advisories.location`, else the user cache dir.
    advisory_dir: Path | None = _env("PRGUARD_ADVISORY_DIR", None)
    #: Where the App's scheduled sync fetches OSV data: a base URL serving `<ecosystem>/all.zip` (OSV's own
    #: export bucket layout), one zip URL, or a local path. None: no scheduled sync (the operator runs
    #: `prguard advisories sync`); the re-audit then runs after each sync it sees.
    advisory_mirror: str | None = _env("PRGUARD_ADVISORY_MIRROR", None)
    #: Seconds between scheduled advisory syncs and re-audits of default branches (0: never).
    advisory_sync_interval: float = _env("PRGUARD_ADVISORY_SYNC_INTERVAL", 6 * 3600.0, ge=0)
    #: Most annotations posted per check run (GitHub takes 50 per request; the rest go in further updates).
    #: Bounded because every 50 annotations cost one request against GitHub's ~80 writes/minute limit.
    annotation_cap: int = _env("PRGUARD_ANNOTATION_CAP", 500, ge=0, le=1000)
    #: Longest wait (seconds) a worker accepts for a GitHub rate limit; a longer one fails the attempt so the
    #: queue retries the job later instead of blocking a worker for up to an hour.
    github_max_rate_limit_wait: float = _env("PRGUARD_GITHUB_MAX_RATE_LIMIT_WAIT", 90.0, ge=0)
    #: Seconds a rate-limited GitHub request waits when GitHub sends neither `Retry-After` nor
    #: `x-ratelimit-reset` (GitHub asks for at least a minute). Above PRGUARD_GITHUB_MAX_RATE_LIMIT_WAIT,
    #: such a rate limit fails the attempt at once and the queue retries the job later.
    github_default_rate_limit_wait: float = _env(
        "PRGUARD_GITHUB_DEFAULT_RATE_LIMIT_WAIT", 60.0, ge=0, le=3600
    )
    #: Rate-limit pauses one GitHub request may take before it fails (and the queue retries the job later).
    github_rate_limit_retries: int = _env("PRGUARD_GITHUB_RATE_LIMIT_RETRIES", 2, ge=0, le=10)
    #: Seconds before each retry of an idempotent GitHub request after a 5xx or a network error, and before
    #: each re-check of a check-run write whose reply was lost (`bot.github.checkruns`): one retry per delay,
    #: comma-separated (`1,3,9`, the default), at most 10 delays of at most 60 s each.
    github_retry_delays: Annotated[tuple[float, ...], NoDecode] = _env(
        "PRGUARD_GITHUB_RETRY_DELAYS", (1.0, 3.0, 9.0)
    )
    #: Seconds before one GitHub request times out.
    github_timeout: float = _env("PRGUARD_GITHUB_TIMEOUT", 30.0, gt=0)
    #: File contents fetched from GitHub at once per job (GitHub's secondary limits allow ~100 concurrent).
    github_fetch_concurrency: int = _env("PRGUARD_GITHUB_FETCH_CONCURRENCY", 8, ge=1, le=32)
    #: Bytes of request bodies the receiver holds at once, across all requests (bot/runtime/receiver.py,
    #: `BodyBudget`). Bodies are buffered before their signature can be checked, so this bounds the memory
    #: unauthenticated clients can take; a request that does not fit gets 503 before it is read. At least
    #: 32 MiB, so a 25 MB delivery (GitHub's cap) always fits beside the reserve kept for small ones.
    webhook_body_budget: int = _env("PRGUARD_WEBHOOK_BODY_BUDGET", 64 * 1024 * 1024, ge=32 * 1024 * 1024)
    #: Seconds a client has to send a request's head, and then its whole body, before the receiver answers
    #: 408 (or, for a head, closes): a body trickled a byte at a time must not hold a connection and its
    #: share of the body budget. GitHub sends a delivery in well under a second.
    webhook_read_timeout: float = _env("PRGUARD_WEBHOOK_READ_TIMEOUT", 10.0, gt=0, le=60)
    #: Connections (and requests in progress) `prguard serve` accepts at once (uvicorn's
    #: `limit_concurrency`); past it a request gets 503 at once. Bounds sockets and per-connection buffers.
    webhook_max_connections: int = _env("PRGUARD_WEBHOOK_MAX_CONNECTIONS", 128, ge=8, le=10_000)
    #: Seconds between reconcile runs in the worker fleet (redeliver failed webhooks, queue PR heads that have
    #: no prguard runs, fail runs stuck in progress); 0 turns the scheduled reconcile off.
    reconcile_interval: float = _env("PRGUARD_RECONCILE_INTERVAL", 600.0, ge=0)
    #: A prguard run still `queued`/`in_progress` this many seconds after it started is stuck (its job was
    #: lost): reconcile completes it as `failure`, saying the scan was interrupted and how to re-run it.
    stuck_run_seconds: float = _env("PRGUARD_STUCK_RUN_SECONDS", 1800.0, ge=60)
    #: Failed webhook deliveries reconcile asks GitHub to redeliver per run (GitHub keeps 3 days of them).
    reconcile_max_redeliveries: int = _env("PRGUARD_RECONCILE_MAX_REDELIVERIES", 100, ge=0, le=10_000)
    #: Port of the worker's Prometheus `/metrics` endpoint (the receiver serves `/metrics` on its own port);
    #: 0 = none.
    metrics_port: int = _env("PRGUARD_METRICS_PORT", 0, ge=0, le=65535)

    @field_validator("private_key", mode="before")
    @classmethod
    def _unescape_key(cls, value: Any) -> Any:
        # one-line form (Heroku config vars, docker --env-file): "-----BEGIN ...-----\nMIIE...\n-----END..."
        if isinstance(value, str) and "\\n" in value and "\n" not in value.strip():
            value = value.replace("\\n", "\n")
        return value.strip() + "\n" if isinstance(value, str) else value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://api.github.com or https://HOST/api/v3")
        return value.rstrip("/")

    @field_validator("api_version", mode="before")
    @classmethod
    def _api_version(cls, value: Any, info: ValidationInfo) -> str:
        if value is None:
            return default_api_version(str(info.data.get("api_url") or GITHUB_COM_API))
        if not isinstance(value, str) or value.strip() not in API_VERSIONS:
            raise ValueError(f"must be one of {', '.join(API_VERSIONS)}")
        return value.strip()

    @field_validator("redis_prefix")
    @classmethod
    def _redis_prefix(cls, value: str, info: ValidationInfo) -> str:
        """On a Redis Cluster every key must share one hash slot: the prefix becomes a hash tag."""
        from bot.runtime.redis_connect import cluster_prefix

        url = info.data.get("redis_url")
        return cluster_prefix(value, url) if isinstance(url, str) else value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        from redis.connection import parse_url

        from bot.runtime.redis_connect import SCHEMES, kind

        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in SCHEMES:
            raise ValueError("must be a redis://, rediss://, unix://, redis+cluster:// or redis+sentinel:// "
                             "URL")
        if kind(value) != "single":  # several hosts: parse them as the client will
            from urllib.parse import urlsplit

            from bot.runtime.redis_connect import _nodes

            try:
                _hosts, _user, password = _nodes(urlsplit(value).netloc)
            except ValueError:
                raise ValueError("is not a valid Redis URL (redis+cluster://[[user]:password@]host:port"
                                 "[,host:port...] or redis+sentinel://host:port[,...]/SERVICE[/db])"
                                 ) from None
            add_sensitive(password, pinned=True)
            return value
        try:  # as the clients will parse it, so a bad port stops start-up here and not in a traceback later
            password = parse_url(value).get("password")
        except ValueError:
            # the URL may hold a password: never echo it
            hint = "redis://[[user]:password@]host[:port][/db]"
            raise ValueError(f"is not a valid Redis URL ({hint})") from None
        add_sensitive(password, pinned=True)
        return value

    @field_validator("github_retry_delays", mode="before")
    @classmethod
    def _retry_delays(cls, value: Any) -> tuple[float, ...]:
        hint = (f"must be comma-separated seconds, at most {RETRY_DELAYS_MAX} of them, each from 0 to "
                f"{RETRY_DELAY_MAX_S:g} (e.g. 1,3,9)")
        if isinstance(value, str):  # `1,3,9`; a JSON list (`[1, 3, 9]`) reads the same
            value = value.strip().removeprefix("[").removesuffix("]").replace(",", " ").split()
        try:
            delays = tuple(float(d) for d in value)
        except (TypeError, ValueError):
            raise ValueError(hint) from None
        # `0 <= d <= max` is also False for NaN
        if len(delays) > RETRY_DELAYS_MAX or not all(0 <= d <= RETRY_DELAY_MAX_S for d in delays):
            raise ValueError(hint)
        return delays

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()


def default_api_version(api_url: str) -> str:
    """The newest version for github.com; 2022-11-28 elsewhere, because a GitHub Enterprise Server answers 400
    to a version newer than its release and 2022-11-28 is the one every supported GHES (>= 3.9) knows."""
    host = (urlsplit(api_url).hostname or "").lower()
    return API_VERSIONS[-1] if host == "api.github.com" else API_VERSIONS[0]


_ENV_NAMES = {name: str(field.validation_alias.choices[0])  # type: ignore[union-attr]
              for name, field in Settings.model_fields.items()}


def env_name(field: str) -> str:
    """The environment variable behind a `Settings` field (`app_id` -> `GITHUB_APP_ID`)."""
    return _ENV_NAMES.get(field, field)


def _describe(error: dict[str, Any]) -> str:
    loc = error.get("loc") or ("?",)
    name = str(loc[0])
    name = _ENV_NAMES.get(name, name)
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"{name} must be an integer"
    if kind in ("float_parsing", "float_type"):
        return f"{name} must be a number"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal"):
        bound = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<="}[kind]
        limit = ctx.get("ge", ctx.get("gt", ctx.get("le")))
        return f"{name} must be {bound} {limit}"
    if kind == "string_too_short":
        return f"{name} must not be empty"
    if kind == "value_error":
        return f"{name} {ctx.get('error', error.get('msg', 'is invalid'))}"
    # never echo `input`: it may be the private key or the secret
    return f"{name} is invalid ({error.get('msg', kind)})"


def _load_key(settings: Settings) -> str | None:
    """The PEM text from GITHUB_PRIVATE_KEY or the file named by GITHUB_PRIVATE_KEY_PATH, checked to parse."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if settings.private_key:
        source, pem = "GITHUB_PRIVATE_KEY", settings.private_key
    elif settings.private_key_path:
        source = "GITHUB_PRIVATE_KEY_PATH"
        try:
            pem = settings.private_key_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a text file"
            raise ConfigError(f"GITHUB_PRIVATE_KEY_PATH cannot be read ({reason})") from None
    else:
        return None
    add_sensitive(pem, pem.strip(), pinned=True)
    try:
        load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{source} is not a PEM private key (expected '-----BEGIN ... PRIVATE KEY-----')") \
            from None
    except Exception:  # cryptography raises UnsupportedAlgorithm and friends for odd keys
        raise ConfigError(f"{source} is not a usable PEM private key") from None
    return pem


def load_settings(role: Role = "any", **overrides: Any) -> Settings:
    """Read and validate the settings a `role` needs; raise `ConfigError` (one line) when something is wrong.

    - "web" (the receiver) needs GITHUB_WEBHOOK_SECRET and Redis only;
    - "worker" also needs GITHUB_APP_ID and the private key (it talks to GitHub, never verifies webhooks);
    - "any" checks formats but requires nothing (for tests and tools).

    `overrides` take precedence over the environment (keyword = field name), which tests use.
    """
    try:
        settings = Settings(**{env_name(k): v for k, v in overrides.items()})
    except ValidationError as exc:
        errors = exc.errors(include_input=False)
        problems = [_describe(dict(e)) for e in errors]
        raise ConfigError("; ".join(problems)) from None
    except (UnicodeDecodeError, OSError):
        # pydantic-settings reads `.env` itself; its error would be a traceback (or, caught as a ValueError
        # by a caller, blamed on another setting)
        raise ConfigError(".env in the working directory cannot be read as UTF-8 text") from None
    add_sensitive(settings.webhook_secret, pinned=True)
    pem = _load_key(settings)
    if pem is not None and pem != settings.private_key:
        settings = settings.model_copy(update={"private_key": pem})
    missing: list[str] = []
    if role == "web" and not settings.webhook_secret:
        missing.append("GITHUB_WEBHOOK_SECRET")
    if role == "worker":
        if settings.app_id is None:
            missing.append("GITHUB_APP_ID")
        if not settings.private_key:
            missing.append("GITHUB_PRIVATE_KEY (or GITHUB_PRIVATE_KEY_PATH)")
    if missing:
        raise ConfigError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set")
    return settings
