"""Matplotlib figures for the correlation family, and shared figure helpers.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``)
so that nothing here opens a window, blocks or depends on the pyplot state.
Files are written atomically: to a temporary file in the target folder, then
renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .io._atomic import atomic_stream

__all__ = ["new_figure", "save_figure", "check_output_folder", "colormap", "colormap_names",
           "add_physical_frequency_axis", "plot_fsc", "plot_ssnr"]


def new_figure(ncols: int = 1, *, width: float = 6.4, height: float = 4.4):
    """A figure with ``ncols`` axes side by side, detached from pyplot."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def check_output_folder(folder: str | os.PathLike, *, name: str = "output_dir") -> Path:
    """Raise ``ValueError`` naming ``folder`` if it, or a folder above it, is a file.

    The one check every ``plot(output_dir=...)`` goes through (via
    :func:`save_figure`); a folder that does not exist yet is fine (it is created).
    """
    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "" if probe == folder else f" ({probe} is a file)"
        raise ValueError(f"{name} {folder} is not a folder{where}; give a folder for the figure")
    return folder


def colormap_names() -> list[str]:
    """The names of the registered Matplotlib colour maps, sorted."""
    import matplotlib

    return sorted(matplotlib.colormaps)


def colormap(cmap):
    """The colour map ``cmap`` (a name or a Colormap); an unknown name is a ``ValueError`` listing the names."""
    import matplotlib

    if isinstance(cmap, matplotlib.colors.Colormap):
        return cmap
    try:
        return matplotlib.colormaps[cmap]
    except (KeyError, TypeError):
        raise ValueError(
            f"cmap {cmap!r} is not a Matplotlib colour map; choose one of: {', '.join(colormap_names())}"
        ) from None


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` atomically and return the path.

    The image goes to a temporary file next to ``path`` that is renamed over
    it only once complete, so a crash never leaves a half-written PNG.

    Raises
    ------
    ValueError
        The folder of ``path`` (the ``output_dir`` of a ``plot``) is a file.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    check_output_folder(path.parent)
    FigureCanvasAgg(fig)
    with atomic_stream(path, "wb") as stream:
        fig.savefig(stream, format=path.suffix.lstrip(".") or "png", dpi=dpi)
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


def plot_resolution_map(
    resolution_map: np.ndarray,
    *,
    slice_idx: int | None = None,
    axis: int = 0,
    cmap: str = "viridis_r",
    vmin: float | None = None,
    vmax: float | None = None,
    pixel_size: float = 1.0,
    unit: str = "px",
    title: str = "local resolution",
):
    """Show a local-resolution map (a slice of it in 3-D) with colour bars.

    The main colour bar is in pixels (full period); a second scale in
    ``unit`` is added when ``pixel_size != 1``. NaN (no resolution) is grey.
    A lazy (dask) map is computed only for the slice on display.

    Returns
    -------
    fig : matplotlib.figure.Figure
    shown : ndarray
        The 2-D array displayed.
    """
    colours = colormap(cmap).with_extremes(bad="0.75")
    if resolution_map.ndim == 3:
        if not -3 <= axis < 3:
            raise ValueError(f"axis must be 0, 1 or 2 for a 3-D map; got {axis}")
        n = resolution_map.shape[axis]
        index = n // 2 if slice_idx is None else int(slice_idx)
        if not -n <= index < n:
            raise ValueError(f"slice_idx must lie in [-{n}, {n}) along axis {axis}; got {slice_idx}")
        key = [slice(None)] * 3
        key[axis] = index
        # indexing (not np.take) so that a lazy (dask) map computes only this slice
        shown = np.asarray(resolution_map[tuple(key)])
        title = f"{title}, slice {index % n} along axis {axis % 3}"
    elif resolution_map.ndim == 2:
        shown = np.asarray(resolution_map)
    else:
        raise ValueError(f"resolution_map must be 2-D or 3-D; got {resolution_map.ndim}-D")
    fig, ax = new_figure(width=6.0, height=5.0)
    finite = shown[np.isfinite(shown)]
    low = vmin if vmin is not None else (float(finite.min()) if finite.size else None)
    high = vmax if vmax is not None else (float(finite.max()) if finite.size else None)
    image = ax.imshow(np.ma.masked_invalid(shown), cmap=colours, vmin=low, vmax=high, interpolation="nearest")
    ax.set_title(title)
    ax.set_xlabel("pixel")
    ax.set_ylabel("pixel")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("resolution, full period (px)")
    if pixel_size != 1.0:
        physical = bar.ax.secondary_yaxis(
            "left", functions=(lambda v: v * pixel_size, lambda v: v / pixel_size)
        )
        physical.set_ylabel(f"resolution ({unit})")
    return fig, shown
