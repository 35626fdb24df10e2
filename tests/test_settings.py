"""Configuration: the exact environment names, `.env`, per-role requirements, and one clear line on errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.log import scrub
from bot.settings import ConfigError, Settings, load_settings
from tests.secrets_keys import private_key_pem, reseed

ROOT = Path(__file__).resolve().parents[1]
NAMES = [
    "GITHUB_APP_ID",
    "GITHUB_PRIVATE_KEY",
    "GITHUB_PRIVATE_KEY_PATH",
    "GITHUB_WEBHOOK_SECRET",
    "GITHUB_API_URL",
    "REDIS_URL",
    "PORT",
] + [str(f.validation_alias.choices[0]) for f in Settings.model_fields.values()]  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def pem() -> str:
    reseed(f"{__name__}::pem")  # module-scoped: set up before the first test's own reseed
    return private_key_pem(2048, traditional=True)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No prguard variable set and a working directory without `.env`."""
    for name in set(NAMES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )


# --- start-up errors, as an operator sees them -----------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        (["serve"], {}, "GITHUB_WEBHOOK_SECRET is not set"),
        (
            ["serve"],
            {"GITHUB_WEBHOOK_SECRET": "s3cret-value", "REDIS_URL": "localhost:6379"},
            "REDIS_URL must be a redis://, rediss://, unix://, redis+cluster:// or redis+sentinel:// URL",
        ),
        (["serve"], {"GITHUB_WEBHOOK_SECRET": "s3cret-value", "PORT": "http"}, "PORT must be an integer"),
        (
            ["serve"],
            {"GITHUB_WEBHOOK_SECRET": "s3cret-value", "PRGUARD_LOG_LEVEL": "chatty"},
            "PRGUARD_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
        ),
        (["worker"], {"GITHUB_APP_ID": "my-app"}, "GITHUB_APP_ID must be an integer"),
        (["worker"], {"GITHUB_APP_ID": "123"}, "GITHUB_PRIVATE_KEY (or GITHUB_PRIVATE_KEY_PATH) is not set"),
        (
            ["worker"],
            {"GITHUB_APP_ID": "123", "GITHUB_PRIVATE_KEY_PATH": "/nonexistent/key.pem"},
            "GITHUB_PRIVATE_KEY_PATH cannot be read (No such file or directory)",
        ),
        (
            ["worker"],
            {"GITHUB_APP_ID": "123", "GITHUB_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\\nAAAA"},
            "GITHUB_PRIVATE_KEY is not a PEM private key (expected '-----BEGIN ... PRIVATE KEY-----')",
        ),
        (
            ["worker"],
            {"PRGUARD_MAX_ATTEMPTS": "0", "GITHUB_APP_ID": "1"},
            "PRGUARD_MAX_ATTEMPTS must be >= 1",
        ),
        (  # used to pass validation and die later in a traceback
            ["serve"],
            {"GITHUB_WEBHOOK_SECRET": "s3cret-value", "REDIS_URL": "redis://:hunter2-pw@cache:63x79/0"},
            "REDIS_URL is not a valid Redis URL (redis://[[user]:password@]host[:port][/db])",
        ),
        (
            ["worker"],
            {"GITHUB_APP_ID": "1", "REDIS_URL": "rediss://:hunter2-pw@cache:port/0"},
            "REDIS_URL is not a valid Redis URL (redis://[[user]:password@]host[:port][/db])",
        ),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line_and_exit_2(
    tmp_path: Path, command: list[str], env: dict[str, str], message: str
) -> None:
    result = run_cli(command, env, tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"prguard: configuration error: {message}\n"
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["serve"], ["worker"]])
def test_a_dotenv_file_that_is_not_utf8_is_named_not_blamed_on_port(
    tmp_path: Path, command: list[str]
) -> None:
    """The decode error is a ValueError: `prguard serve` reported "PORT must be an integer", the worker a
    traceback."""
    (tmp_path / ".env").write_bytes(b"GITHUB_WEBHOOK_SECRET=caf\xe9-secret-value\n")
    result = run_cli(command, {}, tmp_path)
    assert result.returncode == 2
    message = ".env in the working directory cannot be read as UTF-8 text"
    assert result.stderr == f"prguard: configuration error: {message}\n"


def test_the_redis_password_is_kept_out_of_logs(clean_env: Path) -> None:
    load_settings("any", redis_url="rediss://default:redis-pw-Zq81x7@cache.example.com:6380/0")
    assert "redis-pw-Zq81x7" not in scrub("Error connecting with redis-pw-Zq81x7")


def test_the_worker_needs_no_webhook_secret_and_the_receiver_no_app_key(clean_env: Path, pem: str) -> None:
    worker = load_settings("worker", app_id="7", private_key=pem)
    assert worker.app_id == 7 and worker.webhook_secret is None
    web = load_settings("web", webhook_secret="only-this-one")
    assert web.app_id is None and web.private_key is None
    with pytest.raises(ConfigError, match=r"^GITHUB_APP_ID is not set$"):
        load_settings("worker", private_key=pem)


def test_defaults(clean_env: Path) -> None:
    settings = load_settings("any")
    assert settings.api_url == "https://api.github.com"
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.log_level == "INFO"
    assert (settings.redis_prefix, settings.stream_maxlen, settings.max_attempts) == ("prguard", 100_000, 3)
    assert settings.dedupe_ttl >= 3 * 24 * 3600


def test_environment_names_are_read_exactly(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, pem: str
) -> None:
    monkeypatch.setenv("GITHUB_APP_ID", "4242")
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", pem)
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "hook-secret-1")
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example.com/api/v3/")
    monkeypatch.setenv("REDIS_URL", "rediss://cache.example.com:6380/2")
    monkeypatch.setenv("PRGUARD_LOG_LEVEL", "debug")
    monkeypatch.setenv("PRGUARD_REDIS_PREFIX", "{prguard-ci}")
    monkeypatch.setenv("PRGUARD_STREAM_MAXLEN", "5000")
    monkeypatch.setenv("PRGUARD_VISIBILITY_TIMEOUT", "2.5")
    monkeypatch.setenv("PRGUARD_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("PRGUARD_WORKER_CONCURRENCY", "8")
    monkeypatch.setenv("PRGUARD_MAX_FILE_BYTES", "2048")
    monkeypatch.setenv("PRGUARD_ANNOTATION_CAP", "200")
    s = load_settings("worker")
    assert (s.app_id, s.webhook_secret, s.api_url, s.redis_url, s.log_level) == (
        4242,
        "hook-secret-1",
        "https://ghe.example.com/api/v3",
        "rediss://cache.example.com:6380/2",
        "DEBUG",
    )
    assert (s.redis_prefix, s.stream_maxlen, s.visibility_timeout, s.max_attempts) == (
        "{prguard-ci}",
        5000,
        2.5,
        5,
    )
    assert (s.worker_concurrency, s.max_file_bytes, s.annotation_cap) == (8, 2048, 200)
    assert s.private_key == pem


def test_the_github_tunables_reach_the_client(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.github.client import GitHubOptions

    def tuning(options: GitHubOptions | None = None) -> tuple[object, ...]:
        options = options or GitHubOptions.from_settings(load_settings("any", app_id=1))
        return (options.server_error_delays, options.max_rate_limit_wait, options.default_rate_limit_wait,
                options.rate_limit_retries, options.timeout)

    # the settings' defaults are the client's own
    client_defaults = tuning(GitHubOptions(app_id=1, private_key=""))
    assert tuning() == client_defaults == ((1.0, 3.0, 9.0), 90.0, 60.0, 2, 30.0)
    monkeypatch.setenv("PRGUARD_GITHUB_RETRY_DELAYS", "0.5, 2")
    monkeypatch.setenv("PRGUARD_GITHUB_MAX_RATE_LIMIT_WAIT", "30")
    monkeypatch.setenv("PRGUARD_GITHUB_DEFAULT_RATE_LIMIT_WAIT", "20")
    monkeypatch.setenv("PRGUARD_GITHUB_RATE_LIMIT_RETRIES", "0")
    monkeypatch.setenv("PRGUARD_GITHUB_TIMEOUT", "10")
    assert tuning() == ((0.5, 2.0), 30.0, 20.0, 0, 10.0)
    monkeypatch.setenv("PRGUARD_GITHUB_RETRY_DELAYS", "[1, 3]")  # the JSON form pydantic-settings expects
    assert load_settings("any").github_retry_delays == (1.0, 3.0)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PRGUARD_GITHUB_RETRY_DELAYS", "1;3", "must be comma-separated seconds"),
        ("PRGUARD_GITHUB_RETRY_DELAYS", "1,nan", "must be comma-separated seconds"),
        ("PRGUARD_GITHUB_RETRY_DELAYS", "1,600", "each from 0 to 60"),
        ("PRGUARD_GITHUB_RETRY_DELAYS", ",".join(["1"] * 11), "at most 10 of them"),
        ("PRGUARD_GITHUB_RATE_LIMIT_RETRIES", "-1", "must be >= 0"),
        ("PRGUARD_GITHUB_DEFAULT_RATE_LIMIT_WAIT", "7200", "must be <= 3600"),
    ],
)
def test_a_bad_github_tunable_is_one_line_naming_it(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=rf"^{name} .*{message}"):
        load_settings("any")


def test_the_private_key_in_one_line_form_or_from_a_file(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, pem: str
) -> None:
    monkeypatch.setenv("GITHUB_APP_ID", "1")
    monkeypatch.setenv("GITHUB_PRIVATE_KEY", pem.strip().replace("\n", "\\n"))
    assert load_settings("worker").private_key == pem
    monkeypatch.delenv("GITHUB_PRIVATE_KEY")
    (clean_env / "app.pem").write_text(pem)
    monkeypatch.setenv("GITHUB_PRIVATE_KEY_PATH", str(clean_env / "app.pem"))
    assert load_settings("worker").private_key == pem


def test_a_dotenv_file_in_the_working_directory_is_read(clean_env: Path, pem: str) -> None:
    one_line = pem.strip().replace("\n", "\\n")
    (clean_env / ".env").write_text(
        f'GITHUB_APP_ID=99\nGITHUB_PRIVATE_KEY="{one_line}"\nGITHUB_WEBHOOK_SECRET=from-dotenv-secret\n'
        "UNRELATED_VARIABLE=ignored\n"
    )
    s = load_settings("worker")
    assert (s.app_id, s.webhook_secret, s.private_key) == (99, "from-dotenv-secret", pem)


def test_secrets_are_kept_out_of_repr_and_logs(clean_env: Path, pem: str) -> None:
    s = load_settings("worker", app_id="1", private_key=pem, webhook_secret="never-log-this-secret")
    assert "never-log-this-secret" not in repr(s) and "PRIVATE KEY" not in repr(s)
    line = f"oops {s.webhook_secret} and {pem.splitlines()[1]}"
    assert "never-log-this-secret" not in scrub(line) and pem.splitlines()[1] not in scrub(line)


def test_a_bad_key_error_never_echoes_the_key(tmp_path: Path) -> None:
    bogus = (
        "-----BEGIN RSA PRIVATE KEY-----\\nTOTALLYSECRETMATERIAL0123456789\\n-----END RSA PRIVATE KEY-----"
    )
    result = run_cli(["worker"], {"GITHUB_APP_ID": "5", "GITHUB_PRIVATE_KEY": bogus}, tmp_path)
    assert result.returncode == 2 and "TOTALLYSECRET" not in result.stderr
