"""Figure of an MTF measurement (matplotlib object API; never shows, never blocks).

Left: the MTF against cycles/pixel with its one-sigma noise band, the 50 % and
10 % crossings as vertical dashed lines, Nyquist, and a second axis in
cycles per ``unit`` when ``pixel_size != 1``. Right: what the curve came from
(edge: ESF, LSF and the LSF window; point source: the background-subtracted
box around the bead).
"""

from __future__ import annotations

import math

import numpy as np

from ._plotting import add_physical_frequency_axis, new_figure

__all__ = ["plot_mtf"]


def _crossing_label(name: str, f: float, period: float, unit: str) -> str:
    if not math.isfinite(f):
        return f"{name}: not reached"
    return f"{name} = {f:.4f} cycles/px\n  period {period:.4g} {unit} (full), {period / 2:.4g} {unit} (half)"


def plot_mtf(result, ax=None):
    """Draw an :class:`~toupy.resolution.MTFResult`; return the figure.

    With ``ax`` only the MTF panel is drawn into it.
    """
    if ax is None:
        fig, (ax, side) = new_figure(2, width=5.6, height=4.4)
    else:
        fig, side = ax.figure, None
    freq, mtf, sd = result.freq, result.mtf, result.mtf_std
    ax.plot(freq, mtf, color="C0", lw=1.6, label="MTF")
    if np.any(sd > 0):
        ax.fill_between(freq, mtf - sd, mtf + sd, color="C0", alpha=0.2, lw=0, label="±1σ noise")
    for level, f, colour, name, period in (
        (0.5, result.f50, "C1", "MTF50", result.resolution_50),
        (0.1, result.f10, "C3", "MTF10", result.resolution_10),
    ):
        ax.axhline(level, color=colour, ls=":", lw=0.8)
        if math.isfinite(f):
            ax.axvline(f, color=colour, ls="--", lw=1.2, label=_crossing_label(name, f, period, result.unit))
    if freq[-1] >= 0.5:
        ax.axvline(0.5, color="0.5", ls="-.", lw=0.8, label="Nyquist")
    ax.set_xlim(0, float(freq[-1]))
    ax.set_ylim(-0.02, max(1.05, float(np.max(mtf[: max(2, mtf.size // 4)])) + 0.05))
    ax.set_xlabel("spatial frequency (cycles/pixel)")
    ax.set_ylabel("MTF")
    if result.pixel_size != 1.0:
        add_physical_frequency_axis(ax, 1.0, result.pixel_size, result.unit)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    if result.method == "edge":
        ax.set_title(
            f"slanted edge, {result.orientation} at {result.angle_deg:+.2f}° ± {result.angle_std_deg:.2g}°",
            fontsize=10,
        )
    else:
        ax.set_title("point source (ring average)", fontsize=10)

    if side is not None:
        if result.method == "edge":
            _draw_edge_profiles(side, result)
        else:
            _draw_psf(fig, side, result)
    return fig


def _draw_edge_profiles(ax, result) -> None:
    x = result.position
    ax.plot(x, result.esf, color="0.3", lw=1.2, label="ESF")
    ax.set_xlabel("distance from the edge along its normal (px)")
    ax.set_ylabel("ESF (input units)")
    twin = ax.twinx()
    xm = result.lsf_position
    twin.plot(xm, result.lsf, color="C0", lw=1.0, label="LSF")
    peak = float(np.max(result.lsf)) if result.lsf.size else 1.0
    twin.plot(xm, result.lsf_window * peak, color="C2", ls="--", lw=0.9, label="LSF window (scaled)")
    twin.set_ylabel("LSF (unit area)")
    support = np.flatnonzero(result.lsf_window > 0)
    if support.size:
        half = max(abs(float(xm[support[0]])), abs(float(xm[support[-1]])))
        ax.set_xlim(-1.3 * half, 1.3 * half)
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper left", fontsize=8)
    ax.set_title(f"ESF bins {result.bin_width:.3g} px, {result.polarity} edge", fontsize=10)
    ax.grid(alpha=0.3)


def _draw_psf(fig, ax, result) -> None:
    image = ax.imshow(result.psf, cmap="magma", interpolation="nearest")
    ax.set_title(f"PSF box {result.psf.shape[0]}×{result.psf.shape[1]}, background {result.background:.4g}",
                 fontsize=10)
    ax.set_xlabel("pixel")
    ax.set_ylabel("pixel")
    fig.colorbar(image, ax=ax, shrink=0.85)
