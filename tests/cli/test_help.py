"""Every option of every command says what it does and, when it has one, its default (issue 13, item 9)."""

from __future__ import annotations

import argparse

import pytest

from s2sr.cli.main import COMMANDS, build_parser


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_has_help_and_shows_its_default(command: str) -> None:
    p = _subparsers()[command]
    fmt = p._get_formatter()
    problems = []
    for a in p._actions:
        if isinstance(a, argparse._HelpAction) or not a.option_strings:
            continue
        name = a.option_strings[-1]
        if not a.help or a.help == argparse.SUPPRESS:
            problems.append(f"{name}: no help text")
            continue
        shown = fmt._expand_help(a)
        d = a.default
        if d not in (None, False, argparse.SUPPRESS) and not isinstance(d, list):
            spellings = {str(d), f"{d:g}"} if isinstance(d, float) else {str(d)}
            if not any(f"default {x}" in shown or f"default: {x}" in shown for x in spellings):
                problems.append(f"{name}: default {d!r} not shown in {shown!r}")
    assert problems == []


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_positional_has_help(command: str) -> None:
    p = _subparsers()[command]
    assert [a.dest for a in p._actions if not a.option_strings and not a.help] == []
