"""The embedded broker survives a process reading a file another one is writing."""

from __future__ import annotations

import threading

import pytest
from kombu import Connection
from kombu.transport.virtual import Empty


def _folders(tmp_path) -> tuple[dict, dict]:
    folders = {name: tmp_path / name for name in ("out", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["out"]), "data_folder_out": str(folders["out"]),
        "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"]),
    }  # fmt: skip
    return folders, options


def test_a_message_being_written_is_never_taken_and_a_whole_one_is(tmp_path, monkeypatch):
    from crmapp import broker

    folders, options = _folders(tmp_path)
    seen_while_writing = []

    def encode_and_look(text):
        # The moment the payload is being written: what would a consumer find?
        seen_while_writing.append(sorted(p.name for p in folders["out"].iterdir()))
        return text.encode()

    monkeypatch.setattr(broker, "str_to_bytes", encode_and_look)
    with Connection("appfs://", transport_options=options) as connection:
        channel = connection.default_channel
        channel._put("celery", {"task": "first"})
        assert all(not name.endswith(".celery.msg") for name in seen_while_writing[0])
        # What a consumer used to find: a message file created, its payload not yet written.
        (folders["out"] / ".1_x.celery.msg.partial").write_bytes(b"")

        assert channel._get("celery") == {"task": "first"}
        with pytest.raises(Empty):
            channel._get("celery")
    assert [path.name for path in folders["out"].iterdir()] == [".1_x.celery.msg.partial"]


def test_an_exchange_file_being_written_is_read_once_it_is_whole(tmp_path):
    folders, options = _folders(tmp_path)
    exchange = folders["control"] / "celery.exchange"
    exchange.write_text("")  # created, not yet written: what another process leaves a moment
    writer = threading.Timer(0.15, exchange.write_text, args=['[["celery", "", "celery"]]'])
    writer.start()
    with Connection("appfs://", transport_options=options) as connection:
        table = connection.default_channel.get_table("celery")
    writer.join()
    assert [tuple(row) for row in table] == [("celery", "", "celery")]
