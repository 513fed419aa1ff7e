"""The command line: parse, nlu, chat, worker, emulator, run, flows, db, export, consent,
handback, staff."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from parley import record_cli, staff_cli


def _parse(args: argparse.Namespace) -> int:
    import nlu
    from bot.config import nlu_url_from_env
    from bot.conversation.rasa_server import remote_parser

    # Only the setting parsing uses is read: another one that is wrong does not stop it.
    remote = remote_parser(nlu_url_from_env())
    texts = args.text if args.text else (line.rstrip("\n") for line in sys.stdin)
    for text in texts:
        parse = nlu.parse(text, remote=remote)
        print(json.dumps(parse.as_dict(), ensure_ascii=False), flush=True)
    return 0


def _nlu_evaluate(args: argparse.Namespace) -> int:
    from bot.config import nlu_url_from_env
    from bot.conversation.rasa_server import remote_parser
    from nlu.evaluation import run

    return run(args.data or [], remote_parser(nlu_url_from_env()))


def _chat(args: argparse.Namespace) -> int:
    from sandbox.chat import chat

    return chat(args.phone, args.url, to=args.to)


def _worker(args: argparse.Namespace) -> int:
    from bot import worker
    from bot.runtime import Runtime

    worker.run(Runtime.from_env(), burst=args.burst)
    return 0


def _recorder(args: argparse.Namespace) -> int:
    from bot import recorder
    from bot.config import Settings
    from bot.storage import embedded

    settings = Settings.from_env()
    redis_url = settings.redis_url or embedded.running_url(settings.var_dir)
    recorder.run(settings, redis_url, burst=args.burst)
    return 0


def _emulator(args: argparse.Namespace) -> int:
    from bot.config import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
    from sandbox.emulator import serve

    serve(args.host, args.port, SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN)
    return 0


def _run(args: argparse.Namespace) -> int:
    from bot.config import Settings
    from sandbox.devserver import run

    settings = Settings.from_env()
    return run(
        port=args.port or settings.port, sandbox_port=args.sandbox_port or settings.sandbox_port
    )


def _port(text: str) -> int:
    """Read a TCP port given on the command line."""
    from bot.config import port_number

    try:
        return port_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _flows_check(args: argparse.Namespace) -> int:
    from flows.definition import BUILTIN_DIR, check

    paths = args.paths or [str(BUILTIN_DIR)] + (
        [os.environ["FLOWS_DIR"]] if os.environ.get("FLOWS_DIR") else []
    )
    # Segment counts measure tracked links as the short links they go out as.
    base = (os.environ.get("LINK_BASE_URL") or os.environ.get("PUBLIC_URL") or "").strip()
    found = check(*paths, warnings=True, link_base=base or None)
    for problem in found:
        print(problem, file=sys.stderr)
    errors = [problem for problem in found if not problem.is_warning]
    warned = len(found) - len(errors)
    if errors:
        print(f"{len(errors)} error(s), {warned} warning(s)", file=sys.stderr)
        return 1
    print(f"ok: {', '.join(paths)}" + (f" ({warned} warning(s))" if warned else ""))
    return 0


def _flows_graph(args: argparse.Namespace) -> int:
    from bot.config import PROJECT_ROOT
    from flows.definition import JourneyLoadError, load_journeys
    from flows.graph import mermaid, write_graph

    extra = [os.environ["FLOWS_DIR"]] if os.environ.get("FLOWS_DIR") else []
    try:
        journeys = load_journeys(*extra)
    except JourneyLoadError as exc:
        print(exc, file=sys.stderr)
        return 1
    journey = journeys.get(args.id)
    if journey is None:
        print(f"no journey {args.id!r} (there are: {', '.join(sorted(journeys))})", file=sys.stderr)
        return 1
    # By default beside the rest of what Parley writes, not wherever the command was run.
    out = args.out or Path(os.environ.get("PARLEY_VAR_DIR") or PROJECT_ROOT / "var") / "graphs"
    drawings = write_graph(journey, out)
    print(mermaid(journey), end="")
    print(f"parley: wrote {' and '.join(str(path) for path in drawings)}", file=sys.stderr)
    return 0


def _handback(args: argparse.Namespace) -> int:
    from bot.config import Settings
    from bot.domain import phones
    from bot.runtime import Runtime

    settings = Settings.from_env()
    try:  # before Runtime: a typo is worth one line, whether Redis is up or not
        phone = phones.normalize(args.phone, settings.default_region)
    except phones.InvalidPhone as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    runtime = Runtime.from_env()
    runtime.prepare_storage()  # if Redis did not answer just now, this says so
    if runtime.conversations.release_handoff(phone, by="command line"):
        print(f"{phone}: back with the bot")
        return 0
    print(f"{phone}: was not handed off", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for `python -m bot`."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    parse = commands.add_parser("parse", help="print Rasa-style parses of texts (or stdin lines)")
    parse.add_argument("text", nargs="*")
    parse.set_defaults(func=_parse)

    nlu = commands.add_parser("nlu", help="the intent parser")
    nlu_commands = nlu.add_subparsers(dest="nlu_command", required=True)
    evaluate = nlu_commands.add_parser(
        "evaluate", help="score the parser on labelled replies; exit 1 on a missed or false opt-out"
    )
    evaluate.add_argument(
        "--data", action="append", help="Rasa NLU file or folder (default: nlu/data/test)"
    )
    evaluate.set_defaults(func=_nlu_evaluate)

    chat = commands.add_parser("chat", help="text the running bot from the terminal")
    chat.add_argument("phone", help="the number you are texting from, e.g. +14155550123")
    chat.add_argument("--url", default=None, help="Parley's base URL (default PUBLIC_URL)")
    chat.add_argument("--to", default=None, help="the business number (default TWILIO_FROM_NUMBER)")
    chat.set_defaults(func=_chat)

    worker = commands.add_parser("worker", help="run the outbound worker and timers")
    worker.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    worker.set_defaults(func=_worker)

    recorder = commands.add_parser("recorder", help="copy what Redis commits into the record")
    recorder.add_argument("--burst", action="store_true", help="stop when all is copied")
    recorder.set_defaults(func=_recorder)

    emulator = commands.add_parser("emulator", help="run the local Twilio-compatible sandbox")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=_port, default=8025)
    emulator.set_defaults(func=_emulator)

    run = commands.add_parser("run", help="run web, worker and sandbox together (make run)")
    run.add_argument("--port", type=_port, default=None, help="default PORT, else 5000")
    run.add_argument(
        "--sandbox-port", type=_port, default=None, help="default SANDBOX_PORT, else 8025"
    )
    run.set_defaults(func=_run)

    flows = commands.add_parser("flows", help="journey files")
    flow_commands = flows.add_subparsers(dest="flows_command", required=True)
    check = flow_commands.add_parser("check", help="validate journey files")
    check.add_argument("paths", nargs="*", help="files or folders (default: all journeys)")
    check.set_defaults(func=_flows_check)
    graph = flow_commands.add_parser("graph", help="draw a journey as ID.mmd and ID.svg")
    graph.add_argument("id", help="the journey's id")
    graph.add_argument("--out", type=Path, help="folder to write to (default: var/graphs)")
    graph.set_defaults(func=_flows_graph)

    record_cli.add_commands(commands)

    handback = commands.add_parser("handback", help="give a handed-off conversation back")
    handback.add_argument("phone")
    handback.set_defaults(func=_handback)

    staff_cli.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(message)s"
    )
    # The twilio SDK logs every request and response at INFO: a kilobyte per message sent.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    # Alembic narrates every plugin and step at INFO; `db upgrade` says the outcome itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    from redis.exceptions import ConnectionError as RedisUnreachable
    from sqlalchemy.exc import DBAPIError as DatabaseError

    from bot.config import SettingsError
    from bot.storage.embedded import EmbeddedRedisError

    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 2
    except EmbeddedRedisError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return 1
    except RedisUnreachable as exc:
        print(f"parley: cannot reach Redis: {exc}", file=sys.stderr)
        return 1
    except DatabaseError as exc:
        # The driver's message may run over several lines (libpq adds a hint): keep one.
        first = str(exc.orig or exc).strip().splitlines()[0]
        print(f"parley: cannot use the record: {first}", file=sys.stderr)
        return 1
    except OSError as exc:
        # Files and folders named on the command line that are missing or unwritable.
        print(f"parley: {exc}", file=sys.stderr)
        return 1
