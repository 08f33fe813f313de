"""gateway web: the reviewers' web app."""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from gateway.cli.common import fail, load_for_store, store_arguments, store_of, with_arguments
from gateway.config import Config, parse_host_port


def _secret(config: Config) -> str:
    path = config.web.secret_file or config.relay.data_dir / "web-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.web import create_app

    config = with_arguments(load_for_store(args.config), args)
    store = store_of(config)
    try:
        listen = parse_host_port(args.listen, "--listen") if args.listen else config.web.listen
    except ValueError as exc:
        raise fail(str(exc)) from None
    app = create_app(config, store, secret=_secret(config), https=config.web.https)
    print(f"gateway web: http://{listen}/ (store: {store.dialect})", file=sys.stderr)
    uvicorn.run(app, host=listen.host, port=listen.port, log_level="warning", proxy_headers=False)
    return 0


def add(sub: argparse._SubParsersAction) -> None:
    wb = sub.add_parser("web", help="run the reviewers' web app")
    store_arguments(wb)
    wb.add_argument("--listen", help="HOST:PORT (default: web.listen)")
    wb.set_defaults(func=run)
