"""Matplotlib set-up and figure saving shared by every stage that draws.

Figures are drawn headless (Agg) and saved as PNG and SVG without timestamps and with a fixed
SVG id salt, through atomic writes, so the same results give byte-identical figures.
"""

from __future__ import annotations

import os
from typing import Any

from descent.io import atomic_path


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend with reproducible SVG ids (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "descent"
    return plt


def save_figure(fig: Any, png: str | os.PathLike[str], svg: str | os.PathLike[str], dpi: int = 120) -> None:
    """Write ``fig`` to ``png`` and ``svg`` (each atomically, without timestamps) and close it."""
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    with atomic_path(svg) as tmp:
        fig.savefig(tmp, format="svg", metadata={"Date": None, "Creator": None})
    pyplot().close(fig)
