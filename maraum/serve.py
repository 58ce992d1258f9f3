"""Serve Maraum with Daphne on uvloop: `python -m maraum.serve [daphne arguments]`.

uvloop's event loop roughly halved the time a loaded server adds to streamed replies
(bench/chat_latency.py); without it (Windows) this is plain Daphne.
"""

import asyncio
import contextlib

with contextlib.suppress(ImportError):
    import uvloop

    # Daphne creates its event loop when daphne.server is imported: set the policy first.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

from daphne.cli import CommandLineInterface

if __name__ == "__main__":
    CommandLineInterface.entrypoint()
