"""Dialog statistics of the console: who may read which figures (``scope``), the filters of
every report, the dialog report with its CSV export, and the aggregates behind the charts."""

from operator_console.stats.scope import StatsScope, stats_scope

__all__ = ["StatsScope", "stats_scope"]
