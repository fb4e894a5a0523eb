"""The live operator load: a snapshot of presence, load against capacity and waiting queues,
served by ``GET /api/stats/load`` and pushed to supervisors' console sockets as it changes."""

from operator_console.load.push import LOAD_PUSHER, LoadPusher
from operator_console.load.snapshot import LoadSnapshot, narrow, read_load

__all__ = ["LOAD_PUSHER", "LoadPusher", "LoadSnapshot", "narrow", "read_load"]
