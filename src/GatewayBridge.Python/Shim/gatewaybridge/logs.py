"""Python's logging, for the process an app runs in: every record goes to the host (to its ILogger), at the lowest
level the host's logging lets through. In the host's interpreter the records go to .NET directly; in a worker process,
as LOG frames."""

import logging
import traceback


def install(emit, root_level):
    """Hands every logging record to emit(name, level, message, detail), where detail is the traceback or stack, if
    any. Once per process."""
    root = logging.getLogger()
    root.addHandler(_HostLogHandler(emit))
    if root.level == logging.WARNING:
        # Python's default drops INFO; the host's logging configuration decides instead.
        root.setLevel(root_level)
    logging.captureWarnings(True)


class _HostLogHandler(logging.Handler):
    """Hands every logging record to the host, with the logger's name as the category."""

    def __init__(self, emit):
        super().__init__()
        self._emit = emit

    def emit(self, record):
        try:
            detail = None
            if record.exc_info:
                detail = "".join(traceback.format_exception(*record.exc_info))
            elif record.exc_text:
                detail = record.exc_text
            if record.stack_info:
                detail = (detail or "") + record.stack_info
            self._emit(record.name, record.levelno, record.getMessage(), detail)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
