"""The optional MX check: a button and an API call queue it, the job marks the addresses whose
domain takes no mail. DNS answers come from a stub server on 127.0.0.1 that this test runs: no
DNS query leaves the machine."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from django_tasks_db.models import DBTaskResult

from herald.contacts import mx
from herald.contacts.models import Address, AddressState, Contact, ContactList, ListMember
from herald.contacts.tasks import check_mx_task

pytestmark = pytest.mark.django_db

# name -> {record type: [record text]}; a name missing here does not exist (NXDOMAIN).
ZONE = {
    "mail.example.org.": {"MX": ["10 mx1.example.org."]},
    "nullmx.example.org.": {"MX": ["0 ."]},
    "a-only.example.org.": {"A": ["192.0.2.10"]},
    "nothing.example.org.": {"TXT": ['"v=spf1 -all"']},
    # "gone.example.org." is absent: NXDOMAIN. "slow.example.org." is never answered.
}


class StubDNS:
    """A UDP DNS server answering from ZONE, on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.questions: list[tuple[str, str]] = []
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            question = query.question[0]
            name, rdtype = question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype)
            self.questions.append((name, rdtype))
            if name.startswith("slow."):
                continue  # no answer: the resolver times out
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            records = ZONE.get(name)
            if records is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif rdtype in records:
                response.answer.append(
                    dns.rrset.from_text_list(name, 300, "IN", rdtype, records[rdtype])
                )
            self.sock.sendto(response.to_wire(), peer)

    def stop(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def stub_dns(settings) -> Iterator[StubDNS]:
    server = StubDNS()
    settings.DNS_NAMESERVERS = [f"127.0.0.1:{server.port}"]
    yield server
    server.stop()


@pytest.fixture
def newsletter() -> ContactList:
    contact_list = ContactList.objects.create(name="Newsletter")
    for domain in ["mail", "nullmx", "a-only", "nothing", "gone"]:
        for n in range(2):
            contact = Contact.objects.create(first_name=f"{domain}{n}")
            email = f"p{n}@{domain}.example.org"
            Address.objects.create(contact=contact, position=1, email=email, email_key=email)
            ListMember.objects.create(contact_list=contact_list, contact=contact)
    return contact_list


def _states() -> dict[str, str]:
    return dict(Address.objects.values_list("email", "state"))


def test_the_button_queues_the_check_and_the_job_marks_domains_that_take_no_mail(
    client_for, mike, newsletter, stub_dns, django_capture_on_commit_callbacks
):
    client = client_for(mike)
    page = client.get(f"/contacts/lists/{newsletter.pk}/").content.decode()
    assert "Check domains (MX)" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/contacts/lists/{newsletter.pk}/check-mx/")
    assert response.status_code == 302
    queued = DBTaskResult.objects.get(task_path__endswith="check_mx_task")
    assert queued.args_kwargs["args"] == [newsletter.pk]

    check_mx_task.call(newsletter.pk)

    states = _states()
    assert states["p0@mail.example.org"] == AddressState.VALID
    assert states["p1@a-only.example.org"] == AddressState.VALID  # implicit MX
    for domain in ["nullmx", "nothing", "gone"]:
        assert states[f"p0@{domain}.example.org"] == AddressState.NO_MX
        assert states[f"p1@{domain}.example.org"] == AddressState.NO_MX
    gone = Address.objects.get(email="p0@gone.example.org")
    assert gone.error == "The domain gone.example.org does not exist."
    assert gone.checked_at is not None
    assert "null MX" in Address.objects.get(email="p0@nullmx.example.org").error
    # One lookup per domain, not per address.
    assert stub_dns.questions.count(("mail.example.org.", "MX")) == 1
    page = client.get(f"/contacts/lists/{newsletter.pk}/").content.decode()
    assert "6 addresses whose domain takes no mail" in page
    contact = Address.objects.get(email="p0@gone.example.org").contact_id
    assert "domain takes no mail" in client.get(f"/contacts/{contact}/").content.decode()


def test_the_api_queues_the_check_and_shows_the_result_on_the_contact(
    api_for, mike, newsletter, stub_dns, django_capture_on_commit_callbacks
):
    api = api_for(mike)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/lists/{newsletter.pk}/check-mx")
    assert response.status_code == 202
    assert DBTaskResult.objects.filter(task_path__endswith="check_mx_task").count() == 1
    check_mx_task.call(newsletter.pk)
    contact = Address.objects.get(email="p1@nullmx.example.org").contact_id
    address = api.get(f"/api/v1/contacts/{contact}").json()["addresses"][0]
    assert (address["state"], "null MX" in address["error"]) == ("no_mx", True)


def test_an_unanswered_domain_is_left_as_it_was_and_a_fixed_domain_is_valid_again(
    newsletter, stub_dns
):
    contact = Contact.objects.create(first_name="Slow")
    Address.objects.create(
        contact=contact, position=1, email="x@slow.example.org", email_key="x@slow.example.org"
    )
    ListMember.objects.create(contact_list=newsletter, contact=contact)
    Address.objects.filter(email="p0@mail.example.org").update(
        state=AddressState.NO_MX, error="old verdict"
    )
    resolver = mx.resolver()
    resolver.lifetime = 0.5
    result = mx.check_list(newsletter.pk, resolver)
    assert (result.unknown, result.cleared) == (1, 1)
    states = _states()
    assert states["x@slow.example.org"] == AddressState.VALID  # no answer is no verdict
    assert states["p0@mail.example.org"] == AddressState.VALID
    assert Address.objects.get(email="p0@mail.example.org").error == ""


def test_configured_dns_servers_replace_the_system_resolver(settings):
    settings.DNS_NAMESERVERS = ["127.0.0.1:5399", "127.0.0.2"]
    resolver = mx.resolver()
    assert resolver.nameservers == ["127.0.0.1", "127.0.0.2"]
    assert resolver.port == 5399
