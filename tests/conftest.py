from __future__ import annotations

import itertools

import pytest

from crmapp.celery import app as celery_app

pytest_plugins = ["tests.sandbox_fixture"]

_numbers = itertools.count(1)


def pytest_addoption(parser):
    parser.addoption(
        "--clock",
        metavar="ISO",
        help="run the whole session with this process's clock moved to ISO (it keeps ticking): "
        "the sandbox generates its history up to that day, so no test may rely on today's date",
    )


def pytest_configure(config):
    # Before any fixture: the session sandbox anchors its generated history at this clock.
    if moment := config.getoption("--clock"):
        import time_machine
        from django.utils.dateparse import parse_datetime

        destination = parse_datetime(moment)
        if destination is None:
            raise pytest.UsageError(f"--clock: not an ISO date-time: {moment!r}")
        config._clock = time_machine.travel(destination, tick=True)
        config._clock.start()


def pytest_unconfigure(config):
    if clock := getattr(config, "_clock", None):
        clock.stop()


def pytest_report_header(config):
    if moment := config.getoption("--clock"):
        return f"clock moved to {moment}"
    return None


@pytest.fixture(autouse=True)
def _celery_eager(request):
    """Unit tests run tasks inline; tests marked `worker` go through a real worker process."""
    eager = request.node.get_closest_marker("worker") is None
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _empty_cache():
    """Portal ids repeat from one test database to the next; marks kept in the cache (such as
    "a drain is queued for portal 3") must not outlive the test that set them."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def make_portal(db):
    from crmapp.models import Portal

    def make(**fields) -> Portal:
        number = next(_numbers)
        defaults = {
            "kind": Portal.Kind.BITRIX24,
            "key": f"portal{number}.bitrix24.ru",
            "domain": f"portal{number}.bitrix24.ru",
            "member_id": f"member{number:032d}",
        }
        return Portal.objects.create(**(defaults | fields))

    return make


@pytest.fixture
def portal_a(make_portal):
    return make_portal()


@pytest.fixture
def portal_b(make_portal):
    return make_portal()


def database_url_for_subprocess() -> str:
    """A DATABASE_URL that points another process at the test database this run uses."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite://{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class CeleryWorkers:
    """Real `celery worker` processes on a queue of their own, against the test database,
    through the configured broker (Redis on CI, the filesystem transport embedded)."""

    def __init__(self, queue: str, log_dir) -> None:
        self.queue, self.log_dir, self.processes = queue, log_dir, []

    def start(self, **env: str):
        import os
        import subprocess
        import sys

        from django.conf import settings

        environment = os.environ | {
            "DATABASE_URL": database_url_for_subprocess(),
            "SECRET_KEY": settings.SECRET_KEY,
            "FIELD_ENCRYPTION_KEY": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "VAR_DIR": str(settings.VAR_DIR),
            "CELERY_QUEUE": self.queue,
            **({"REDIS_URL": settings.REDIS_URL} if settings.REDIS_URL else {}),
            **env,
        }
        log = (self.log_dir / f"worker-{len(self.processes)}.log").open("w")
        command = [sys.executable, "-m", "celery", "-A", "crmapp", "worker", "--pool=solo",
                   "-Q", self.queue, "--without-gossip", "--without-mingle",
                   "--loglevel=INFO"]  # fmt: skip
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        import subprocess

        for process in self.processes:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def celery_workers(transactional_db, tmp_path):
    """Start real worker processes with `.start(**env)`; tasks reach them on `.queue`."""
    import uuid

    workers = CeleryWorkers(f"test-{uuid.uuid4().hex[:12]}", tmp_path)
    yield workers
    workers.stop_all()


@pytest.fixture
def celery_worker_process(celery_workers):
    """One real worker; yields the queue that reaches it."""
    celery_workers.start()
    return celery_workers.queue


@pytest.fixture
def tasks_to(celery_workers):
    """Send this process's tasks to the test workers' queue."""
    from crmapp.celery import app as celery_app

    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = celery_workers.queue
    yield celery_workers.queue
    celery_app.conf.task_default_queue = previous


def wait_until(condition, *, timeout: float = 60, interval: float = 0.2) -> bool:
    """Poll `condition` until it is true or `timeout` seconds pass (a bound, not a speed check)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


@pytest.fixture
def bitrix24(sandbox_bitrix24_env, settings):
    """A fresh sandbox Bitrix24 portal with our app's settings pointing at it."""
    from integrations.bitrix24.sdk import sdk_configure

    info = sandbox_bitrix24_env.info
    settings.BITRIX24_CLIENT_ID = info["client_id"]
    settings.BITRIX24_CLIENT_SECRET = info["client_secret"]
    settings.BITRIX24_OAUTH_URL = info["oauth_url"]
    sdk_configure()
    return sandbox_bitrix24_env


@pytest.fixture
def sandbox_portal(bitrix24, make_portal):
    """A portal row holding the sandbox installation's tokens: no install, no import."""
    info, install = bitrix24.info, bitrix24.info["install"]
    return make_portal(
        key=info["domain"],
        domain=info["domain"],
        member_id=install["member_id"],
        access_token=install["AUTH_ID"],
        refresh_token=install["REFRESH_ID"],
    )


def install_post(client, sandbox, form: dict | None = None):
    """POST the install payload the way the portal does: query params + form body."""
    from urllib.parse import urlencode

    form = dict(form or sandbox.info["install"])
    query_keys = sandbox.info["control"]["install_query_params"]
    query = {key: form.pop(key) for key in query_keys if key in form}
    return client.post(f"/bitrix24/install/?{urlencode(query)}", form)


def sandbox_token(sandbox, user_id: int = 1):
    """A b24pysdk token of our app for `user_id`, through the OAuth code flow."""
    from b24pysdk import BitrixApp, BitrixToken

    info = sandbox.info
    app = BitrixApp(client_id=info["client_id"], client_secret=info["client_secret"])
    renewed = app.get_oauth_token(sandbox.control.oauth_code(user_id=user_id))
    return BitrixToken(
        domain=info["domain"],
        auth_token=renewed.oauth_token.access_token,
        refresh_token=renewed.oauth_token.refresh_token,
        bitrix_app=app,
    )


@pytest.fixture
def installed(client, bitrix24, django_capture_on_commit_callbacks):
    """The sandbox portal installed through the real install POST and fully imported."""
    from crmapp.models import Portal

    with django_capture_on_commit_callbacks(execute=True):
        response = install_post(client, bitrix24)
    assert response.status_code == 200, response.content
    portal = Portal.objects.get(member_id=bitrix24.info["install"]["member_id"])
    assert portal.import_phase == Portal.ImportPhase.DONE, portal.import_error
    return portal


def open_app(client, sandbox, user_id: int = 1, placement: str = "DEFAULT"):
    """Open the app page the way the portal does when `user_id` clicks it."""
    from urllib.parse import urlencode

    payload = sandbox.control.placement(user_id=user_id, placement=placement)
    return client.post(f"/bitrix24/app/?{urlencode(payload['query'])}", payload["body"])


@pytest.fixture
def connected(client, bitrix24):
    """The sandbox portal installed through the install POST, with its directory (employees,
    departments, pipelines) but without the history import: quick, for page tests."""
    from crmapp.models import Portal
    from integrations.mirror import mirror_directory_apply
    from integrations.registry import adapter_for

    assert install_post(client, bitrix24).status_code == 200
    portal = Portal.objects.get(member_id=bitrix24.info["install"]["member_id"])
    mirror_directory_apply(portal, adapter_for(portal).directory())
    return portal


@pytest.fixture
def live_portal(client, bitrix24, live_server, settings):
    """The sandbox portal installed into a live server, as the demo runs it."""
    settings.PUBLIC_URL = live_server.url
    settings.FRAME_ANCESTORS_EXTRA = [live_server.url]
    settings.BITRIX24_JS_API_URL = "/static/sandbox/bitrix24/bx24.js"
    settings.SANDBOX_INFO = bitrix24.info
    from crmapp.models import Portal

    assert install_post(client, bitrix24).status_code == 200
    assert wait_until(lambda: Portal.objects.get().import_phase == "done", timeout=120)
    return live_server


@pytest.fixture
def browser_page(monkeypatch):
    """A page in Debian's headless Chromium, driven by Playwright."""
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM is not touched inside.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        # Upper bounds on waiting, not speed checks: make test runs its passes side by side
        # on two cores, where a page can take far longer than on an idle machine.
        page.context.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        yield page
        browser.close()


def screenshot_path(name: str):
    """Where browser tests keep their screenshots (test-output/, ignored by git)."""
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "test-output"
    folder.mkdir(exist_ok=True)
    return folder / name
