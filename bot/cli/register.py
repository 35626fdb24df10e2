"""`prguard register`: create the GitHub App from `app.yml` with GitHub's app-manifest flow, as Probot does.

1. A local page (127.0.0.1 only) holds a form whose button posts the manifest to GitHub's "new app" page.
2. GitHub shows the app for confirmation, creates it, and sends the browser back to `/callback?code=…`.
3. The one-time code is exchanged (`POST /app-manifests/{code}/conversions`, no auth) for the app's id,
   private key and webhook secret, which are written to the env file with owner-only permissions.

Unlike Probot, the form carries a random `state` that the callback must return, so another page or process
cannot feed the command a code for an app it did not ask for. The key and the secret are never printed or
logged.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import re
import secrets
import socket
import sys
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import uvicorn
import yaml
from dotenv import dotenv_values, unset_key
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.log import add_sensitive

GITHUB_COM = "https://github.com"
#: The keys written to the env file, read by `bot.settings`.
ENV_KEYS = ("GITHUB_APP_ID", "GITHUB_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET", "GITHUB_API_URL")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", help="create the app owned by this organisation (default: your user)")
    parser.add_argument(
        "--url", metavar="PUBLIC_URL",
        help="public base URL of `prguard serve`; webhooks go to PUBLIC_URL/webhook. Without it the app's "
        "webhook is created inactive: set its URL in the app's settings once deployed",
    )
    parser.add_argument(
        "--github-url", default=GITHUB_COM,
        help="GitHub's web URL: https://github.com (default) or GitHub Enterprise Server's, e.g. "
        "https://ghe.example.com (its API is then https://ghe.example.com/api/v3)",
    )
    parser.add_argument("--api-url", help="REST API base, when it is not the one derived from --github-url")
    parser.add_argument("--name", help="the app's name (unique on GitHub; default: the name in app.yml)")
    parser.add_argument("--port", type=int, default=3000, help="port of the local page (default 3000)")
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="file to write (default .env)")
    parser.add_argument("--manifest", type=Path, help="manifest (default: app.yml here or in prguard's tree)")
    parser.add_argument("--no-browser", action="store_true", help="print the local URL; open no browser")
    parser.add_argument(
        "--timeout", type=float, default=1800.0,
        help="seconds to wait for GitHub's redirect before giving up (default 1800)",
    )


# ------------------------------------------------------------------------------------------------ urls


def api_url_for(github_url: str) -> str:
    """github.com's API lives on api.github.com; GitHub Enterprise Server's under /api/v3 of its host."""
    base = github_url.rstrip("/")
    if urlsplit(base).hostname in ("github.com", "www.github.com"):
        return "https://api.github.com"
    return f"{base}/api/v3"


def new_app_url(github_url: str, org: str | None) -> str:
    """GitHub's "new app" page that accepts a posted manifest, for the user or for an organisation."""
    base = github_url.rstrip("/")
    page = f"/organizations/{quote(org, safe='')}/settings/apps/new" if org else "/settings/apps/new"
    return f"{base}{page}"


def default_manifest_path() -> Path:
    """`app.yml` in the working directory, else the one at the root of prguard's source tree."""
    here = Path("app.yml")
    return here if here.is_file() else Path(__file__).resolve().parents[1] / "app.yml"


def build_manifest(
    template: dict[str, Any], *, public_url: str | None, port: int, name: str | None = None
) -> dict[str, Any]:
    """The manifest to post: app.yml with the deployment's URLs and the local callback filled in."""
    manifest = json.loads(json.dumps(template))  # a deep copy of plain data
    if name:
        manifest["name"] = name
    hook = dict(manifest.get("hook_attributes") or {})
    if public_url:
        base = public_url.rstrip("/")
        manifest["url"] = base
        hook["url"] = f"{base}/webhook"
        hook["active"] = True
    else:
        hook["active"] = False
    manifest["hook_attributes"] = hook
    manifest["redirect_url"] = f"http://localhost:{port}/callback"
    return manifest


def load_manifest(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "default_permissions" not in data:
        raise ValueError(f"{path} is not a GitHub App manifest (no default_permissions)")
    return data


# -------------------------------------------------------------------------------------------- env file


#: Values dotenv reads back unchanged without quotes.
_PLAIN = re.compile(r"[A-Za-z0-9_./:@+=-]*")
#: The one-line form of a PEM (`\\n` escapes, spaces inside): still a plain unquoted value for dotenv.
_PLAIN_ESCAPED = re.compile(r"[A-Za-z0-9_./:@+=-][A-Za-z0-9_./:@+= \\-]*[A-Za-z0-9_./:@+=\\-]")


def _env_value(value: str) -> str:
    """`value` as python-dotenv (and so `bot.settings`) reads it back: one line per value where possible.

    A PEM's newlines become `\\n` (bot.settings and docker's --env-file accept that). Anything else unusual
    is single-quoted with dotenv's own escapes (`\\\\` and `\\'`, as `dotenv.set_key` writes them), so dotenv
    neither cuts it at `#` nor strips its spaces. dotenv expands `${NAME}` even in quotes; no value written
    here holds one (an app id, a PEM, GitHub's hex webhook secret, an http(s) URL).
    """
    if "\n" in value:
        one_line = value.strip().replace("\n", "\\n") + "\\n"
        if _PLAIN_ESCAPED.fullmatch(one_line):
            return one_line
    elif _PLAIN.fullmatch(value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def write_env_file(path: Path, values: dict[str, str], comment: str = "") -> None:
    """Set `values` in the env file, keeping its other lines, with mode 0600 whatever the file had before.

    The new content is prepared in a temporary file created 0600 (never world-readable, not even for a
    moment) and replaces the old file atomically. python-dotenv finds the old definitions of the keys
    being set (an `export KEY=` line, a quoted value spanning several lines), the parser `bot.settings`
    reads the file with, so none is left behind half-removed.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            if path.exists():
                out.write(path.read_bytes())
        present = dotenv_values(tmp, encoding="utf-8", interpolate=False)
        for key in values:
            if key in present:
                unset_key(tmp, key, encoding="utf-8")  # rewrites `tmp` in place, keeping its mode 0600
        kept = tmp.read_text(encoding="utf-8")
        lines = [f"# {' '.join(comment.split())}"] if comment else []  # one line, whatever GitHub named
        lines += [f"{key}={_env_value(value)}" for key, value in values.items()]
        with tmp.open("a", encoding="utf-8") as out:
            out.write(("\n" if kept and not kept.endswith("\n") else "") + "\n".join(lines) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------------ the flow


@dataclass
class Registration:
    """State of one `prguard register` run, shared by the local page's handlers."""

    manifest: dict[str, Any]
    action: str
    api_url: str
    env_file: Path
    state: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    done: asyncio.Event = field(default_factory=asyncio.Event)
    app: dict[str, Any] | None = None

    @property
    def post_url(self) -> str:
        """Where the form posts: GitHub hands `state` back unchanged on the redirect to the callback."""
        return f"{self.action}?{urlencode({'state': self.state})}"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _page(title: str, body: str, status: int = 200, background: BackgroundTask | None = None) -> HTMLResponse:
    style = "font-family:sans-serif;max-width:40em;margin:3em auto"
    doc = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>prguard: {_esc(title)}</title></head>"
        f"<body style='{style}'><h1>{_esc(title)}</h1>{body}</body></html>"
    )
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(doc, status_code=status, headers=headers, background=background)


def build_app(reg: Registration) -> Starlette:
    async def index(request: Request) -> Response:
        name = _esc(str(reg.manifest.get("name", "prguard")))
        form = (
            f"<p>This creates the GitHub App <b>{name}</b> from <code>app.yml</code>. GitHub shows what it "
            "asks for before anything is created.</p>"
            f"<form action='{_esc(reg.post_url)}' method='post'>"
            f"<input type='hidden' name='manifest' value='{_esc(json.dumps(reg.manifest))}'>"
            "<button type='submit'>Create the GitHub App on GitHub</button></form>"
        )
        return _page("Register prguard", form)

    async def callback(request: Request) -> Response:
        if reg.app is not None:
            return _page("Already registered", "<p>This run has already created its app.</p>", 410)
        state = request.query_params.get("state", "")
        if not secrets.compare_digest(state.encode(), reg.state.encode()):
            return _page(
                "Refused",
                "<p>The callback's <code>state</code> does not match this run: it did not come from the form "
                "this command served. Nothing was written.</p>",
                403,
            )
        code = request.query_params.get("code", "")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,200}", code):
            return _page("Refused", "<p>The callback carries no valid <code>code</code>.</p>", 400)
        try:
            app = await exchange_code(reg.api_url, code)
        except RegisterError as exc:
            print(f"prguard register: {exc}", file=sys.stderr)
            again = "<p><a href='/'>Start again</a> (each code works once and expires after an hour).</p>"
            return _page("GitHub refused the code", f"<p>{_esc(str(exc))}</p>{again}", 502)
        write_env_file(
            reg.env_file,
            {
                "GITHUB_APP_ID": str(app["id"]),
                "GITHUB_PRIVATE_KEY": app["pem"],
                "GITHUB_WEBHOOK_SECRET": app.get("webhook_secret") or "",
                "GITHUB_API_URL": reg.api_url,
            },
            comment=f"GitHub App {app.get('slug', '')} ({app['html_url']}), written by prguard register",
        )
        reg.app = app
        if not app.get("webhook_secret"):
            print("prguard register: GitHub returned no webhook secret: set one in the app's settings and in "
                  "GITHUB_WEBHOOK_SECRET before starting `prguard serve`.", file=sys.stderr)
        install = f"{app['html_url']}/installations/new"
        print(
            f"Created GitHub App {app.get('slug', '')!r} (id {app['id']}): {app['html_url']}\n"
            f"Wrote {', '.join(ENV_KEYS)} to {reg.env_file} (mode 0600).\n"
            f"Next: install it on your repositories: {install}"
        )
        body = (
            f"<p>Created <a href='{_esc(app['html_url'])}'>{_esc(app.get('slug', ''))}</a> "
            f"(app id {int(app['id'])}) and wrote its credentials to <code>{_esc(str(reg.env_file))}</code> "
            "(owner-only).</p>"
            f"<p><a href='{_esc(install)}'>Install it on your repositories</a>, then start "
            "<code>prguard serve</code> and <code>prguard worker</code>. You can close this page.</p>"
        )
        return _page("prguard is registered", body, background=BackgroundTask(reg.done.set))

    hosts = ["localhost", "127.0.0.1"]
    return Starlette(
        routes=[Route("/", index), Route("/callback", callback)],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],  # no DNS rebinding
    )


class RegisterError(Exception):
    pass


async def exchange_code(api_url: str, code: str) -> dict[str, Any]:
    """POST /app-manifests/{code}/conversions: the app's id, slug, html_url, pem and webhook_secret.

    Plain httpx rather than githubkit: the call needs no auth, must not be retried (a code works once), and
    sends no `X-GitHub-Api-Version`, so any GitHub Enterprise Server version accepts it.
    """
    url = f"{api_url.rstrip('/')}/app-manifests/{quote(code, safe='')}/conversions"
    headers = {"Accept": "application/vnd.github+json", "User-Agent": "prguard-register"}
    try:
        async with httpx.AsyncClient(timeout=30.0) as client:
            response = await client.post(url, headers=headers)
    except httpx.HTTPError as exc:
        raise RegisterError(f"could not reach {api_url} ({type(exc).__name__}: {exc})") from None
    if response.status_code == 404:
        raise RegisterError("GitHub does not know this code (codes work once and expire after an hour)")
    if response.status_code != 201:
        raise RegisterError(f"the code exchange answered HTTP {response.status_code}")
    try:
        app = response.json()
    except ValueError:
        raise RegisterError("the code exchange did not answer JSON") from None
    if not isinstance(app, dict):
        raise RegisterError("the code exchange answered an unexpected shape")
    add_sensitive(app.get("pem"), app.get("webhook_secret"), app.get("client_secret"), pinned=True)
    missing = [k for k in ("id", "pem", "html_url") if not app.get(k)]
    if missing or not isinstance(app["id"], int) or "PRIVATE KEY-----" not in str(app["pem"]):
        raise RegisterError(f"the code exchange's answer lacks {', '.join(missing) or 'a valid id or key'}")
    return app


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(16)
    sock.setblocking(False)
    return sock


def _bad_url(value: str | None) -> bool:
    parts = urlsplit(value or "https://x")
    return parts.scheme not in ("http", "https") or not parts.hostname


async def register(args: argparse.Namespace) -> int:
    for option in ("url", "github_url", "api_url"):
        if _bad_url(getattr(args, option)):
            print(f"prguard register: --{option.replace('_', '-')} must be an http(s) URL", file=sys.stderr)
            return 2
    try:
        template = load_manifest(args.manifest or default_manifest_path())
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"prguard register: cannot read the manifest: {exc}", file=sys.stderr)
        return 2
    try:
        sock = _bind(args.port)
    except OSError as exc:
        print(f"prguard register: cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); try --port",
              file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    manifest = build_manifest(template, public_url=args.url, port=port, name=args.name)
    reg = Registration(
        manifest=manifest,
        action=new_app_url(args.github_url, args.org),
        api_url=(args.api_url or api_url_for(args.github_url)).rstrip("/"),
        env_file=args.env_file,
    )
    config = uvicorn.Config(build_app(reg), log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    local = f"http://localhost:{port}/"
    print(f"Open {local} and press the button to create the GitHub App on {args.github_url}.", flush=True)
    if not args.url:
        print("No --url: the app's webhook is created inactive; set its URL in the app's settings later.")
    if not args.no_browser:
        webbrowser.open(local)
    waiting = asyncio.create_task(reg.done.wait())
    await asyncio.wait({waiting, serving}, timeout=args.timeout, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    waiting.cancel()
    await serving
    sock.close()
    if reg.app is None:
        print("prguard register: no app was created (timed out or interrupted); nothing written.",
              file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(register(args))
    except KeyboardInterrupt:
        print("prguard register: interrupted; nothing written.", file=sys.stderr)
        return 130
