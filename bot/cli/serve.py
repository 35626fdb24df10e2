"""`prguard serve`: the webhook receiver (bot/runtime/receiver.py) under uvicorn."""

from __future__ import annotations

import argparse
import os

from bot.log import configure, get_logger
from bot.settings import ConfigError, load_settings

log = get_logger("prguard.web")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="0.0.0.0", help="interface to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None,
                        help="port to listen on (default $PORT, else 3000)")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.runtime.receiver import create_app

    try:
        settings = load_settings("web")
    except ConfigError as exc:
        return exc.exit()
    try:
        port = args.port if args.port is not None else int(os.environ.get("PORT") or 3000)
    except ValueError:
        return ConfigError("PORT must be an integer").exit()
    configure(settings.log_level)
    log.info("web.start", host=args.host, port=port, api_url=settings.api_url, prefix=settings.redis_prefix)
    uvicorn.run(create_app(settings), host=args.host, port=port, log_config=None, access_log=False,
                proxy_headers=True, server_header=False, timeout_graceful_shutdown=10)
    return 0
