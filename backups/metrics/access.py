"""Who may scrape `/metrics`: a bearer token (VELOWEB_METRICS_TOKEN) or an address in an
allow-list (VELOWEB_METRICS_ALLOW: addresses and networks, comma-separated). With neither set the
endpoint is closed: backup names and schedules are not for anyone who can reach the port."""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from django.conf import settings

CLOSED = (
    "/metrics is closed. Set VELOWEB_METRICS_TOKEN and scrape with 'Authorization: Bearer <token>', "
    "or list the scraper's addresses in VELOWEB_METRICS_ALLOW (e.g. 10.0.0.0/8,127.0.0.1)."
)


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(item, strict=False) for item in settings.VELOWEB_METRICS_ALLOW]


def refusal(authorization: str, address: str) -> Refusal | None:
    """None when the request may read the metrics, else the status and the reason."""
    token = settings.VELOWEB_METRICS_TOKEN
    networks = allowed_networks()
    if not token and not networks:
        return Refusal(403, CLOSED)
    if token:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
    if networks and _in(address, networks):
        return None
    if token and authorization:
        return Refusal(401, "The bearer token is not the one in VELOWEB_METRICS_TOKEN.")
    if token:
        return Refusal(401, "Send 'Authorization: Bearer <VELOWEB_METRICS_TOKEN>' to read the metrics.")
    return Refusal(403, f"{address or 'This address'} is not in VELOWEB_METRICS_ALLOW.")


def _in(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
