"""The ``memex`` command: the same library as the app, for scripts and benchmarks.

Every subcommand takes ``--data-dir`` and ``--json``. Expected failures (bad input, a wrong model
path, a broken data folder) print one clear line on stderr and exit with status 2; they never
print a traceback. A process exits with 0, 1, 2 or 130, never by a signal (``entry``), and a command
that writes (``add``, ``import``, ``chat``, ``queue run``) also resumes the memory writes earlier runs
left queued.

The parts: ``parser`` (the arguments of every subcommand), the command bodies by topic
(``note_commands``, ``data_commands``, ``run_commands``) over ``common`` (settings, store, output),
and here the run of one command: argument checks, errors as one line, exit statuses, the orderly end.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import MemexError
from .parser import build_parser

__all__ = ["build_parser", "entry", "main"]

PATH_ARGUMENTS = {"data_dir", "file", "output"}  # file names may hold any bytes; Memex never stores them


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse a text argument that is not valid Unicode before the command runs.

    Why: the shell hands a byte that is not UTF-8 (e.g. Latin-1 "caf\\xe9") to Python as a lone
    surrogate; stored, it would fail deep inside Chroma or an export. One clear line up front instead.
    """
    from ..notes import check_text

    for name, value in vars(args).items():
        if name in PATH_ARGUMENTS:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                check_text(item, f"The argument {name.replace('_', '-')!r}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_arguments(args)
        return int(args.func(args) or 0)
    except MemexError as exc:
        print(f"memex: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("memex: interrupted; nothing half-written was kept.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `memex list | head -1`: the reader has what it wanted
        _quiet_stdout()
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the person, the traceback on request
        if os.environ.get("MEMEX_DEBUG"):
            raise
        print(f"memex: unexpected error ({type(exc).__name__}: {' '.join(str(exc).split())[:300]}). "
              "This is a bug in Memex; run again with MEMEX_DEBUG=1 to see the traceback, and please "
              "report it.", file=sys.stderr)
        return 1


def entry() -> None:
    """The ``memex`` console script: ``main``, then an orderly end, then ``os._exit``.

    Why ``os._exit``: llama.cpp, ONNX Runtime and Chroma run native threads of their own, and CPython's
    teardown of their modules while one still runs ended ``memex chat`` with SIGSEGV or SIGABRT in about
    half of its runs. So the end is done here, in order, while everything is whole: the memory writer
    finishes or leaves its work (``chat.lifecycle``), stores flush and close, output is flushed; after
    that nothing is left for the interpreter to finalise, and the process leaves with its status.
    """
    from ..chat.lifecycle import end_process

    try:
        code = main()
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        code = 130
    code = end_process(code)
    os._exit(code)


def _quiet_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    entry()
