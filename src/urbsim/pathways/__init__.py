"""What it takes: robust goal seeking (:mod:`.optimize`), scenario discovery (:mod:`.discover`)
and an EMA Workbench connector (:mod:`.ema`), all on one uncertainty ensemble
(:func:`urbsim.pathways.runs.draw_ensemble`)."""

from urbsim.pathways.optimize import OptimizeReport, optimize

__all__ = ["OptimizeReport", "optimize"]
