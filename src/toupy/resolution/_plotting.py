"""Matplotlib figures for the correlation family, and shared figure helpers.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``)
so that nothing here opens a window, blocks or depends on the pyplot state.
Files are written atomically: to a temporary file in the target folder, then
renamed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["new_figure", "save_figure", "add_physical_frequency_axis", "plot_fsc", "plot_ssnr"]


def new_figure(ncols: int = 1, *, width: float = 6.4, height: float = 4.4):
    """A figure with ``ncols`` axes side by side, detached from pyplot."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` atomically and return the path.

    The image goes to a temporary file next to ``path`` that is renamed over
    it only once complete, so a crash never leaves a half-written PNG.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            fig.savefig(stream, format=path.suffix.lstrip(".") or "png", dpi=dpi)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def add_physical_frequency_axis(ax, cpx_per_xunit: float, pixel_size: float, unit: str) -> None:
    """Top axis in cycles per ``unit`` for an x axis proportional to cycles/pixel.

    ``cpx_per_xunit`` converts the bottom-axis value to cycles/pixel.
    """
    scale = cpx_per_xunit / pixel_size
    top = ax.secondary_xaxis("top", functions=(lambda x: x * scale, lambda f: f / scale))
    top.set_xlabel(f"spatial frequency (1/{unit})")


def _resolution_text(result) -> str:
    if result.fn_res_cpx is None:
        return "no crossing"
    bound = "≤ " if result.nyquist_limited else ""
    return (
        f"resolution {bound}{result.resolution_full:.4g} {result.unit} (full period)\n"
        f"{bound}{result.resolution_half:.4g} {result.unit} (half period)"
    )


def _decorate(ax, result) -> None:
    if result.fn_res is not None:
        ax.axvline(result.fn_res, color="k", ls="--", lw=1)
        ax.text(
            0.98, 0.95, _resolution_text(result), transform=ax.transAxes,
            ha="right", va="top", fontsize=9, bbox=dict(fc="white", ec="0.7", alpha=0.9),
        )
    ax.set_xlim(0, 1)
    ax.set_xlabel("spatial frequency / Nyquist")
    if result.unit != "px":
        nmax = max(result.shape)
        add_physical_frequency_axis(ax, (nmax // 2) / nmax, result.pixel_size, result.unit)
    ax.grid(alpha=0.3)


def plot_fsc(result, ax=None, *, name: str | None = None):
    """FSC/FRC curve, threshold and crossing of an :class:`FSCResult`.

    ``name`` labels the curve (default ``'FRC'`` in 2-D, ``'FSC'`` in 3-D).
    """
    name = name or result.kind
    fig, ax = new_figure() if ax is None else (ax.figure, ax)
    ax.plot(result.fn, result.fsc, color="C0", lw=1.5, label=name)
    ax.plot(result.fn, result.threshold_curve, color="C3", lw=1.2, label=f"{result.threshold_name} threshold")
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set_ylim(min(-0.1, float(np.nanmin(result.fsc[1:], initial=0.0))) - 0.02, 1.05)
    ax.set_ylabel(name)
    ax.set_title(f"{name}, {len(result.shape)}-D {result.shape}")
    _decorate(ax, result)
    ax.legend(loc="lower left", fontsize=9)
    return fig


def plot_ssnr(result, ax=None):
    """SSNR, its frequency-dependent threshold and the crossing of an :class:`SSNRResult`."""
    fig, ax = new_figure() if ax is None else (ax.figure, ax)
    positive = np.where(result.ssnr > 0, result.ssnr, np.nan)
    threshold = np.where(np.isfinite(result.ssnr_threshold), result.ssnr_threshold, np.nan)
    ax.semilogy(result.fn, positive, color="C0", lw=1.5, label="SSNR = 2 FSC/(1 − FSC)")
    ax.semilogy(result.fn, threshold, color="C3", lw=1.2, label="SSNR$_T$ = 2T/(1 − T)")
    if result.threshold in ("halfbit", "onebit"):
        asymptote = np.sqrt(2.0) - 1.0 if result.threshold == "halfbit" else 1.0
        ax.axhline(asymptote, color="C3", ls=":", lw=1, label=f"asymptote {asymptote:.3f}")
    ax.set_ylabel("SSNR of the combined map")
    ax.set_title(f"SSNR ({result.kind}), {len(result.shape)}-D {result.shape}")
    _decorate(ax, result)
    ax.legend(loc="lower left", fontsize=9)
    return fig
