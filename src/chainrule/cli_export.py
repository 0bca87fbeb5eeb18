"""``chainrule export``: write a run folder's model in a format other runtimes serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["FORMATS", "export_command"]

FORMATS = ("onnx",)


def export_command(
    run: Annotated[Path, typer.Argument(
        help="A run folder, or a model.safetensors inside one.", metavar="RUN",
        show_default=False)],
    format: Annotated[str, typer.Option(
        "--format", "-f", help=f"Output format: {', '.join(FORMATS)}.")] = "onnx",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Destination file. [default: RUN/model.onnx]",
        show_default=False)] = None,
    opset: Annotated[int, typer.Option(help="ONNX operator set version (at least 17).")] = 17,
    dtype: Annotated[str | None, typer.Option(
        help="Element type, float32 or float64. [default: the model's]",
        show_default=False)] = None,
) -> None:
    """Export a trained model, with its preprocessing, for serving elsewhere.

    ONNX: the graph takes the raw features (columns as in the training data), applies the
    saved standardiser, runs the network in evaluation mode and returns the class
    probabilities, or the prediction in the target's own units — what `chainrule predict`
    prints. Run it with onnxruntime: sess.run(None, {"input": X.astype("float32")}).
    """
    fmt = format.strip().lower()
    if fmt not in FORMATS:
        raise ValueError(f"format: must be one of {', '.join(FORMATS)} (got {format!r})")
    if dtype is not None and dtype not in ("float32", "float64"):
        raise ValueError(f"dtype: must be float32 or float64 (got {dtype!r})")
    try:
        import onnx
    except ImportError:  # pragma: no cover - the 'onnx' extra
        raise ValueError("export --format onnx needs the 'onnx' package: "
                         "pip install 'chainrule[onnx]'") from None
    from .onnx import describe_io, export_run

    path = export_run(run, output, opset=opset, dtype=dtype)
    typer.echo(f"wrote {path} (ONNX opset {opset}): {describe_io(onnx.load(path))}")
