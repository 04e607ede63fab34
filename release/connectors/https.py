"""`https://` sources: a host of `QUIRE_SOURCE_HOSTS`, read with a timeout,
a size limit, conditional requests (ETag / Last-Modified) and no redirect to
another host. `http://` only on the loopback, and only when
`QUIRE_SOURCE_ALLOW_LOOPBACK` is set (tests against a local server)."""

from __future__ import annotations

import time
from urllib.parse import urljoin, urlparse

import httpx

from release.connectors.base import (
    CheckedConnector,
    Fetched,
    FetchError,
    Limits,
    NotModified,
    ReferenceRefusedError,
    Validators,
)

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_REDIRECTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})


def host_allowed(host: str, limits: Limits) -> bool:
    host = host.lower().rstrip(".")
    if host in LOOPBACK:
        return limits.allow_loopback
    return host in limits.hosts or any(
        allowed.startswith(".") and host.endswith(allowed) for allowed in limits.hosts
    )


def check_url(reference: str, limits: Limits) -> tuple[str, str]:
    """(scheme, host) of an allowed URL; ReferenceRefusedError otherwise."""
    parsed = urlparse(reference)
    host = (parsed.hostname or "").lower()
    if parsed.username or parsed.password:
        raise ReferenceRefusedError(
            "SOURCE_HOST_NOT_ALLOWED", "a source URL carries no credentials"
        )
    if not host:
        raise ReferenceRefusedError("SOURCE_HOST_NOT_ALLOWED", "the URL has no host")
    if parsed.scheme == "http" and not (limits.allow_loopback and host in LOOPBACK):
        raise ReferenceRefusedError(
            "SOURCE_NOT_WATCHABLE", "a watched URL is https://", {"host": host}
        )
    if not host_allowed(host, limits):
        raise ReferenceRefusedError(
            "SOURCE_HOST_NOT_ALLOWED",
            f"{host} is not in QUIRE_SOURCE_HOSTS",
            {"host": host},
        )
    return parsed.scheme, host


class HttpsConnector(CheckedConnector[tuple[str, str]]):
    schemes: tuple[str, ...] = ("https", "http")

    def target(self, reference: str, limits: Limits) -> tuple[str, str]:
        return check_url(reference, limits)

    def read(
        self,
        reference: str,
        origin: tuple[str, str],
        limits: Limits,
        validators: Validators,
    ) -> Fetched | NotModified:
        headers = {"Accept-Encoding": "identity"}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        deadline = time.monotonic() + limits.timeout_seconds
        url = reference
        try:
            with httpx.Client(
                timeout=limits.timeout_seconds, follow_redirects=False, trust_env=False
            ) as client:
                for _ in range(MAX_REDIRECTS + 1):
                    with client.stream("GET", url, headers=headers) as response:
                        if response.status_code in REDIRECTS:
                            url = _same_origin(url, response, origin, limits)
                            continue
                        return _read(response, limits, deadline)
        except httpx.TimeoutException:
            raise FetchError(
                "FETCH_TIMEOUT", f"no answer within {limits.timeout_seconds} s"
            ) from None
        except httpx.HTTPError as e:
            raise FetchError("FETCH_FAILED", f"{type(e).__name__}: {e}") from None
        raise FetchError("FETCH_REDIRECT_REFUSED", "too many redirects")


def _same_origin(
    url: str, response: httpx.Response, origin: tuple[str, str], limits: Limits
) -> str:
    target = urljoin(url, str(response.headers.get("location", "")))
    parsed = urlparse(target)
    if (parsed.scheme, (parsed.hostname or "").lower()) != origin:
        raise FetchError(
            "FETCH_REDIRECT_REFUSED",
            f"redirected to another host or scheme ({parsed.scheme}://"
            f"{parsed.hostname})",
        )
    return target


def _read(
    response: httpx.Response, limits: Limits, deadline: float
) -> Fetched | NotModified:
    if response.status_code == 304:
        return NotModified()
    if response.status_code != 200:
        raise FetchError(
            "FETCH_STATUS",
            f"HTTP {response.status_code}",
            {"status": response.status_code},
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise FetchError(
            "FETCH_TOO_LARGE", f"{declared} bytes is over {limits.max_bytes}"
        )
    body = bytearray()
    for chunk in response.iter_raw():
        body += chunk
        if len(body) > limits.max_bytes:
            raise FetchError("FETCH_TOO_LARGE", f"more than {limits.max_bytes} bytes")
        if time.monotonic() > deadline:  # a trickle is as bad as silence
            raise FetchError(
                "FETCH_TIMEOUT", f"not read within {limits.timeout_seconds} s"
            )
    return Fetched(
        bytes(body),
        Validators(
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        ),
    )
