#!/usr/bin/env python3
"""A Cairn worker in Python, standard library only (urllib, json): what the TypeScript example does.

    python3 worker.py checkpoint   ship ORDERS orders, checkpointing after each; a retry resumes there
    python3 worker.py watermark    an incremental load: move the ASSET's watermark by compare-and-set

Environment: CAIRN_URL (the server), CAIRN_TOKEN (this try's execution token, from the scheduler);
checkpoint: ORDERS (default 10), CRASH_AFTER (SIGKILL itself after that many); watermark: ASSET (its
name), RUN_AT (the run's time, ISO-8601 UTC). The API is tRPC over HTTP with plain JSON: queries are
GET /trpc/<procedure>?input=<JSON>, mutations POST /trpc/<procedure> with a JSON body; every error
carries error.data.code, error.data.httpStatus and, for domain errors, error.data.reason.
"""

import base64
import json
import os
import random
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class CairnError(Exception):
    """An error answer of the API (or no answer): code, http_status and reason as on the wire."""

    def __init__(self, message, code, http_status, reason=None):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.reason = reason


class NotFoundError(CairnError):
    pass


class VersionConflictError(CairnError):
    """409 version_mismatch: an if_version did not match. Read the entry, then decide."""


class OutcomeUnknownError(CairnError):
    """A compare-and-set whose answer was lost: it may or may not have been applied. Read, then decide."""


def _error_of(status, body):
    data = (body or {}).get("error", {}).get("data", {}) if isinstance(body, dict) else {}
    message = (body or {}).get("error", {}).get("message", f"HTTP {status}") if isinstance(body, dict) else f"HTTP {status}"
    code, reason = data.get("code", "HTTP_ERROR"), data.get("reason")
    kind = NotFoundError if status == 404 else VersionConflictError if reason == "version_mismatch" else CairnError
    return kind(f"{message} ({code}{', ' + reason if reason else ''})", code, status, reason)


class Cairn:
    """The task's state (and, through asset(), an asset's), bound to one execution token."""

    def __init__(self, url, token, timeout_s=10.0, _asset=None, _task=None):
        self.url = url.rstrip("/") + "/trpc"
        self.token = token
        self.timeout_s = timeout_s
        self._asset = _asset
        # An execution token's subject is its task instance.
        payload = token.split(".")[1]
        self.task_instance_id = _task or json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]

    def asset(self, name):
        return Cairn(self.url[: -len("/trpc")], self.token, self.timeout_s, {"name": name}, self.task_instance_id)

    def _address(self):
        return {"asset": self._asset} if self._asset else {"taskInstanceId": self.task_instance_id}

    def _plane(self):
        return "assetState" if self._asset else "taskState"

    def _call(self, procedure, payload, query, retry_unknown):
        """One call, retried with backoff until the deadline when that is safe (see README of the client)."""
        deadline = time.monotonic() + self.timeout_s
        headers = {"authorization": f"Bearer {self.token}", "content-type": "application/json"}
        for attempt in range(1, 1000):
            sent = True
            try:
                if query:
                    url = f"{self.url}/{procedure}?input={urllib.parse.quote(json.dumps(payload))}"
                    request = urllib.request.Request(url, headers=headers)
                else:
                    body = json.dumps(payload).encode("utf-8")
                    request = urllib.request.Request(f"{self.url}/{procedure}", data=body, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=max(0.1, deadline - time.monotonic())) as answer:
                    return json.loads(answer.read())["result"]["data"]
            except urllib.error.HTTPError as failed:
                try:
                    error = _error_of(failed.code, json.loads(failed.read()))
                except ValueError:
                    error = _error_of(failed.code, None)
                # 503 database_unavailable promises nothing was applied: any call may be sent again.
                retry = failed.code >= 500 and (retry_unknown or error.reason == "database_unavailable")
                if failed.code >= 500 and not retry:
                    error = OutcomeUnknownError(str(error), error.code, error.http_status, error.reason)
            except (urllib.error.URLError, ConnectionError, TimeoutError) as failed:
                reason = getattr(failed, "reason", failed)
                sent = not isinstance(reason, ConnectionRefusedError)  # refused: the request never left
                error = CairnError(f"no answer from the Cairn server: {reason}", "NETWORK_ERROR", 0)
                retry = retry_unknown or not sent
                if not retry:
                    error = OutcomeUnknownError(str(error), "NETWORK_ERROR", 0)
            if not retry:
                raise error
            delay = min(2.0, 0.1 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            if time.monotonic() + delay >= deadline:
                raise error
            time.sleep(delay)
        raise error

    def entry(self, key):
        """The whole entry (value, version, updatedAt, expiresAt), or None when the key does not exist."""
        try:
            return self._call(f"{self._plane()}.get", {**self._address(), "key": key}, query=True, retry_unknown=True)
        except NotFoundError as missing:
            if missing.reason == "key_not_found":
                return None
            raise

    def get(self, key, fallback=None):
        found = self.entry(key)
        return fallback if found is None else found["value"]

    def set(self, key, value, if_version=None):
        """Writes a key; returns its new version. if_version: compare-and-set (0 = only if it does not exist)."""
        payload = {**self._address(), "key": key, "value": value}
        if if_version is not None:
            payload["ifVersion"] = if_version
        return self._call(f"{self._plane()}.set", payload, query=False, retry_unknown=if_version is None)["version"]

    def delete(self, key):
        return self._call(f"{self._plane()}.delete", {**self._address(), "key": key}, query=False, retry_unknown=True)["deleted"]

    def clear(self):
        return self._call(f"{self._plane()}.clear", self._address(), query=False, retry_unknown=True)["deleted"]


def say(line):
    print(line, flush=True)


def checkpoint(cairn):
    """Ships the orders, one at a time, and checkpoints after each: a retry starts where this try stopped."""
    orders = int(os.environ.get("ORDERS", "10"))
    crash_after = int(os.environ["CRASH_AFTER"]) if os.environ.get("CRASH_AFTER") else None
    start = cairn.get("checkpoint", 0)
    say(f"starts at order 1 of {orders} (no checkpoint yet)" if start == 0 else f"resumes at order {start + 1} of {orders} (checkpoint = {start})")
    for i in range(start, orders):
        time.sleep(0.02)  # shipping order i + 1: a call that must not happen twice
        cairn.set("checkpoint", i + 1)
        say(f"order {i + 1}/{orders} shipped, checkpoint = {i + 1}")
        if crash_after == i + 1:
            say(f"simulating a crash after order {i + 1}: SIGKILL, no cleanup")
            os.kill(os.getpid(), signal.SIGKILL)
    cairn.clear()
    say(f"all {orders} orders shipped; checkpoint cleared")


def watermark(cairn):
    """Loads what is newer than the asset's watermark and moves it forward by compare-and-set."""
    orders = cairn.asset(os.environ["ASSET"])
    run_at = os.environ["RUN_AT"]
    current = orders.entry("watermark")
    since = current["value"] if current else "1970-01-01"
    version = current["version"] if current else 0
    say(f"watermark = {since} (version {version})")
    # A run that moves the watermark on a stale version is refused, never silently overwrites.
    if version > 0:
        try:
            orders.set("watermark", since, if_version=version - 1)
        except VersionConflictError as conflict:
            say(f"a stale compare-and-set is refused: {type(conflict).__name__} ({conflict.reason})")
    new_version = orders.set("watermark", run_at, if_version=version)
    say(f"loaded rows up to {run_at}; watermark moved from {since} to {run_at} (version {new_version})")


def main():
    url, token = os.environ.get("CAIRN_URL"), os.environ.get("CAIRN_TOKEN")
    modes = {"checkpoint": checkpoint, "watermark": watermark}
    if not url or not token or len(sys.argv) != 2 or sys.argv[1] not in modes:
        sys.stderr.write("usage: CAIRN_URL=... CAIRN_TOKEN=... python3 worker.py checkpoint|watermark\n")
        return 2
    try:
        modes[sys.argv[1]](Cairn(url, token))
    except NotFoundError as gone:
        if gone.reason == "task_instance_superseded":
            say("stops: the scheduler started a newer try of this task")
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
