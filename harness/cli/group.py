"""The ``bench`` group: every bad input ends in one line and exit code 2, and ``bench --help``
lists the commands in the order of the workflow with their whole first line."""

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

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # the order they were added in: the workflow's

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, command.get_short_help_str(limit=200)) for name, command in self.commands.items()
                if not command.hidden]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
