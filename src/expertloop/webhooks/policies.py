"""Who may manage which organisation's webhooks, and which receiver URLs are allowed.

Operators manage every organisation's webhooks; a client manages their own organisation's.
Experts and reviewers have none: for them, as for another organisation's client, it is a 404.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from expertloop.accounts.models import Role, User
from expertloop.accounts.policies import is_operator
from expertloop.llm.ssrf import (
    AddressPolicy,
    UnsafeEndpoint,
    check_endpoint_url_sync,
    check_url,
    normalise_url,
)
from expertloop.settings import Settings


def uses_webhooks(actor: User) -> bool:
    """Tell whether the actor has webhooks at all (operators and clients)."""
    return is_operator(actor) or actor.role == Role.client


def can_manage(actor: User, organisation_id: int) -> bool:
    """Operators, and clients of the organisation, manage its webhooks."""
    if is_operator(actor):
        return True
    return actor.role == Role.client and actor.organisation_id == organisation_id


@dataclass(frozen=True)
class ReceiverRules:
    """The address policy of model endpoints, plus: plain http only where it cannot leak."""

    addresses: AddressPolicy
    # Production sends over https, except to receivers on networks the operator allowed
    # (EXPERTLOOP_PRIVATE_ENDPOINT_NETWORKS, or every private one with
    # EXPERTLOOP_ALLOW_PRIVATE_ENDPOINTS): a signed body still travels in clear text over http.
    require_https: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> ReceiverRules:
        """Build the rules from settings (the same address settings as model endpoints)."""
        return cls(
            AddressPolicy.from_settings(
                settings.allow_private_endpoints, settings.private_endpoint_networks
            ),
            require_https=settings.env == "production",
        )


def check_receiver_url(url: str, rules: ReceiverRules) -> str:
    """Return the normalised URL, or raise ``UnsafeEndpoint`` (422 ``unsafe_endpoint``)."""
    if len(url) > 2000:
        raise UnsafeEndpoint("The URL is longer than 2,000 characters.")
    scheme, host, _port = check_url(url)
    check_endpoint_url_sync(url, rules.addresses)
    if scheme == "http" and rules.require_https and not _on_allowed_private_network(host, rules):
        raise UnsafeEndpoint(
            "Webhook URLs must use https (http is allowed only for receivers on a private "
            "network the operator allowed)."
        )
    if urlsplit(url).fragment:
        raise UnsafeEndpoint("Webhook URLs cannot have a #fragment.")
    return normalise_url(url)


def _on_allowed_private_network(host: str, rules: ReceiverRules) -> bool:
    # check_endpoint_url_sync has already refused anything not allowed; what remains to tell is
    # whether the receiver is internal (allowed on purpose) rather than on the internet.
    internet = AddressPolicy()
    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError:
            return False
        addresses = list({str(info[4][0]) for info in infos})
    return bool(addresses) and all(
        not internet.is_allowed_text(a) and rules.addresses.is_allowed_text(a) for a in addresses
    )
