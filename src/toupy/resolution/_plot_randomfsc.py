"""The two-panel figure of the phase-randomisation test (``RandomFSC.png``).

Left: ``FSC_obs``, ``FSC_rand``, ``FSC_corr`` (and the unmasked FSC when a
mask was used) with the threshold, the cut-off shell and the corrected
resolution. Right: ``FSC_obs - FSC_rand`` with the ±3/√n band that
``FSC_rand`` of independent halves stays in beyond the cut-off.
"""

from __future__ import annotations

import numpy as np

from ._plotting import _decorate, add_physical_frequency_axis, new_figure

__all__ = ["plot_randomfsc"]


def _mark_cutoff(ax, result) -> None:
    ax.axvline(result.cutoff_fn, color="0.4", ls=":", lw=1.2,
               label=f"phases randomised from shell {result.cutoff_shell}")


def plot_randomfsc(result, axes=None):
    """Draw a :class:`RandomFSCResult` on two axes and return the figure.

    Parameters
    ----------
    result : RandomFSCResult
    axes : sequence of two matplotlib axes, optional
        Where to draw; a new detached figure is made when omitted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if axes is None:
        fig, axes = new_figure(2)
    else:
        fig = axes[0].figure
    left, right = axes
    name = result.kind

    if result.masked:
        left.plot(result.fn, result.fsc_unmasked, color="0.55", lw=1.0, ls="--",
                  label=f"{name} without mask")
    left.plot(result.fn, result.fsc_obs, color="C0", lw=1.4,
              label=f"{name}$_{{obs}}$" + (" (masked)" if result.masked else ""))
    left.plot(result.fn, result.fsc_rand, color="C1", lw=1.2, label=f"{name}$_{{rand}}$")
    left.plot(result.fn, result.fsc_corr, color="C2", lw=1.8, label=f"{name}$_{{corr}}$")
    left.plot(result.fn, result.threshold_curve, color="C3", lw=1.2,
              label=f"{result.threshold_name} threshold")
    left.axhline(0, color="0.5", lw=0.6)
    _mark_cutoff(left, result)
    curves = np.concatenate([result.fsc_obs[1:], result.fsc_rand[1:], result.fsc_corr[1:]])
    low = float(np.nanmin(curves, initial=0.0))
    left.set_ylim(min(-0.1, low) - 0.02, 1.05)
    left.set_ylabel(name)
    left.set_title(f"phase-randomised {name}, {len(result.shape)}-D {result.shape}")
    _decorate(left, result)
    left.legend(loc="best", fontsize=8)

    shells = result.shells
    noise = np.full(shells.shape, np.nan)
    counted = result.n_per_shell > 0
    noise[counted] = 3.0 / np.sqrt(result.n_per_shell[counted])
    beyond = shells >= result.cutoff_shell
    right.fill_between(result.fn, -noise, noise, where=beyond, color="C1", alpha=0.15, lw=0,
                       label="±3/√n (noise of independent halves)")
    right.plot(result.fn, result.bias, color="C4", lw=1.4,
               label=f"{name}$_{{obs}}$ − {name}$_{{rand}}$")
    right.axhline(0, color="0.5", lw=0.6)
    _mark_cutoff(right, result)
    right.set_xlim(0, 1)
    right.set_xlabel("spatial frequency / Nyquist")
    right.set_ylabel(f"{name}$_{{obs}}$ − {name}$_{{rand}}$")
    right.set_title("correlation not explained by mask and window")
    if result.unit != "px":
        nmax = max(result.shape)
        add_physical_frequency_axis(right, (nmax // 2) / nmax, result.pixel_size, result.unit)
    right.grid(alpha=0.3)
    right.legend(loc="upper right", fontsize=8)
    return fig
