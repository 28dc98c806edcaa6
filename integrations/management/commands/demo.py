"""`make demo`: the whole product on one machine against a sandbox Bitrix24 portal and a
sandbox amoCRM account of the same business.

Starts both sandbox CRMs, the web server and a worker (with beat), installs the app into each
the way the admin's browser does in the marketplace — Bitrix24's install POST, amoCRM's OAuth
redirect to our callback — and leaves http://127.0.0.1:8000/ showing the sandbox portal page
with the app in its frame; its top bar leads to the amoCRM account's page (/crm-host/amocrm/).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from integrations.sandbox.client import SandboxControl

HOST = "127.0.0.1"


class Command(BaseCommand):
    help = (
        "Serve the app on http://127.0.0.1:8000/ framed by a sandbox Bitrix24 portal and a "
        "sandbox amoCRM account."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8443)
        parser.add_argument("--amocrm-port", type=int, default=8444)

    def handle(
        self, *args, scale: str, seed: int, port: int, sandbox_port: int, amocrm_port: int,
        **options,
    ):  # fmt: skip
        self.children: list[subprocess.Popen] = []
        self.address = f"{HOST}:{port}"
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        # `make demo` migrates first; `manage.py demo` on a fresh checkout must not answer the
        # sandbox's install with "no such table".
        call_command("migrate", interactive=False, verbosity=0)
        try:
            info = self._sandbox("bitrix24", sandbox_port, scale=scale, seed=seed)
            amocrm = self._sandbox(
                "amocrm", amocrm_port, scale=scale, seed=seed,
                extra=["--redirect-uri", f"http://{self.address}/amocrm/oauth/callback/"],
            )  # fmt: skip
            env = self._environment(info, amocrm)
            worker = ["celery", "-A", "crmapp", "worker", "--beat", "--pool=threads",
                      "--concurrency=4", "--loglevel=INFO"]  # fmt: skip
            self._start("worker", worker, env)
            self._start("web", ["gunicorn", "crmapp.wsgi", "--bind", self.address, "--workers", "2",
                                "--threads", "4", "--access-logfile", "-"], env)  # fmt: skip
            self._wait_for_web()
            self._install(info)
            self._install_amocrm(amocrm)
            self.stdout.write(self.style.SUCCESS(
                f"Serving on http://{self.address}/ — the sandbox portal with the app inside "
                f"(import progress is on the page); the amoCRM account at "
                f"http://{self.address}/crm-host/amocrm/. Ctrl-C stops."
            ))  # fmt: skip
            while all(child.poll() is None for child in self.children):
                time.sleep(0.5)
            failed = next(child for child in self.children if child.poll() is not None)
            raise CommandError(f"{failed.args[3]} exited with {failed.returncode}")
        except KeyboardInterrupt:
            pass
        finally:
            self._stop()

    def _sandbox(
        self, crm: str, port: int, *, scale: str, seed: int, extra: list[str] = ()
    ) -> dict:
        data_dir = settings.VAR_DIR / "sandbox"
        command = ["sandbox", "serve", "--crm", crm, "--seed", str(seed), "--scale", scale,
                   "--port", str(port), "--data-dir", str(data_dir), *extra]  # fmt: skip
        self.stdout.write(f"starting the sandbox {crm} ({scale}; the first run generates it)")
        child = subprocess.Popen(
            [sys.executable, "manage.py", *command],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.children.append(child)
        line = child.stdout.readline()
        if not line:
            raise CommandError("the sandbox CRM did not start")
        info = json.loads(line)
        (settings.VAR_DIR / f"sandbox-{crm}.json").write_text(json.dumps(info))
        return info

    def _environment(self, info: dict, amocrm: dict) -> dict:
        # Each sandbox signs its HTTPS with a CA of its own: trust both.
        bundle = settings.VAR_DIR / "sandbox-ca-bundle.pem"
        bundle.write_text("".join(Path(each["ca_bundle"]).read_text() for each in (info, amocrm)))
        return os.environ | {
            "BITRIX24_CLIENT_ID": info["client_id"],
            "BITRIX24_CLIENT_SECRET": info["client_secret"],
            "BITRIX24_OAUTH_URL": info["oauth_url"],
            "AMOCRM_CLIENT_ID": amocrm["client_id"],
            "AMOCRM_CLIENT_SECRET": amocrm["client_secret"],
            "AMOCRM_REDIRECT_URI": amocrm["redirect_uri"],
            "AMOCRM_ACCOUNT_HOSTS": amocrm["domain"],
            "REQUESTS_CA_BUNDLE": str(bundle),
            "PUBLIC_URL": f"http://{self.address}",
            "SANDBOX_INFO_FILE": str(settings.VAR_DIR / "sandbox-bitrix24.json"),
            "AMOCRM_SANDBOX_INFO_FILE": str(settings.VAR_DIR / "sandbox-amocrm.json"),
            "BITRIX24_JS_API_URL": "/static/sandbox/bitrix24/bx24.js",
            "FRAME_ANCESTORS_EXTRA": f"http://{self.address}",
        }

    def _start(self, name: str, command: list[str], env: dict) -> None:
        self.stdout.write(f"starting {name}: {' '.join(command)}")
        # A session of its own: Ctrl-C reaches only this command, which then stops the
        # children in order (a child that got the SIGINT itself would look like a crash).
        child = subprocess.Popen([sys.executable, "-m", *command], env=env, start_new_session=True)
        self.children.append(child)

    def _wait_for_web(self) -> None:
        for _ in range(120):
            try:
                requests.get(f"http://{self.address}/healthz", timeout=2).raise_for_status()
                return
            except requests.RequestException:
                time.sleep(0.5)
        raise CommandError(f"the web server did not answer on http://{self.address}/")

    def _install(self, info: dict) -> None:
        """The install POST the portal sends, then BX24.installFinish() from the install page."""
        form = dict(info["install"])
        query = {key: form.pop(key) for key in info["control"]["install_query_params"]}
        response = requests.post(
            f"http://{self.address}/bitrix24/install/?{urlencode(query)}", data=form, timeout=60
        )
        if response.status_code != 200:
            raise CommandError(f"install refused ({response.status_code}): {response.text[:300]}")
        SandboxControl(info).install_finish()
        self.stdout.write("installed into the sandbox portal; the history import has started")

    def _install_amocrm(self, info: dict) -> None:
        """What amoCRM does when the admin grants access: our callback with the code."""
        response = requests.get(
            f"http://{self.address}/amocrm/oauth/callback/", params=info["install"], timeout=60
        )
        if response.status_code != 200:
            raise CommandError(
                f"amoCRM install refused ({response.status_code}): {response.text[:300]}"
            )
        self.stdout.write("installed into the sandbox amoCRM account; its import has started")

    def _stop(self) -> None:
        """SIGTERM to each child's whole process group (gunicorn's and celery's own workers
        included), then SIGKILL to any group still alive after 15 s: nothing keeps a port."""
        for child in reversed(self.children):
            _signal_group(child, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(child, signal.SIGKILL)
            child.wait()
        for crm in ("bitrix24", "amocrm"):
            Path(settings.VAR_DIR / f"sandbox-{crm}.json").unlink(missing_ok=True)
        if self.children:
            self.stdout.write("stopped the web server, the worker and the sandbox CRMs")


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:
        pass  # the group has already gone
