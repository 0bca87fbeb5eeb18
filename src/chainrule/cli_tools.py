"""``chainrule lr-find``: the learning-rate range test on a run configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["lr_find_command"]


def lr_find_command(
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", metavar="FILE.toml",
        help="TOML file of run settings (as for train); the options below win.",
        show_default=False)] = None,
    data: Annotated[str | None, typer.Option(
        metavar="NAME|FILE.csv", help="Dataset name or CSV file. [default: digits]",
        show_default=False)] = None,
    hidden: Annotated[str | None, typer.Option(
        metavar="SIZES", help="Hidden layer sizes, e.g. 64,32. [default: 256]",
        show_default=False)] = None,
    optimizer: Annotated[str | None, typer.Option(
        help="Optimiser: sgd, momentum, rmsprop, adagrad, adam, adamw. [default: adam]",
        show_default=False)] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Mini-batch size. [default: 32]", show_default=False)] = None,
    start_lr: Annotated[float, typer.Option(help="First rate of the sweep.")] = 1e-7,
    end_lr: Annotated[float, typer.Option(help="Last rate of the sweep.")] = 10.0,
    steps: Annotated[int, typer.Option(help="Steps of the sweep (one batch each).")] = 200,
    seed: Annotated[int | None, typer.Option(
        help="Seed of the split, initialisation and batch order. [default: 0]",
        show_default=False)] = None,
    figure: Annotated[Path, typer.Option(
        metavar="FILE.png", help="Where to draw loss against rate.")] = Path("lr_find.png"),
) -> None:
    """Learning-rate finder (Smith, 2015): sweep the rate exponentially, suggest one.

    Trains the configured model for --steps mini-batches while the rate grows from
    --start-lr to --end-lr (η_i = η_start·(η_end/η_start)^(i/(N−1))), smooths the loss
    and suggests the rate where it falls fastest; draws loss against rate. The model is
    not kept: train it afterwards with `chainrule train --lr <suggested>`.
    """
    from . import cli, plots
    from .config import load_config
    from .train.lr_find import lr_find

    @cli._guarded
    def run() -> None:
        given = {"data": data, "hidden": hidden, "optimizer": optimizer,
                 "batch_size": batch_size, "seed": seed}
        cfg = load_config(config, **{k: v for k, v in given.items() if v is not None})
        with plots.figure_formats(figure.suffix[1:] or "png"):  # check before the work
            pass
        prepared = cli.prepare_data(cfg)
        model = cli.build_model(cfg, prepared.n_features, prepared.n_outputs)
        opt = cli._make_optimizer(cfg, model)
        loss = cli._loss_name(cfg, prepared.task)
        with cli._blas_threads(1):
            result = lr_find(model, loss, opt, prepared.train, start_lr=start_lr,
                             end_lr=end_lr, num_steps=steps, batch_size=cfg.batch_size,
                             seed=cfg.seed)
        with plots.figure_formats(figure.suffix[1:] or "png"):
            result.plot(figure, title=f"Learning-rate range test, {prepared.name} "
                        f"({cfg.optimizer}, batch {cfg.batch_size})")
        out = cli._out_console()
        out.print(str(result), soft_wrap=True, markup=False)
        out.print(f"figure: {figure}", markup=False)
        out.print(f"train with: chainrule train --lr {result.suggestion:.3g}"
                  + (f" --config {config}" if config else "")
                  + (f" --data {data}" if data else ""), markup=False)

    run()
