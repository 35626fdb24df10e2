"""The GitHub client: app and installation auth, and prguard's own bounded retry policy.

githubkit's defaults do not fit a queue worker: they retry *any* method on a 5xx (a POST that succeeded behind
a 502 creates a duplicate), may sleep up to an hour on a rate limit (blocking a worker), and never refresh an
installation token that GitHub rejects with 401. `RetryPolicy` replaces them:

- 5xx and network errors: idempotent methods (GET, HEAD, PUT, DELETE) are retried after short, bounded
  delays; POST and PATCH are not retried blindly (`bot.github.checkruns` re-checks GitHub's state before
  repeating a write).
- 403/429 rate limits: wait `Retry-After`, else until `x-ratelimit-reset`, else at least a minute — unless
  the wait is longer than `max_rate_limit_wait`, then `RateLimitWaitTooLong` is raised so the job fails
  visibly and the queue retries it later instead of a worker sleeping for an hour.
- 401: the token that was refused is dropped from the cache and the request repeated once with a fresh one.

githubkit 0.16.1's App auth hook rebuilds each request's path with `httpx.URL(path=url.path)`, from the
*decoded* path, which httpx refuses when it holds `#` or `?`: a PR file called `notes#1.md` made every
contents request fail as a "network error" (retried, then dead-lettered). `_AppAuth` re-encodes the
path first.

The policy is plugged in as githubkit's `auto_retry` decision function (so it covers every call, pagination
and the token mint included), which replaces githubkit's default policy entirely.

REST API version: githubkit sends its newest bundled version (`2026-03-10`) from `gh.rest.<namespace>` and no
version at all on pagination's next pages or the installation-token mint; a GitHub Enterprise Server older
than that version answers 400 to it. `VersionedGitHub` pins one version (`GITHUB_API_VERSION`, by default
`2026-03-10` on github.com and `2022-11-28` elsewhere): `gh.rest.checks...` and `gh.rest.paginate(...)` use
that version's models and header, and a request hook stamps the header on every other request the client
sends (next pages, the token mint, retries), so callers keep writing `gh.rest.<namespace>` unchanged.

Connections: every httpx client (one per `async with gh`, i.e. per job; one per call without it) gets a
transport, hence a connection pool, of its own. githubkit closes a client's transport when the client closes;
with one transport shared by the process, the end of any job closed the connections other jobs had requests
in flight on (`httpx.ReadError`): GETs were retried a second later, POSTs failed their job
(tests/test_github_client_pool.py).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub
from githubkit.auth import BaseAuthStrategy
from githubkit.auth.app import AppAuth
from githubkit.cache import MemCacheStrategy
from githubkit.cache.mem_cache import MemCache
from githubkit.config import Config
from githubkit.exception import RequestFailed
from githubkit.versions import RestVersionSwitcher

from bot.github.retry import RetryPolicy, error_message
from bot.log import add_sensitive, get_logger, scrub
from bot.metrics import MetricsTransport
from bot.settings import API_VERSIONS, Settings, default_api_version

log = get_logger(__name__)

A = TypeVar("A", bound=BaseAuthStrategy)
AS = TypeVar("AS", bound=BaseAuthStrategy)

API_VERSION_HEADER = "X-GitHub-Api-Version"


@dataclass(frozen=True)
class GitHubOptions:
    """Everything the client needs; `from_settings` reads it from `bot.settings.Settings` (the tuning fields
    are the `PRGUARD_GITHUB_*` tunables, named beside each field)."""

    app_id: int
    private_key: str
    api_url: str = "https://api.github.com"
    #: Delays before each retry of an idempotent request after a 5xx or network error (bounded total).
    #: `PRGUARD_GITHUB_RETRY_DELAYS`
    server_error_delays: tuple[float, ...] = (1.0, 3.0, 9.0)
    #: Longest rate-limit pause a worker accepts before failing the job so the queue retries later.
    #: `PRGUARD_GITHUB_MAX_RATE_LIMIT_WAIT`
    max_rate_limit_wait: float = 90.0
    #: The pause when GitHub gives neither `Retry-After` nor `x-ratelimit-reset` (GitHub: at least a minute).
    #: `PRGUARD_GITHUB_DEFAULT_RATE_LIMIT_WAIT`
    default_rate_limit_wait: float = 60.0
    #: How many rate-limit pauses one request may take. `PRGUARD_GITHUB_RATE_LIMIT_RETRIES`
    rate_limit_retries: int = 2
    #: Seconds before one request times out. `PRGUARD_GITHUB_TIMEOUT`
    timeout: float = 30.0
    user_agent: str = "prguard"
    #: REST API version (`X-GitHub-Api-Version`); None: by `api_url` (`bot.settings.default_api_version`).
    api_version: str | None = None

    def __post_init__(self) -> None:
        version = self.api_version or default_api_version(self.api_url)
        if version not in API_VERSIONS:
            raise ValueError(f"GitHub API version {version!r} is not one of {', '.join(API_VERSIONS)}")
        object.__setattr__(self, "api_version", version)

    @classmethod
    def from_settings(cls, settings: Settings) -> GitHubOptions:
        """From `bot.settings.Settings`, which validated every value (`load_settings`)."""
        return cls(
            app_id=int(settings.app_id or 0),
            private_key=settings.private_key or "",
            api_url=settings.api_url,
            api_version=settings.api_version,
            server_error_delays=tuple(settings.github_retry_delays),
            max_rate_limit_wait=settings.github_max_rate_limit_wait,
            default_rate_limit_wait=settings.github_default_rate_limit_wait,
            rate_limit_retries=settings.github_rate_limit_retries,
            timeout=settings.github_timeout,
        )


class TokenCache(MemCache):
    """githubkit's per-process token cache, plus `forget` so a token GitHub refused is not reused."""

    def forget(self, value: str) -> bool:
        """Expire every entry holding `value` (the JWT or an installation token); True if one was held."""
        found = False
        for key, item in list(self._cache.items()):
            if item.value == value:
                self._cache.pop(key, None)
                found = True
        return found

    def set(self, key: str, value: str, ex: timedelta) -> None:
        # tokens and JWTs are secrets: scrub them from every log line, whatever logs them
        add_sensitive(value)
        super().set(key, value, ex)


class TokenCacheStrategy(MemCacheStrategy):
    def get_cache_storage(self) -> TokenCache:
        if self._cache is None:
            self._cache = TokenCache()
        assert isinstance(self._cache, TokenCache)
        return self._cache


class _AppAuth(AppAuth):
    """githubkit's App/installation auth hook, safe for paths holding `#`, `?` or `%` (module docstring)."""

    def _get_api_route(self, url: httpx.URL) -> httpx.URL:
        base_path = self.github.config.base_url.path
        path = url.path
        if path.startswith(base_path):
            path = "/" + path[len(base_path):].lstrip("/")
        return httpx.URL(path=quote(path, safe="/:@!$&'()*+,;=-._~"))


class _InstallationStrategy(AppInstallationAuthStrategy):
    def get_auth_flow(self, github: Any) -> httpx.Auth:
        return _AppAuth(github, self.app_id, self.private_key, self.client_id, self.client_secret,
                        self.installation_id, self.repositories, self.repository_ids, self.permissions)


class _AppStrategy(AppAuthStrategy):
    def get_auth_flow(self, github: Any) -> httpx.Auth:
        return _AppAuth(github, self.app_id, self.private_key, self.client_id, self.client_secret)

    def as_installation(self, installation_id: int, repositories: Any = None, repository_ids: Any = None,
                        permissions: Any = None) -> _InstallationStrategy:
        base = super().as_installation(installation_id)
        return _InstallationStrategy(base.app_id, base.private_key, installation_id, base.client_id,
                                     base.client_secret)


class _PinnedRestSwitcher(RestVersionSwitcher):
    """`gh.rest` whose default version is the client's: githubkit's switcher resolves `gh.rest.checks` (its
    `__getattr__` calls `self()`) to the newest version; this one to `version`. `gh.rest("...")` still picks
    another version explicitly."""

    def __init__(self, github: Any, version: str) -> None:
        super().__init__(github)
        self._version = version

    def __call__(self, version: Any = None) -> Any:
        return super().__call__(version or self._version)


def _version_hooks(version: str) -> tuple[Any, Any]:
    """httpx request hooks (sync, async) adding the version header where githubkit sent none (next pages,
    the token mint). `setdefault`: a request built by a versioned namespace already names its own version."""

    def stamp(request: httpx.Request) -> None:
        request.headers.setdefault(API_VERSION_HEADER, version)

    async def astamp(request: httpx.Request) -> None:
        stamp(request)

    return stamp, astamp


class VersionedGitHub(GitHub[A]):
    """A githubkit client speaking one REST API version on every request (module docstring).

    Built with githubkit's keyword options plus `api_version`; `with_auth` keeps the class and the version
    (githubkit's returns a plain `GitHub`, which would fall back to the newest version).
    """

    def __init__(self, auth: Any = None, *, api_version: str, config: Config | None = None,
                 new_transport: Callable[[], httpx.AsyncBaseTransport] | None = None, **options: Any) -> None:
        if api_version not in API_VERSIONS:
            raise ValueError(f"GitHub API version {api_version!r} is not one of {', '.join(API_VERSIONS)}")
        self.api_version = api_version
        #: makes each httpx client's own transport (module docstring: Connections); None: githubkit's way
        self.new_transport = new_transport
        if config is None:
            stamp, astamp = _version_hooks(api_version)
            for key, hook in (("event_hooks", stamp), ("async_event_hooks", astamp)):
                hooks = dict(options.get(key) or {})
                hooks["request"] = [*hooks.get("request", []), hook]
                options[key] = hooks
            super().__init__(auth, **options)
        else:  # from `with_auth`: the copied config already carries this version's hooks
            super().__init__(auth, config=config)

    @cached_property
    def rest(self) -> RestVersionSwitcher:
        return _PinnedRestSwitcher(self, self.api_version)

    def with_auth(self, auth: AS) -> VersionedGitHub[AS]:
        return VersionedGitHub(auth, api_version=self.api_version, config=self.config.copy(),
                               new_transport=self.new_transport)

    async def _create_async_client(self) -> httpx.AsyncClient:
        """githubkit's client (its non-caching branch), on a transport nobody else uses: closing it must not
        close another job's connections."""
        if self.new_transport is None or self.config.http_cache:
            return await super()._create_async_client()
        return httpx.AsyncClient(**self._get_client_defaults(), transport=self.new_transport(),
                                 event_hooks=self.config.async_event_hooks)


class _Borrowed(MetricsTransport):
    """A caller's transport, shared by every client: its owner closes it, never a client."""

    async def aclose(self) -> None:
        return None


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (`HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY`, lower or upper
    case), unless `NO_PROXY` exempts its host — as httpx would decide for a client without a transport."""
    split = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    if not proxies or urllib.request.proxy_bypass_environment(split.hostname or "", proxies):
        return None
    return proxies.get(split.scheme) or proxies.get("all")


class GitHubApp:
    """One per worker process: the app's identity, its token cache and its retry policy.

    `installation(id)` returns a client authenticated as that installation. Use it as `async with client:` for
    the duration of one job so its HTTP connections are reused (~4 ms per request instead of ~25 ms), and keep
    a reference to it: githubkit's `rest` namespace holds its client only weakly.
    """

    def __init__(self, options: GitHubOptions, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        add_sensitive(options.private_key, pinned=True)
        self.options = options
        self.cache_strategy = TokenCacheStrategy()
        self.retry = RetryPolicy(options, self.cache_strategy.get_cache_storage())
        assert options.api_version is not None  # resolved by GitHubOptions
        # loading the CA bundle costs ~30 ms of CPU: once per process, not once per job's transport
        self._ssl = httpx.create_ssl_context()
        # httpx reads HTTPS_PROXY / NO_PROXY only for clients without a transport of their own; ours have one
        self._proxy = env_proxy(options.api_url)
        self.app = VersionedGitHub(
            _AppStrategy(options.app_id, options.private_key),
            api_version=options.api_version,
            base_url=options.api_url,
            user_agent=options.user_agent,
            timeout=options.timeout,
            cache_strategy=self.cache_strategy,
            http_cache=False,  # responses are read once per job; an in-memory HTTP cache only grows
            auto_retry=self.retry,
            # a pool per client, counting answers for /metrics (module docstring: Connections)
            new_transport=(lambda: _Borrowed(transport)) if transport is not None else self._new_transport,
        )
        # the version matters to an operator: a GHES older than it refuses every call with a 400
        log.info("github.client", api_url=options.api_url, api_version=options.api_version)

    @classmethod
    def from_settings(cls, settings: Settings) -> GitHubApp:
        return cls(GitHubOptions.from_settings(settings))

    def _new_transport(self) -> MetricsTransport:
        return MetricsTransport(httpx.AsyncHTTPTransport(verify=self._ssl, proxy=self._proxy))

    def installation(self, installation_id: int) -> VersionedGitHub[Any]:
        return self.app.with_auth(self.app.auth.as_installation(installation_id))

    async def misconfiguration(self) -> str | None:
        """One line naming the setting GitHub refuses (`GET /app` with the App's JWT), or None.

        A worker whose API version, app id or key GitHub rejects would dead-letter every job and leave PRs
        without check runs; saying so at start-up is louder. Only a definite refusal (400 version, 401/404
        app) counts: an unreachable GitHub is not a configuration error, and jobs retry on their own.
        """
        try:
            async with self.app:
                await self.app.rest.apps.async_get_authenticated()
        except RequestFailed as exc:
            status = exc.response.status_code
            said = error_message(exc)
            if status == 400 and "version" in said.lower():
                return (f"GITHUB_API_VERSION {self.options.api_version} is not supported by "
                        f"{self.options.api_url} (GitHub said: {said})")
            if status in (401, 404):
                return (f"GITHUB_APP_ID {self.options.app_id} or GITHUB_PRIVATE_KEY was refused by "
                        f"{self.options.api_url} (HTTP {status}: {said})")
            log.warning("github.startup_check_failed", status=status, error=scrub(said))
        except Exception as exc:  # unreachable, timeouts: not a configuration error
            log.warning("github.startup_check_failed", error=scrub(f"{type(exc).__name__}: {exc}")[:300])
        return None

