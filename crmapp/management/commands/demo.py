"""`make demo`: run the whole product on one machine (web + worker with beat)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

ADDRESS = "127.0.0.1:8000"


class Command(BaseCommand):
    help = f"Serve the app on http://{ADDRESS}/ with a background worker (embedded default)."

    def handle(self, *args, **options):
        children = [
            self._start(
                "worker",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "crmapp",
                    "worker",
                    "--beat",
                    "--pool=threads",
                    "--concurrency=4",
                    "--loglevel=INFO",
                ],
            ),
            self._start(
                "web",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "crmapp.wsgi",
                    "--bind",
                    ADDRESS,
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    "--access-logfile",
                    "-",
                ],
            ),
        ]
        self.stdout.write(self.style.SUCCESS(f"Serving on http://{ADDRESS}/ (Ctrl-C stops)"))
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            failed = next(child for child in children if child.poll() is not None)
            self.stderr.write(f"{failed.args[2]} exited with {failed.returncode}; stopping")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        self.stdout.write(f"starting {name}: {' '.join(command[2:])}")
        return subprocess.Popen(command, env=os.environ.copy())
