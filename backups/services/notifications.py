"""Notifications: the RQ jobs that send them, and the *Send test* of Settings.

`backups.notices.emit` queues `fan_out(payload)` on the `notifications` queue; it picks the
targets subscribed to the event (global ones, and those of the backup's or schedule's definition)
and queues one `deliver(delivery_id)` job each, retried by RQ with the backoff of
VELOWEB_NOTIFY_RETRY_SECONDS (the worker runs RQ's scheduler). Every attempt is written to the
delivery's row (state, attempts, last error), which Settings shows; the last failure is logged.

- webhook: POST of the JSON payload, with `X-Veloweb-Event`, `X-Veloweb-Delivery`,
  `X-Veloweb-Timestamp` and `X-Veloweb-Signature: sha256=HEX`, HEX being the HMAC-SHA256 under the
  target's secret of `TIMESTAMP.BODY` (the raw body bytes). Any 2xx is success; redirects are not
  followed.
- apprise: a title and a text body through Apprise (Slack, Teams, Matrix, email, json://...).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from backups import notices
from backups.models import NotificationDelivery, NotificationTarget
from backups.services import audit
from veloweb.crypto import Unreadable

log = logging.getLogger(__name__)
DELIVER = "backups.services.notifications.deliver"
TIMEOUT = 10.0  # seconds per HTTP request
State = NotificationDelivery.State


class DeliveryError(Exception):
    """Why one attempt failed (an HTTP status, a refused connection, Apprise's own message)."""


# --- the jobs -----------------------------------------------------------------------------------------


def targets_for(payload: dict) -> list[NotificationTarget]:
    """Enabled targets subscribed to the payload's event: the global ones, and those of its
    definition. Targets are few: the event list (JSON) is checked here, on every database alike."""
    definition_id = payload.get("definition_id")
    targets = NotificationTarget.objects.filter(enabled=True)
    return [
        t
        for t in targets
        if payload["event"] in t.events and (t.definition_id is None or t.definition_id == definition_id)
    ]


def fan_out(payload: dict) -> list[int]:
    """One delivery (row and job) per target of the event; the delivery ids."""
    import django_rq
    from rq import Retry

    title, _ = summary(payload)
    intervals = list(settings.VELOWEB_NOTIFY_RETRY_SECONDS)
    queue = django_rq.get_queue(notices.QUEUE)
    ids = []
    for target in targets_for(payload):
        delivery = NotificationDelivery.objects.create(
            target=target,
            target_name=target.name,
            event=payload["event"],
            subject=title[:300],
            payload=payload,
        )
        queue.enqueue(
            DELIVER,
            delivery.pk,
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            job_timeout=120,
            result_ttl=3600,
            failure_ttl=7 * 86400,
        )
        ids.append(delivery.pk)
    return ids


def deliver(delivery_id: int) -> str:
    """One attempt of one delivery. A failure raises (RQ retries it after the next interval) until
    the last attempt, which is marked failed and logged instead."""
    from rq import get_current_job

    delivery = NotificationDelivery.objects.select_related("target").filter(pk=delivery_id).first()
    if delivery is None or delivery.state in (State.SENT, State.FAILED):
        return "nothing to do"
    NotificationDelivery.objects.filter(pk=delivery_id).update(attempts=F("attempts") + 1)
    try:
        if delivery.target is None:
            raise DeliveryError("the target was deleted")
        send(delivery.target, delivery.payload, delivery_id)
    except DeliveryError as error:
        job = get_current_job()
        last = job is None or not job.retries_left or delivery.target is None
        state = State.FAILED if last else State.RETRYING
        NotificationDelivery.objects.filter(pk=delivery_id).update(state=state, last_error=str(error)[:2000])
        if last:
            log.error(
                "notification %s to %s failed for good: %s", delivery.event, delivery.target_name, error
            )
            return f"failed: {error}"
        log.warning(
            "notification %s to %s failed, will retry: %s", delivery.event, delivery.target_name, error
        )
        raise
    NotificationDelivery.objects.filter(pk=delivery_id).update(
        state=State.SENT, sent=timezone.now(), last_error=""
    )
    return "sent"


def send_test(target: NotificationTarget) -> NotificationDelivery:
    """*Send test*: one attempt now, while the admin waits (TIMEOUT bounds it); recorded as a
    delivery and in the audit trail."""
    payload = {
        "event": notices.TEST,
        "time": timezone.now().isoformat(),
        "message": f"Test notification from Veloweb to {target.name}.",
    }
    title, _ = summary(payload)
    delivery = NotificationDelivery.objects.create(
        target=target, target_name=target.name, event=notices.TEST, subject=title, payload=payload, test=True
    )
    delivery.attempts = 1
    try:
        send(target, payload, delivery.pk)
    except DeliveryError as error:
        delivery.state, delivery.last_error = State.FAILED, str(error)[:2000]
    else:
        delivery.state, delivery.sent = State.SENT, timezone.now()
    delivery.save(update_fields=["attempts", "state", "last_error", "sent"])
    audit.record(
        audit.NOTIFICATION_TESTED,
        target,
        details={"state": delivery.state, **({"error": delivery.last_error} if delivery.last_error else {})},
    )
    return delivery


# --- targets as admins manage them -------------------------------------------------------------------


def _audited(target: NotificationTarget) -> dict:
    return {
        "name": target.name,
        "kind": target.kind,
        "events": list(target.events),
        "definition": target.definition.name if target.definition_id else "",
        "enabled": target.enabled,
    }


def _secrets(target: NotificationTarget) -> tuple[str, str] | None:
    try:
        return target.plain_url(), target.plain_secret()
    except Unreadable:
        return None


def target_save(target: NotificationTarget) -> NotificationTarget:
    """Save a target (checked by its form); the audit trail says what changed, never the URL or
    the secret themselves (only that they changed)."""
    stored = NotificationTarget.objects.filter(pk=target.pk).first() if target.pk else None
    secrets_changed = stored is not None and _secrets(stored) != _secrets(target)
    target.save()
    after = _audited(target)
    if stored is None:
        audit.record(audit.NOTIFICATION_CREATED, target, details=after)
        return target
    changed = audit.changes(_audited(stored), after)
    if secrets_changed:
        changed["url or secret"] = ["(sealed)", "(changed)"]
    if changed:
        audit.record(audit.NOTIFICATION_UPDATED, target, details={"changed": changed})
    return target


def target_delete(target: NotificationTarget) -> None:
    """Delete a target; its deliveries stay in the log under its name."""
    pk = target.pk
    target.delete()
    audit.record(audit.NOTIFICATION_DELETED, target, object_id=str(pk))


# --- sending ------------------------------------------------------------------------------------------


def send(target: NotificationTarget, payload: dict, delivery_id: int) -> None:
    try:
        url, secret = target.plain_url(), target.plain_secret()
    except Unreadable as error:
        raise DeliveryError(f"target {target.name}: {error}") from None
    if target.kind == NotificationTarget.Kind.WEBHOOK:
        post_webhook(url, secret, payload, delivery_id)
    else:
        notify_apprise(url, payload)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=HEX` of `TIMESTAMP.BODY` under `secret`: what a receiver recomputes and compares."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx is an answer, not a place to send the payload to


_opener = urllib.request.build_opener(_NoRedirect)


def post_webhook(url: str, secret: str, payload: dict, delivery_id: int) -> None:
    body = json.dumps({**payload, "delivery": delivery_id}, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", "Veloweb-Notifications/1")
    request.add_header("X-Veloweb-Event", str(payload.get("event", "")))
    request.add_header("X-Veloweb-Delivery", str(delivery_id))
    request.add_header("X-Veloweb-Timestamp", timestamp)
    if secret:
        request.add_header("X-Veloweb-Signature", signature(secret, timestamp, body))
    try:
        with _opener.open(request, timeout=TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise DeliveryError(f"webhook {_where(url)}: {reason}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"webhook {_where(url)} answered HTTP {status}")


def notify_apprise(url: str, payload: dict) -> None:
    import apprise

    title, body = summary(payload)
    sender = apprise.Apprise()
    if not sender.add(url):
        raise DeliveryError("Apprise does not accept this URL")
    kind = (
        apprise.NotifyType.INFO
        if payload.get("event") in (notices.TEST, notices.BACKUP_COMPLETED)
        else (apprise.NotifyType.FAILURE)
    )
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = sender.notify(title=title, body=body, notify_type=kind)
    if not ok:
        said = " ".join(captured.getvalue().split())[-500:]
        raise DeliveryError(f"Apprise could not send it{': ' + said if said else ''}")


def _where(url: str) -> str:
    """scheme://host[:port]: enough to say which webhook, never a token in its path or query."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}"


def shown_url(target: NotificationTarget) -> str:
    """What pages show of a target's URL: a webhook's scheme and host, an Apprise URL's schema."""
    try:
        url = target.plain_url()
    except Unreadable as error:
        return str(error)
    if target.kind == NotificationTarget.Kind.WEBHOOK:
        return _where(url) + "/…"
    return url.split("://", 1)[0] + "://…"


# --- what a notification says -------------------------------------------------------------------------


def summary(payload: dict[str, Any]) -> tuple[str, str]:
    """A title and a text body for the payload (Apprise's notification, the delivery's subject)."""
    event = payload.get("event", "")
    message = payload.get("message", "")
    backup = payload.get("backup")
    if backup:
        title = f"Backup {backup['name']} {backup['phase']}"
        lines = [
            f"Cluster: {backup['cluster'] or '—'}; storage location: {backup['storage_location'] or '—'}",
            f"Items: {backup['items_backed_up']}/{backup['total_items']}; "
            f"errors: {backup['errors']}; warnings: {backup['warnings']}",
        ]
        if backup.get("schedule"):
            lines.insert(0, f"Schedule: {backup['schedule']}")
        if backup.get("failure_reason"):
            lines.append(f"Reason: {backup['failure_reason']}")
        if backup.get("cancelled_by"):
            lines.append(f"Cancelled by: {backup['cancelled_by']}")
        if event == notices.EXPIRY_FAILED:
            title = f"Expired backup {backup['name']} could not be deleted"
        if message:
            lines.append(message)
        return title, "\n".join(lines)
    restore = payload.get("restore")
    if restore:
        lines = [
            f"Backup: {restore['backup']}; cluster: {restore['cluster'] or '—'}",
            f"Errors: {restore['errors']}; warnings: {restore['warnings']}",
        ]
        if restore.get("failure_reason"):
            lines.append(f"Reason: {restore['failure_reason']}")
        return f"Restore {restore['name']} {restore['phase']}", "\n".join(lines)
    if event == notices.SCHEDULE_MISSED:
        return f"Schedule {payload['schedule']['name']} missed its run", message
    if event == notices.LOCATION_UNAVAILABLE:
        return f"Storage location {payload['location']['name']} is unavailable", message
    return "Veloweb test notification", message or "Test"
