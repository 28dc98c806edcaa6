"""``manage.py sandbox serve``: run a sandbox CRM portal for tests, the demo and benchmarks.

Prints the info JSON (domain, client_id, client_secret, oauth_url, ca_bundle, install, control,
portal) as the first line of stdout, then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.sandbox import start_sandbox
from integrations.sandbox.generator import SCALES
from integrations.sandbox.ratelimit import parse_rate_limit
from integrations.sandbox.timeutil import PORTAL_TZ


class Command(BaseCommand):
    help = (
        "Run a sandbox CRM (fake Bitrix24 portal or amoCRM account + OAuth over HTTPS on loopback)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["serve"])
        parser.add_argument("--crm", choices=["bitrix24", "amocrm"], default="bitrix24")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--scale", choices=sorted(SCALES), default="small")
        parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--data-dir", default=None, help="cache generated portals here")
        parser.add_argument(
            "--rate-limit", default=None, help="X/Y (Bitrix24 leaky bucket, default 50/2)"
        )
        parser.add_argument(
            "--access-lifetime", type=int, default=None, help="seconds (default the CRM's own)"
        )
        parser.add_argument("--now", default=None, help="anchor date YYYY-MM-DD (default today)")
        parser.add_argument("--client-id", default=None)
        parser.add_argument("--client-secret", default=None)
        parser.add_argument(
            "--redirect-uri", default=None, help="amoCRM: our integration's registered redirect URI"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        crm = options["crm"]
        extra = {
            name: options[name]
            for name in ("access_lifetime", "client_id", "client_secret", "redirect_uri")
            if options[name] is not None
        }
        if "redirect_uri" in extra and crm != "amocrm":
            raise CommandError("--redirect-uri is an amoCRM setting")
        if options["rate_limit"] is not None:
            try:
                extra["rate_limit"] = parse_rate_limit(options["rate_limit"])
            except ValueError as error:
                raise CommandError(str(error)) from error
        now = None
        if options["now"]:
            try:
                day = datetime.strptime(options["now"], "%Y-%m-%d")
            except ValueError as error:
                raise CommandError("--now must look like YYYY-MM-DD") from error
            now = day.replace(tzinfo=PORTAL_TZ).timestamp()
        stopped = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopped.set())
        try:
            sandbox = start_sandbox(
                crm=crm,
                seed=options["seed"],
                scale=options["scale"],
                port=options["port"],
                host=options["host"],
                data_dir=options["data_dir"],
                now=now,
                **extra,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(json.dumps(sandbox.info, ensure_ascii=False))
        self.stdout.flush()
        try:
            while not stopped.wait(0.5):
                pass
        finally:
            sandbox.stop()
