"""The ``chainrule playground`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["playground_command"]


def playground_command(
    port: Annotated[int, typer.Option(
        "--port", help="TCP port on 127.0.0.1 (0: a free one).")] = 0,
    no_browser: Annotated[bool, typer.Option(
        "--no-browser", help="Do not open the page in a browser.")] = False,
    replay: Annotated[str | None, typer.Option(
        "--replay", help="Train a page's run headless instead: its URL state (the part "
        "after #), as the page's 'copy as CLI command' writes it.", show_default=False)] = None,
    steps: Annotated[int, typer.Option(
        "--steps", help="With --replay: mini-batch steps to train.")] = 0,
    csv: Annotated[Path | None, typer.Option(
        "--csv", help="With --replay of an uploaded data set: the CSV (x1,x2,label).",
        show_default=False)] = None,
    save: Annotated[Path | None, typer.Option(
        "--save", help="With --replay: write the trained model (.safetensors).",
        show_default=False)] = None,
) -> None:
    """Start the playground: a local web page where a network trains live on chainrule.

    Serves http://127.0.0.1:PORT/ (printed), opens it in the browser unless --no-browser,
    and runs until Ctrl-C. Every asset ships with chainrule: it works offline.
    With --replay STATE --steps N it trains that run without a browser and prints the
    train and test losses (the same numbers as the page after N steps).
    """
    from .core import Config, Run, parse_csv

    if replay is not None:
        try:
            cfg = Config.from_hash(replay)
            uploaded = parse_csv(csv.read_bytes(), cfg.problem) if csv is not None else None
            if steps < 0:
                raise ValueError(f"--steps must be >= 0, got {steps}")
            run = Run(cfg, uploaded)
            run.train(steps)
            train, test = run.losses()
            if save is not None:
                run.save(save)
        except (ValueError, TypeError, OSError) as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"train loss {train:.6f}  test loss {test:.6f}")
        return
    from .server import PlaygroundServer

    try:
        server = PlaygroundServer(port)
    except (ValueError, OSError) as err:
        typer.echo(f"error: cannot listen on 127.0.0.1:{port}: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"chainrule playground at {server.url}  (Ctrl-C to stop)")
    if not no_browser:
        import webbrowser

        webbrowser.open(server.url)
    server.serve_forever()
    typer.echo("playground stopped")
