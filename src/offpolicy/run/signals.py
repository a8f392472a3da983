"""Signal handlers for a block of code, shared by the Trainer (Ctrl-C and SIGTERM stop a run at the end of a step)
and ``train --seeds`` over processes (SIGTERM stops every worker)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def signal_handlers(handlers: dict[int, Callable[[int, Any], Any]]) -> Iterator[None]:
    """Set ``handlers`` ({signal number: handler}) for the block, then restore the previous ones: SIG_DFL where the
    previous handler was not set from Python (``signal.signal`` returns None then, and None is not a handler). Only
    the main thread may set signal handlers; in any other thread the block runs with nothing changed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
