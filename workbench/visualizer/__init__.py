"""``visualize``: plotting requests to scripts along several paths, run in workers, checked on
their figures, aggregated and repaired."""

from ._engine import (
    FigureFacts,
    VisualizeResult,
    describe_data,
    load_visualize_result,
    visualize,
)

__all__ = [
    "FigureFacts",
    "VisualizeResult",
    "describe_data",
    "load_visualize_result",
    "visualize",
]
