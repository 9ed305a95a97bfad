"""Telling machines from people: which opens and clicks were made by a mail program's image proxy,
a privacy feature or a security scanner rather than by the recipient. Pure: no database, no
network.

What is known about the machines (and what each rule below relies on):

- Apple Mail Privacy Protection downloads every image of a message as soon as it reaches the
  device, read or not, through Apple's relays (the iCloud Private Relay infrastructure). Its
  requests carry the bare user agent ``Mozilla/5.0`` — no real browser or mail program sends
  that alone — and some come from Apple's own network, 17.0.0.0/8. Every MPP open is a machine
  open: it says the message reached an Apple device, not that anyone read it.
- Gmail shows images through its image proxy (``... (via ggpht.com GoogleImageProxy)``), and
  Yahoo through its own (``YahooMailProxy``). They fetch when the reader opens the message, so a
  proxied open is a human one — except a fetch within moments of the delivery, which is the
  provider caching or scanning the message on arrival.
- Security gateways (Microsoft Defender / Exchange Online Protection, Mimecast, Proofpoint,
  Barracuda, ...) fetch images and follow every link of incoming mail to look for malware, from
  their own networks and often with honest user agents, within seconds of the delivery, and
  several links at once.
- Nobody reads a message and clicks a link in it within a second or two of its delivery, and no
  person clicks two different links of the same message within two seconds.

A label is a best effort: a person whose first click lands in a scanner's burst is not told
apart; nothing here ever hides an event, it only says how it was counted.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

# An open this soon after the delivery is a machine, whoever it says it is: the message cannot
# have been read yet. Mail proxies that fetch on arrival do it within this window too.
TOO_SOON_SECONDS = 2.0
PROXY_PREFETCH_SECONDS = 60.0
# Two different links of one message clicked this close together: a scanner following them all.
CLICK_BURST_SECONDS = 2.0

APPLE_MPP_USER_AGENT = "Mozilla/5.0"
_GOOGLE_PROXY = re.compile(r"GoogleImageProxy|via ggpht\.com", re.IGNORECASE)
_YAHOO_PROXY = re.compile(r"YahooMailProxy", re.IGNORECASE)
# User agents that are never a person: crawlers and link previewers, HTTP libraries and
# headless browsers, and the mail-security products that name themselves.
_SCANNER = re.compile(
    r"bot\b|bot/|crawler|spider|slurp|preview|"
    r"curl/|wget/|python-requests|python-urllib|aiohttp|httpx|go-http-client|java/|okhttp|"
    r"libwww-perl|apache-httpclient|node-fetch|axios/|headlesschrome|phantomjs|scrapy|zgrab|"
    r"barracuda|mimecast|proofpoint|trend ?micro|symantec|sophos|fortiguard|forcepoint|ironport|"
    r"cisco|checkpoint|paloalto|safelinks|existence discovery|protocol discovery|"
    r"facebookexternalhit|whatsapp|skypeuripreview|bingpreview|google-safety|"
    r"microsoft office existence",
    re.IGNORECASE,
)
# Networks of mail-security gateways that open and follow links in incoming mail (published
# relay ranges): Microsoft Exchange Online Protection, Mimecast, Barracuda, Proofpoint. A
# setting (HERALD_TRACKING_SCANNER_NETWORKS) adds more.
SCANNER_NETWORKS = (
    "40.92.0.0/15",
    "40.107.0.0/16",
    "52.100.0.0/14",
    "104.47.0.0/17",
    "205.139.110.0/24",
    "207.211.30.0/24",
    "64.235.144.0/20",
    "209.222.80.0/21",
    "148.163.128.0/19",
)
APPLE_NETWORKS = ("17.0.0.0/8",)


@dataclass(frozen=True)
class Verdict:
    """How one open or click is counted: ``machine`` or not, ``why`` (a short code, empty for a
    plain human), and the mail ``proxy`` it came through (``apple``, ``google``, ``yahoo`` or
    empty) — a Gmail reader's open is human *and* proxied."""

    machine: bool
    why: str = ""
    proxy: str = ""


HUMAN = Verdict(machine=False)


@functools.cache
def _networks(
    cidrs: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


# Opens and clicks come from a limited set of clients, proxies above all: the answers for a user
# agent and for an address are kept (bounded), since the regular expression and the address
# parsing cost more than everything else a hit needs.
@functools.lru_cache(maxsize=65_536)
def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def in_networks(ip: str, cidrs: Iterable[str]) -> bool:
    """Whether ``ip`` falls in one of ``cidrs`` (False for anything that is not an address)."""
    return _in_networks(ip, tuple(cidrs))


@functools.lru_cache(maxsize=65_536)
def _in_networks(ip: str, cidrs: tuple[str, ...]) -> bool:
    address = _address(ip)
    if address is None:
        return False
    return any(address in network for network in _networks(cidrs))


@functools.lru_cache(maxsize=4096)
def _agent(user_agent: str) -> str:
    """What a user agent says it is: apple-mpp, google, yahoo, scanner, none, or "" (a client)."""
    agent = user_agent.strip()
    if not agent:
        return "none"
    if agent == APPLE_MPP_USER_AGENT:
        return "apple-mpp"
    if _GOOGLE_PROXY.search(agent):
        return "google"
    if _YAHOO_PROXY.search(agent):
        return "yahoo"
    if _SCANNER.search(agent):
        return "scanner"
    return ""


def _scanner(
    user_agent: str, ip: str, extra_networks: tuple[str, ...], *, head: bool
) -> Verdict | None:
    if head:
        return Verdict(True, "head-request")  # browsers and mail programs GET; checkers HEAD
    agent = _agent(user_agent)
    if agent == "none":
        return Verdict(True, "no-user-agent")
    if agent == "scanner":
        return Verdict(True, "scanner")
    if in_networks(ip, SCANNER_NETWORKS + extra_networks):
        return Verdict(True, "scanner-network")
    return None


def classify_open(
    user_agent: str,
    ip: str,
    seconds_since_sent: float | None,
    *,
    head: bool = False,
    extra_networks: tuple[str, ...] = (),
) -> Verdict:
    """Whether an open (a fetch of the pixel) was a machine's, and why.

    ``seconds_since_sent`` is the time since the message was handed to the receiving server
    (None when unknown). ``extra_networks`` are more scanner networks (CIDR strings).
    """
    agent = _agent(user_agent)
    if agent == "apple-mpp" or in_networks(ip, APPLE_NETWORKS):
        return Verdict(True, "apple-mpp", "apple")
    if agent in ("google", "yahoo"):
        prefetch = seconds_since_sent is not None and seconds_since_sent < PROXY_PREFETCH_SECONDS
        return Verdict(True, f"{agent}-prefetch", agent) if prefetch else Verdict(False, "", agent)
    scanner = _scanner(user_agent, ip, extra_networks, head=head)
    if scanner is not None:
        return scanner
    if seconds_since_sent is not None and seconds_since_sent < TOO_SOON_SECONDS:
        return Verdict(True, "too-soon")
    return HUMAN


def classify_click(
    user_agent: str,
    ip: str,
    seconds_since_sent: float | None,
    *,
    seconds_since_other_link: float | None = None,
    head: bool = False,
    extra_networks: tuple[str, ...] = (),
) -> Verdict:
    """Whether a click on a tracked link was a machine's, and why.

    ``seconds_since_other_link`` is the time since the previous click on a *different* link of
    the same message (None when there was none).
    """
    agent = _agent(user_agent)
    if agent in ("google", "yahoo"):
        return Verdict(True, "image-proxy")  # image proxies fetch images, never follow links
    if agent == "apple-mpp":
        return Verdict(True, "apple-mpp", "apple")
    scanner = _scanner(user_agent, ip, extra_networks, head=head)
    if scanner is not None:
        return scanner
    if seconds_since_sent is not None and seconds_since_sent < TOO_SOON_SECONDS:
        return Verdict(True, "too-soon")
    if seconds_since_other_link is not None and seconds_since_other_link < CLICK_BURST_SECONDS:
        return Verdict(True, "click-burst")
    return HUMAN


@functools.lru_cache(maxsize=65_536)
def anonymize_ip(ip: str) -> str:
    """The network part of an address: IPv4 /24 (``203.0.113.0``), IPv6 /48 (``2001:db8:1::``).

    Anything that is not an address becomes the empty string.
    """
    address = _address(ip)
    if address is None:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
