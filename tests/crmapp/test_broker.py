"""The embedded broker survives a process reading an exchange file another one is writing."""

from __future__ import annotations

import threading

from kombu import Connection


def test_an_exchange_file_being_written_is_read_once_it_is_whole(tmp_path):
    folders = {name: tmp_path / name for name in ("out", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["out"]), "data_folder_out": str(folders["out"]),
        "processed_folder": str(folders["processed"]), "control_folder": str(folders["control"]),
    }  # fmt: skip
    exchange = folders["control"] / "celery.exchange"
    exchange.write_text("")  # created, not yet written: what another process leaves a moment
    writer = threading.Timer(0.15, exchange.write_text, args=['[["celery", "", "celery"]]'])
    writer.start()
    with Connection("appfs://", transport_options=options) as connection:
        table = connection.default_channel.get_table("celery")
    writer.join()
    assert [tuple(row) for row in table] == [("celery", "", "celery")]
