"""``showerlearn config validate|show``: check a config, or print it fully resolved."""

from __future__ import annotations

import typer

from showerlearn.cli.common import ConfigArgument, OverrideOption, console, load, user_errors
from showerlearn.config import ConfigError, dump_config
from showerlearn.family import new_run_problems

app = typer.Typer(help="Check experiment configs.", no_args_is_help=True)


@app.command()
def validate(config: ConfigArgument, overrides: OverrideOption = None) -> None:
    """Exit 0 if CONFIG is valid; otherwise list every bad key with a suggestion and exit 2."""
    with user_errors():
        problems = new_run_problems(load(config, overrides))
        if problems:
            raise ConfigError(str(config), problems)
    console.print(f"[green]{config}: valid[/]")


@app.command()
def show(config: ConfigArgument, overrides: OverrideOption = None) -> None:
    """Print CONFIG fully resolved: overrides applied, every default filled in."""
    with user_errors():
        text = dump_config(load(config, overrides))
    typer.echo(text, nl=False)


@app.command()
def reference() -> None:
    """Print the config reference (every section and registered component) as Markdown."""
    from showerlearn.config.reference import render

    typer.echo(render())
