"""Routing what-if: replay a period's recorded dialogs through the router's own decisions
with a simulated clock, for the line's setup as it is and as proposed.

Nothing below imports this package; it imports ``router`` and ``config``, never copies them.
"""

from simulator.engine import Replay, replay
from simulator.figures import SCALARS, RunFigures, Spread, compare, percentile, run_figures
from simulator.model import Arrival, Behaviour, Behaviours, OperatorPlan, Setup
from simulator.outcome import DialogOutcome, RunOutcome

__all__ = [
    "SCALARS",
    "Arrival",
    "Behaviour",
    "Behaviours",
    "DialogOutcome",
    "OperatorPlan",
    "Replay",
    "RunFigures",
    "RunOutcome",
    "Setup",
    "Spread",
    "compare",
    "percentile",
    "replay",
    "run_figures",
]
