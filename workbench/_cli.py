"""The ``workbench`` command: look at saved sessions from a terminal."""

from __future__ import annotations

import argparse
import sys

from ._errors import WorkbenchError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workbench", description="Saved workbench sessions.")
    parser.add_argument("--home", help="session directory (default: ./.workbench)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sessions", help="list saved sessions")
    show = sub.add_parser("show", help="print one session's results")
    show.add_argument("id")
    sub.add_parser(
        "dashboard",
        help="serve a session database in the browser (Panel); label the tests of generate runs",
        add_help=False,
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["dashboard"]:
        from .views import main_dashboard

        return main_dashboard(argv[1:])
    args = parser.parse_args(argv)

    from ._settings import configure, get_settings
    from .optimizer._engine import load_result
    from .store._sessions import SessionStore

    if args.home:
        configure(home=args.home)
    try:
        if args.command == "sessions":
            for run in SessionStore(get_settings().home).runs():
                print(
                    f"{run['id']}  {run['kind']:<9} {run['entry'] or '':<24} {run['status']:<11} "
                    f"{run['candidates']} candidate(s)  accepted={run['accepted'] or '-'}"
                )
        elif args.command == "show":
            print(repr(load_result(args.id)))
    except WorkbenchError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
