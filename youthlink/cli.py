"""The `youthlink` command: chat, serve, database and administration tasks."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from youthlink.config import Settings


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.service == "handoff":
        from handoff.api import serve as serve_handoff

        serve_handoff(settings, host=args.host, port=args.port)
    else:
        from channels.gateway import serve as serve_gateway

        serve_gateway(settings, host=args.host, port=args.port)
    return 0


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from youthlink.migrations import upgrade

    upgrade(settings.database_url)
    print("database is up to date")
    return 0


def _users(args: argparse.Namespace, settings: Settings) -> int:
    from handoff.commands import add_user, ensure_admin

    if args.action == "add":
        return add_user(settings, args.username, args.role)
    return ensure_admin(settings, args.username or "admin")


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from handoff.commands import verify_audit

    return verify_audit(settings)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="youthlink", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    for name, help_text in (
        ("chat", "chat with the running assistant (or run scripted chats: --script FILE)"),
        ("keys", "encryption keys: new, rotate, check, retire"),
        ("purge", "apply the retention settings (--dry-run shows counts)"),
        ("telegram-poll", "run the Telegram channel by polling (no public URL needed)"),
    ):
        sub.add_parser(name, help=help_text, add_help=False).add_argument(
            "rest", nargs=argparse.REMAINDER
        )

    serve = sub.add_parser("serve", help="run one of the app services")
    serve.add_argument("service", choices=["handoff", "gateway"])
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, required=True)

    db = sub.add_parser("db", help="database tasks")
    db.add_argument("action", choices=["upgrade"])

    users = sub.add_parser("users", help="staff accounts for the dashboard")
    users.add_argument("action", choices=["add", "ensure-admin"])
    users.add_argument("username", nargs="?")
    users.add_argument("--role", choices=["link_worker", "safeguarding_lead", "admin"])

    audit = sub.add_parser("audit", help="the append-only audit log")
    audit.add_argument("action", choices=["verify"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `youthlink` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["chat"]:
        from channels.chat_client import main as chat_main

        return chat_main(args_list[1:])
    if args_list[:1] == ["keys"]:
        from youthlink.keys import main as keys_main

        return keys_main(args_list[1:])
    if args_list[:1] == ["telegram-poll"]:
        from channels.telegram_poll import main as poll_main

        return poll_main(args_list[1:])
    if args_list[:1] == ["purge"]:
        from youthlink.retention import main as purge_main

        return purge_main(args_list[1:])
    args = build_parser().parse_args(args_list)
    logging.basicConfig(
        level=os.environ.get("YOUTHLINK_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    from handoff.senders import quiet_library_loggers

    quiet_library_loggers()
    settings = Settings.from_env()
    if args.command == "serve":
        return _serve(args, settings)
    if args.command == "db":
        return _db(args, settings)
    if args.command == "users":
        if args.action == "add" and not (args.username and args.role):
            build_parser().error("users add needs a USERNAME and --role")
        return _users(args, settings)
    if args.command == "audit":
        return _audit(args, settings)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
