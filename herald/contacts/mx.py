"""The optional MX check: does each domain of a list's addresses take mail? (DNS, once per domain.)

A domain takes mail if it has an MX record other than the null MX (RFC 7505), or, without MX, an
A or AAAA record (RFC 5321 5.1 implicit MX). A domain that does not exist, publishes the null MX,
or has neither MX nor address takes no mail: its addresses become "no_mx", with the reason. A
domain the resolver cannot answer for (timeout, server failure) is left as it was: a network
problem must not mark good addresses bad.

The resolver is the system's, or the servers of ``settings.DNS_NAMESERVERS`` (the environment's
``HERALD_DNS_NAMESERVERS="192.0.2.53,127.0.0.1:5353"``), which the tests point at a stub server.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from herald.contacts.models import Address, AddressState

TIMEOUT_S = 5.0
UPDATE_CHUNK = 2000


def resolver() -> dns.resolver.Resolver:
    """The resolver of the MX check (see the module docstring)."""
    servers = list(settings.DNS_NAMESERVERS or [])
    if not servers:
        result = dns.resolver.Resolver()
    else:
        result = dns.resolver.Resolver(configure=False)
        result.nameservers = []
        for server in servers:
            host, _, port = str(server).rpartition(":") if ":" in str(server) else (server, "", "")
            result.nameservers.append(host)
            if port:
                result.port = int(port)
    result.lifetime = TIMEOUT_S
    return result


def _has(res: dns.resolver.Resolver, domain: str, rdtype: str) -> bool:
    try:
        return bool(res.resolve(domain, rdtype, search=False))
    except dns.resolver.NoAnswer:
        return False


def domain_verdict(domain: str, res: dns.resolver.Resolver) -> str | None:
    """``""`` if ``domain`` takes mail, the reason if it does not, None if DNS did not answer."""
    try:
        try:
            answer = res.resolve(domain, "MX", search=False)
        except dns.resolver.NoAnswer:
            answer = None
        if answer is not None:
            exchanges = [r for r in answer if r.exchange != dns.name.root]
            if exchanges:
                return ""
            return f"{domain} accepts no mail (null MX record)."
        if _has(res, domain, "A") or _has(res, domain, "AAAA"):
            return ""
        return f"{domain} has no MX record and no address: it takes no mail."
    except dns.resolver.NXDOMAIN:
        return f"The domain {domain} does not exist."
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout):
        return None


@dataclass
class MxResult:
    domains: int = 0
    no_mail: int = 0  # domains that take no mail
    unknown: int = 0  # domains DNS did not answer for
    marked: int = 0  # addresses now "no_mx"
    cleared: int = 0  # addresses "no_mx" before, valid again


def check_list(contact_list_id: int, res: dns.resolver.Resolver | None = None) -> MxResult:
    """Checks the domains of the list's valid (or earlier no_mx) addresses and stores the
    verdict on each address: state, reason and check time."""
    res = res or resolver()
    by_domain: dict[str, list[int]] = defaultdict(list)
    addresses = Address.objects.filter(
        Q(state=AddressState.VALID) | Q(state=AddressState.NO_MX),
        contact__memberships__contact_list_id=contact_list_id,
    ).values_list("id", "email_key")
    for address_id, key in addresses.iterator(chunk_size=5000):
        by_domain[key.rpartition("@")[2]].append(address_id)
    result = MxResult(domains=len(by_domain))
    now = timezone.now()
    for domain, ids in sorted(by_domain.items()):
        verdict = domain_verdict(domain, res)
        if verdict is None:
            result.unknown += 1
            continue
        if verdict:
            result.no_mail += 1
        for start in range(0, len(ids), UPDATE_CHUNK):
            chunk = Address.objects.filter(pk__in=ids[start : start + UPDATE_CHUNK])
            if verdict:
                result.marked += chunk.update(
                    state=AddressState.NO_MX, error=verdict[:300], checked_at=now
                )
            else:
                result.cleared += chunk.filter(state=AddressState.NO_MX).update(
                    state=AddressState.VALID, error=""
                )
                chunk.update(checked_at=now)
    return result
