"""Machine opens and clicks are told from people's, on the user agents the proxies really send."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from herald.tracking.machines import anonymize_ip, classify_click, classify_open

# As recorded by open trackers in the wild (see the module docstring of herald.tracking.machines).
APPLE_MPP = "Mozilla/5.0"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
HOME = "203.0.113.7"
LATER = 3600.0


def test_apple_mail_privacy_protection_opens_are_machine_opens_even_hours_later():
    verdict = classify_open(APPLE_MPP, "172.224.226.9", LATER)
    assert verdict.machine
    assert verdict.why == "apple-mpp"
    assert verdict.proxy == "apple"


def test_an_open_from_apples_network_is_mpp_whatever_the_user_agent():
    assert classify_open(IPHONE_MAIL, "17.58.63.10", LATER).why == "apple-mpp"


def test_a_gmail_reader_opening_through_googles_proxy_is_a_person():
    verdict = classify_open(GMAIL_PROXY, "66.249.84.22", LATER)
    assert not verdict.machine
    assert verdict.proxy == "google"


def test_googles_proxy_fetching_on_arrival_is_a_machine():
    verdict = classify_open(GMAIL_PROXY, "66.249.84.22", 5)
    assert verdict.machine
    assert verdict.why == "google-prefetch"


def test_yahoos_proxy_is_a_person_later_and_a_machine_on_arrival():
    assert not classify_open(YAHOO_PROXY, "98.136.1.1", LATER).machine
    assert classify_open(YAHOO_PROXY, "98.136.1.1", 1).why == "yahoo-prefetch"


def test_mail_programs_opening_directly_are_people():
    for agent in (IPHONE_MAIL, OUTLOOK, THUNDERBIRD, CHROME):
        assert classify_open(agent, HOME, LATER).machine is False, agent


def test_an_open_within_seconds_of_delivery_is_a_scanner():
    assert classify_open(CHROME, HOME, 0.4).why == "too-soon"


def test_scanners_are_known_by_user_agent_and_by_network():
    assert classify_open("Mozilla/5.0 (compatible; Barracuda Sentinel)", HOME, LATER).machine
    assert classify_open("python-requests/2.31.0", HOME, LATER).why == "scanner"
    assert classify_open(CHROME, "40.107.22.5", LATER).why == "scanner-network"  # Microsoft EOP
    assert classify_open(CHROME, "198.51.100.4", LATER, extra_networks=("198.51.100.0/24",)).machine


def test_a_request_without_user_agent_or_with_head_is_a_machine():
    assert classify_open("", HOME, LATER).why == "no-user-agent"
    assert classify_click(CHROME, HOME, LATER, head=True).why == "head-request"


def test_a_person_clicking_later_is_a_person():
    assert classify_click(CHROME, HOME, LATER) == classify_click(IPHONE_MAIL, HOME, 120)
    assert not classify_click(CHROME, HOME, LATER).machine


def test_link_scanners_clicking_on_arrival_or_in_a_burst_are_machines():
    assert classify_click(CHROME, HOME, 1.0).why == "too-soon"
    assert classify_click(CHROME, HOME, LATER, seconds_since_other_link=0.3).why == "click-burst"
    # The same link twice in a row (a double click) is still a person.
    assert not classify_click(CHROME, HOME, LATER, seconds_since_other_link=None).machine
    assert classify_click(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "Microsoft Office Existence Discovery",
        HOME,
        LATER,
    ).machine


def test_image_proxies_never_click():
    assert classify_click(GMAIL_PROXY, "66.249.84.22", LATER).why == "image-proxy"


def test_anonymized_addresses_keep_only_the_network():
    assert anonymize_ip("203.0.113.77") == "203.0.113.0"
    assert anonymize_ip("2001:db8:abcd:12::1") == "2001:db8:abcd::"
    assert anonymize_ip("::ffff:198.51.100.9") == "198.51.100.0"
    assert anonymize_ip("not an address") == ""


@given(st.ip_addresses())
def test_an_anonymized_address_is_the_start_of_its_network(address):
    anonymized = ipaddress.ip_address(anonymize_ip(str(address)))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    assert anonymized == network.network_address


@given(st.text(max_size=200), st.ip_addresses().map(str), st.none() | st.floats(0, 1e6))
def test_classifying_never_fails_on_anything_a_client_sends(agent, ip, since):
    assert isinstance(classify_open(agent, ip, since).machine, bool)
    assert isinstance(
        classify_click(agent, ip, since, seconds_since_other_link=since).machine, bool
    )
