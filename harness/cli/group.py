"""The ``bench`` group's error handling: every bad input ends in one line and exit code 2."""

from __future__ import annotations

import sys

import click

from harness.core.errors import BenchError


class BenchGroup(click.Group):
    """Turns ``BenchError`` and a command's bad flags into a one-line message and exit code 2 (a
    traceback with --debug); ``-h`` says how to call a command, the error need not repeat it."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BenchError as error:
            if ctx.params.get("debug"):
                raise
            click.echo(f"Error: {error}", err=True)
            sys.exit(2)
        except click.UsageError as error:
            click.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(2)
