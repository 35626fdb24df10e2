"""`app.yml` and `prguard register`: the manifest flow driven for real over loopback HTTP.

The local page is fetched like a browser would, the form's target and manifest are checked, then GitHub's
redirect is simulated by calling `/callback`; the code exchange goes to the GitHub double.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from dotenv import dotenv_values
from githubkit_schemas.latest.models import AppPermissions
from githubkit_schemas.latest.webhooks import VALID_EVENT_NAMES

from bot.cli import main as cli
from bot.cli import register
from bot.features import router
from bot.settings import load_settings
from tests.github_double import GitHubDouble

APP_YML = Path(__file__).resolve().parents[1] / "app.yml"


# --------------------------------------------------------------------------------------------- app.yml


def test_app_yml_has_probots_keys_and_least_privilege() -> None:
    manifest = yaml.safe_load(APP_YML.read_text())
    for key in ("name", "url", "hook_attributes", "redirect_url", "public", "default_permissions",
                "default_events", "description"):
        assert key in manifest, key
    assert manifest["public"] is False
    assert manifest["hook_attributes"]["url"].endswith("/webhook")
    permissions = manifest["default_permissions"]
    known = set(AppPermissions.model_fields)  # GitHub's own permission names, from its OpenAPI description
    assert set(permissions) <= known, set(permissions) - known
    assert set(permissions.values()) <= {"read", "write"}
    assert permissions == {
        "checks": "write",
        "contents": "read",
        "pull_requests": "write",  # the sign-off's review, review requests
        "issues": "write",  # the sign-off's sticky comment, command replies and reactions
        "members": "read",  # `@org/team` sign-off owners, checked live
        "metadata": "read",
    }


def test_app_yml_subscribes_to_exactly_the_events_prguard_handles() -> None:
    events = yaml.safe_load(APP_YML.read_text())["default_events"]
    assert set(events) <= VALID_EVENT_NAMES
    assert set(events) == {event for feature in router().features.values() for event in feature.events}


def test_every_permission_in_app_yml_names_the_endpoints_that_need_it() -> None:
    lines = APP_YML.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.startswith("  ") and line.strip().endswith((": read", ": write")):
            comment = []
            back = index - 1
            while back >= 0 and lines[back].strip().startswith("#"):
                comment.append(lines[back])
                back -= 1
            assert any(("GET " in c or "POST " in c) for c in comment), f"no endpoint named for {line!r}"


# ------------------------------------------------------------------------------------------ url rules


def test_urls_for_github_com_and_enterprise_server() -> None:
    assert register.api_url_for("https://github.com") == "https://api.github.com"
    assert register.api_url_for("https://github.com/") == "https://api.github.com"
    assert register.api_url_for("https://ghe.example.com") == "https://ghe.example.com/api/v3"
    assert register.new_app_url("https://github.com", None) == "https://github.com/settings/apps/new"
    assert (
        register.new_app_url("https://ghe.example.com/", "acme")
        == "https://ghe.example.com/organizations/acme/settings/apps/new"
    )


def test_manifest_without_public_url_creates_an_inactive_webhook() -> None:
    template = yaml.safe_load(APP_YML.read_text())
    manifest = register.build_manifest(template, public_url=None, port=3000)
    assert manifest["hook_attributes"]["active"] is False
    assert manifest["redirect_url"] == "http://localhost:3000/callback"
    assert template["hook_attributes"]["active"] is True  # the template is not modified


# ------------------------------------------------------------------------------------------ the flow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.method = ""
        self.inputs: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action, self.method = values.get("action") or "", values.get("method") or ""
        elif tag == "input" and values.get("name"):
            self.inputs[values["name"] or ""] = values.get("value") or ""


class RegisterRun:
    """`prguard register …` running in a thread, as an operator would run it, on a free port."""

    def __init__(self, *argv: str) -> None:
        parser = argparse.ArgumentParser()
        register.add_arguments(parser)
        self.port = free_port()
        self.args = parser.parse_args([*argv, "--port", str(self.port), "--no-browser"])
        self.base = f"http://127.0.0.1:{self.port}"
        self.rc: int | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        self.rc = register.run(self.args)

    def __enter__(self) -> RegisterRun:
        self.thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(self.base + "/", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.02)
        raise AssertionError("the register page never came up")

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.thread.join(timeout=15)
        if self.thread.is_alive() and exc_type is None:
            raise AssertionError("`prguard register` was still running 15 s after the test's last step")

    def form(self) -> FormReader:
        page = httpx.get(self.base + "/")
        assert page.status_code == 200
        reader = FormReader()
        reader.feed(page.text)
        return reader

    def callback(self, **params: str) -> httpx.Response:
        return httpx.get(self.base + "/callback", params=params, timeout=10)


@pytest.fixture
def double() -> Iterator[GitHubDouble]:
    with GitHubDouble() as d:
        yield d


def test_register_flow_writes_the_env_file_owner_only(
    double: GitHubDouble, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file = tmp_path / ".env"
    web = double.urls.web
    app = double.register_manifest_code("c0de-1")
    with RegisterRun("--org", "acme", "--url", "https://prguard.example.net/", "--github-url", web,
                     "--env-file", str(env_file), "--name", "prguard-acme") as flow:
        form = flow.form()
        # the button posts the manifest to the org's "new app" page, with a state to check on return
        action = urlsplit(form.action)
        assert form.method == "post"
        assert f"{action.scheme}://{action.netloc}{action.path}" == (
            f"{web}/organizations/acme/settings/apps/new"
        )
        state = parse_qs(action.query)["state"][0]
        assert len(state) >= 32
        manifest = json.loads(form.inputs["manifest"])
        template = yaml.safe_load(APP_YML.read_text())
        assert manifest["name"] == "prguard-acme"
        assert manifest["url"] == "https://prguard.example.net"
        assert manifest["hook_attributes"] == {"url": "https://prguard.example.net/webhook", "active": True}
        assert manifest["redirect_url"] == f"http://localhost:{flow.port}/callback"
        assert manifest["public"] is False
        assert manifest["default_permissions"] == template["default_permissions"]
        assert manifest["default_events"] == template["default_events"]

        # GitHub sends the browser back with the code and the same state
        done = flow.callback(code="c0de-1", state=state)
        assert done.status_code == 200
        assert app["html_url"] in done.text
        assert f"{app['html_url']}/installations/new" in done.text
    assert flow.rc == 0
    assert not flow.thread.is_alive()

    # exactly one exchange, unauthenticated, for that code
    calls = double.requests(method="POST", path_regex=r"^/app-manifests/")
    assert [c.path for c in calls] == ["/app-manifests/c0de-1/conversions"]

    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dotenv_values(env_file)
    assert values["GITHUB_APP_ID"] == str(double.app_id)
    assert values["GITHUB_WEBHOOK_SECRET"] == double.webhook_secret
    assert values["GITHUB_API_URL"] == double.base_url
    assert "\n" not in env_file.read_text().split("GITHUB_PRIVATE_KEY=", 1)[1].split("\n", 1)[0]

    # prguard's own settings loader reads it back: the key is the same PEM and parses
    settings = load_settings("worker", _env_file=str(env_file))
    assert settings.app_id == double.app_id
    assert settings.private_key is not None
    assert settings.private_key.strip() == double.private_key_pem.strip()
    load_pem_private_key(settings.private_key.encode(), password=None)
    assert settings.webhook_secret == double.webhook_secret
    assert settings.api_url == double.base_url

    # nothing secret on the terminal
    out = capsys.readouterr()
    for secret in (double.webhook_secret, app["client_secret"], *double.private_key_pem.splitlines()[1:-1]):
        assert secret not in out.out + out.err
    assert f"id {double.app_id}" in out.out


def test_callback_with_a_wrong_or_missing_state_is_refused(double: GitHubDouble, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    double.register_manifest_code("good")
    with RegisterRun("--github-url", double.urls.web, "--env-file", str(env_file)) as flow:
        form = flow.form()
        assert urlsplit(form.action).path == "/settings/apps/new"  # no --org: the user's own app
        state = parse_qs(urlsplit(form.action).query)["state"][0]
        assert flow.callback(code="good", state="forged").status_code == 403
        assert flow.callback(code="good").status_code == 403
        assert not env_file.exists()
        assert double.requests(method="POST", path_regex=r"^/app-manifests/") == []
        # the genuine redirect still works afterwards
        assert flow.callback(code="good", state=state).status_code == 200
    assert flow.rc == 0
    assert env_file.exists()


def test_unknown_or_used_code_is_explained_and_the_flow_can_be_retried(
    double: GitHubDouble, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    with RegisterRun("--github-url", double.urls.web, "--env-file", str(env_file)) as flow:
        state = parse_qs(urlsplit(flow.form().action).query)["state"][0]
        refused = flow.callback(code="expired", state=state)
        assert refused.status_code == 502
        assert "expire" in refused.text
        assert not env_file.exists()
        assert flow.thread.is_alive()  # still waiting for a good code
        double.register_manifest_code("fresh")
        assert flow.callback(code="fresh", state=state).status_code == 200
    assert flow.rc == 0
    assert dotenv_values(env_file)["GITHUB_APP_ID"] == str(double.app_id)


def test_existing_env_file_keeps_other_settings_and_becomes_owner_only(
    double: GitHubDouble, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("REDIS_URL=redis://cache:6379/1\nGITHUB_APP_ID=1\nexport PRGUARD_LOG_LEVEL=DEBUG\n")
    os.chmod(env_file, 0o644)
    double.register_manifest_code("k")
    with RegisterRun("--github-url", double.urls.web, "--env-file", str(env_file)) as flow:
        state = parse_qs(urlsplit(flow.form().action).query)["state"][0]
        assert flow.callback(code="k", state=state).status_code == 200
    assert flow.rc == 0
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dotenv_values(env_file)
    assert values["REDIS_URL"] == "redis://cache:6379/1"
    assert values["PRGUARD_LOG_LEVEL"] == "DEBUG"
    assert values["GITHUB_APP_ID"] == str(double.app_id)
    assert env_file.read_text().count("GITHUB_APP_ID=") == 1
    assert [p.name for p in tmp_path.iterdir()] == [".env"]  # no temporary file left behind


def test_requests_for_another_host_are_refused(tmp_path: Path) -> None:
    """A web page cannot reach the local form through DNS rebinding: only localhost names are served."""
    with RegisterRun("--env-file", str(tmp_path / ".env"), "--timeout", "1") as flow:
        assert httpx.get(flow.base + "/", headers={"Host": "attacker.example"}).status_code == 400
        assert httpx.get(flow.base + "/", headers={"Host": f"localhost:{flow.port}"}).status_code == 200
    assert flow.rc == 1  # timed out without a callback
    assert not (tmp_path / ".env").exists()


def test_port_in_use_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through the `prguard` command itself, as an operator runs it."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        argv = ["register", "--port", str(port), "--no-browser", "--env-file", str(tmp_path / ".env")]
        assert cli.main(argv) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert not (tmp_path / ".env").exists()


@pytest.mark.parametrize("option", ["--url", "--github-url", "--api-url"])
def test_urls_must_be_http_urls(option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["register", option, "prguard.example.com", "--no-browser", "--env-file", str(tmp_path / ".env")]
    assert cli.main(argv) == 2
    assert f"{option} must be an http(s) URL" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ env file


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain-Value_1.2:3@x+y=z/",
        "with space",
        " padded ",
        "hash # inside",
        "#leading",
        "quotes ' and \" both",
        "back\\slash \\' \\\\",
        "dollar $HOME and $",
        "tab\there",
        "two\nlines # and 'quotes'",
    ],
)
def test_env_file_values_read_back_exactly_as_dotenv_reads_them(tmp_path: Path, value: str) -> None:
    """dotenv is what `bot.settings` (pydantic-settings) reads the file with."""
    env_file = tmp_path / ".env"
    register.write_env_file(env_file, {"GITHUB_WEBHOOK_SECRET": value, "GITHUB_APP_ID": "7"})
    assert dotenv_values(env_file) == {"GITHUB_WEBHOOK_SECRET": value, "GITHUB_APP_ID": "7"}


def test_replaced_keys_leave_nothing_of_their_old_values_behind(tmp_path: Path) -> None:
    """A quoted value over several lines, an `export` line, a duplicate, a last line without a newline."""
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# kept comment\n"
        'GITHUB_PRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----\nOLDKEYBODY\n-----END RSA PRIVATE KEY-----"\n'
        "export GITHUB_APP_ID=1\n"
        "REDIS_URL=redis://cache:6379/1\n"
        "GITHUB_APP_ID=2\n"
        "PRGUARD_LOG_LEVEL=DEBUG"
    )
    os.chmod(env_file, 0o644)
    register.write_env_file(env_file, {"GITHUB_APP_ID": "3", "GITHUB_PRIVATE_KEY": "new\nkey\n"},
                            comment="GitHub App x\n(evil=1)")
    text = env_file.read_text()
    assert "OLDKEYBODY" not in text and "END RSA" not in text
    assert text.startswith("# kept comment\n") and "\n# GitHub App x (evil=1)\n" in text
    assert dotenv_values(env_file) == {
        "REDIS_URL": "redis://cache:6379/1",
        "PRGUARD_LOG_LEVEL": "DEBUG",
        "GITHUB_APP_ID": "3",
        "GITHUB_PRIVATE_KEY": "new\\nkey\\n",  # the one-line PEM form, which bot.settings unescapes
    }
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [".env"]
