"""Django admin's login, throttled: a few failures lock the address and the user name for a
while (in the cache, shared by all web processes), so passwords cannot be guessed at speed."""

from __future__ import annotations

import hashlib

from django.contrib import admin
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

FAILURES_ALLOWED = 5
LOCK_SECONDS = 15 * 60


def _keys(request: HttpRequest) -> list[str]:
    keys = [f"admin-login:ip:{request.META.get('REMOTE_ADDR', '')}"]
    username = request.POST.get("username", "").strip().lower()
    if username:
        digest = hashlib.sha256(username.encode()).hexdigest()[:32]
        keys.append(f"admin-login:user:{digest}")
    return keys


def _failure_count(key: str) -> int:
    cache.add(key, 0, LOCK_SECONDS)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, LOCK_SECONDS)
        return 1


@never_cache
def admin_login(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return admin.site.login(request)
    keys = _keys(request)
    if any((cache.get(key) or 0) >= FAILURES_ALLOWED for key in keys):
        message = _("Too many failed sign-ins. Try again in %(minutes)d minutes.") % {
            "minutes": LOCK_SECONDS // 60
        }
        return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response = admin.site.login(request)
    if request.user.is_authenticated:
        cache.delete_many(keys)
    else:
        for key in keys:
            _failure_count(key)
    return response
