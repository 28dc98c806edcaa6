"""The embedded broker: kombu's filesystem transport, made safe for several processes starting
at once. Its exchange file is created empty and written a moment later; a process reading it in
between got "Expecting value: line 1 column 1 (char 0)" and its worker died (seen in `make demo`
under load). Reading an exchange table retries while the file is being written."""

from __future__ import annotations

import time

from kombu.transport import filesystem

ATTEMPTS = 50
PAUSE_SECONDS = 0.02


def _retried(read):
    def wrapped(self, *args, **kwargs):
        for _attempt in range(ATTEMPTS - 1):
            try:
                return read(self, *args, **kwargs)
            except ValueError:  # the JSON of a file another process is still writing
                time.sleep(PAUSE_SECONDS)
        return read(self, *args, **kwargs)

    return wrapped


class Channel(filesystem.Channel):
    get_table = _retried(filesystem.Channel.get_table)
    _queue_bind = _retried(filesystem.Channel._queue_bind)
    _delete = _retried(filesystem.Channel._delete)


class Transport(filesystem.Transport):
    Channel = Channel
