"""The embedded broker: kombu's filesystem transport, made safe for several processes at once.

Its files are created empty and written a moment later; a process reading one in between got
"Expecting value: line 1 column 1 (char 0)" and its worker died (seen in `make demo` under
load), a message file's task lost with it. Reading an exchange table retries while the file is
being written; a message is written under a name no consumer picks and renamed into place
whole (a rename within a folder is atomic).
"""

from __future__ import annotations

import os
import time
import uuid

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

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

    def _put(self, queue, payload, **kwargs):
        # kombu's name: consumers take files in name order and by their ".<queue>.msg" tail.
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
