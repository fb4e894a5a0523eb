"""The weekly digest: at the end of each week every operator, manager and admin with an
email address gets the KPI figures and points of the week just ended (docs/PROTOCOL.md,
"Weekly digest")."""

from operator_console.digest.job import Clock, SystemClock, WeeklyDigest

__all__ = ["Clock", "SystemClock", "WeeklyDigest"]
