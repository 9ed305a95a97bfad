"""The kinds of bounce the held-out measurement found misread (issue 16): Amazon SES
notifications in JSON (as SES writes them, and inside SNS's envelope), Japanese carriers' free
text, several DSN blocks with no blank line between, a bounce inside the returned message, a
bounce a person forwards, a quoted local part, and the failed address equal to the notice's To:.
"""

from __future__ import annotations

import json

import pytest

from herald.inbound.classify import classify


def message(text: str) -> bytes:
    return text.lstrip("\n").replace("\n", "\r\n").encode()


def report(dsn: str, *, returned: str = "") -> bytes:
    """A Postfix-style multipart/report around the given delivery-status text."""
    attached = f"--B\nContent-Type: message/rfc822\n\n{returned}\n" if returned else ""
    return message(
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n"
        "To: bounces@herald.example\nSubject: Undelivered Mail Returned to Sender\n"
        "Message-ID: <r1@mx.example.org>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nI could not deliver your message.\n\n"
        f"--B\nContent-Type: message/delivery-status\n\n{dsn}\n{attached}--B--\n"
    )


SES_BOUNCE = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": "jane@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
    },
    "mail": {
        "source": "campaigns@herald.example",
        "messageId": "0100018e-ses-id",
        "destination": ["jane@example.com"],
        "headers": [
            {"name": "From", "value": "campaigns@herald.example"},
            {"name": "Message-ID", "value": "<delivery-42@herald.example>"},
        ],
        "commonHeaders": {"messageId": "<delivery-42@herald.example>", "subject": "Your visit"},
    },
}
SNS_FOOTER = (
    "\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit "
    "the link below to unsubscribe:\nhttps://sns.eu-west-1.amazonaws.com/unsubscribe.html?"
    "SubscriptionArn=arn:aws:sns:eu-west-1:123456789012:ses-bounces:abc\n"
)


def sns_mail(body: str) -> bytes:
    return message(
        "From: AWS Notifications <no-reply@sns.amazonaws.com>\nTo: bounces@herald.example\n"
        "Subject: AWS Notification Message\nMessage-ID: <n1@email.amazonses.com>\n"
        f"Content-Type: text/plain; charset=UTF-8\n\n{body}\n"
    )


def test_an_ses_bounce_in_json_is_a_hard_bounce_of_its_recipient() -> None:
    result = classify(sns_mail(json.dumps(SES_BOUNCE) + SNS_FOOTER))
    assert result.kind == "bounce"
    assert result.bounce.type == "hard"
    assert result.bounce.recipients == ("jane@example.com",)
    assert result.bounce.status == "5.1.1"
    assert result.original_message_id == "<delivery-42@herald.example>"


def test_an_ses_notification_wrapped_by_sns_is_read_too() -> None:
    transient = json.loads(json.dumps(SES_BOUNCE))
    transient["bounce"]["bounceType"] = "Transient"
    transient["bounce"]["bouncedRecipients"][0]["status"] = "4.2.2"
    envelope = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-bounces",
        "Message": json.dumps(transient),
        "Timestamp": "2025-03-04T09:00:00.000Z",
        "SignatureVersion": "1",
    }
    result = classify(sns_mail(json.dumps(envelope, indent=2)))
    assert result.kind == "bounce"
    assert (result.bounce.type, result.bounce.recipients) == ("soft", ("jane@example.com",))


def test_an_ses_complaint_is_a_complaint() -> None:
    complaint = {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "ann@example.org"}],
            "complaintFeedbackType": "abuse",
        },
        "mail": SES_BOUNCE["mail"],
    }
    result = classify(sns_mail(json.dumps(complaint)))
    assert result.kind == "complaint"
    assert result.complaint.recipients == ("ann@example.org",)


@pytest.mark.parametrize("sender", ["Postmaster@ezweb.ne.jp", "MAILER-DAEMON@docomo.ne.jp"])
def test_japanese_carriers_free_text_names_the_recipient(sender: str) -> None:
    result = classify(
        message(
            f"From: Mail Administrator <{sender}>\nTo: bounces@herald.example\n"
            "Subject: Mail System Error - Returned Mail\nMessage-ID: <j1@carrier.example>\n"
            "Content-Type: text/plain; charset=us-ascii\n\n"
            "Could not be delivered to: <neko@ezweb.ne.jp>\n"
            "As their mailbox is full, your message could not be delivered.\n"
        )
    )
    assert result.kind == "bounce"
    assert result.bounce.recipients == ("neko@ezweb.ne.jp",)


def test_recipient_blocks_without_blank_lines_between_are_all_read() -> None:
    dsn = (
        "Reporting-MTA: dns; mx.example.org\n\n"
        "Final-Recipient: rfc822; one@example.net\nAction: failed\nStatus: 5.1.1\n"
        "Final-Recipient: rfc822; two@example.net\nAction: failed\nStatus: 5.1.1\n"
        "Original-Recipient: rfc822; Three@example.net\n"
        "Final-Recipient: rfc822; three@example.net\nAction: failed\nStatus: 5.2.2\n"
    )
    result = classify(report(dsn))
    assert result.bounce.recipients == ("one@example.net", "two@example.net", "three@example.net")


def test_a_bounce_inside_the_returned_message_is_not_this_ones() -> None:
    returned = (
        "From: Old Daemon <MAILER-DAEMON@old.example>\nTo: someone@example.org\n"
        "Subject: Undelivered\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="C"\n\n'
        "--C\nContent-Type: message/delivery-status\n\n"
        "Final-Recipient: rfc822; quoted@example.org\nAction: failed\nStatus: 5.1.1\n\n--C--\n"
    )
    dsn = "Final-Recipient: rfc822; real@example.net\nAction: failed\nStatus: 5.1.1\n"
    assert classify(report(dsn, returned=returned)).bounce.recipients == ("real@example.net",)


def test_a_quoted_local_part_keeps_its_quotes() -> None:
    dsn = 'Final-Recipient: rfc822; "a..b"@example.net\nAction: failed\nStatus: 5.1.1\n'
    assert classify(report(dsn)).bounce.recipients == ('"a..b"@example.net',)


def test_the_failed_address_may_be_the_notices_own_to() -> None:
    result = classify(
        message(
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\nTo: jane@example.net\n"
            "Subject: Mail delivery failed: returning message to sender\n"
            "Message-ID: <s1@mx.example.org>\nContent-Type: text/plain\n\n"
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
            "  jane@example.net\n    mailbox is full: retry timeout exceeded\n"
        )
    )
    assert result.bounce.recipients == ("jane@example.net",)


def test_a_bounce_a_person_forwards_is_their_message_not_a_bounce() -> None:
    result = classify(
        message(
            "From: Tom Agent <tom@example.org>\nTo: support@herald.example\n"
            "Subject: Fwd: Undelivered Mail Returned to Sender\nMessage-ID: <f1@example.org>\n"
            "Content-Type: text/plain\n\n"
            "Can you check this one? The customer says the address is right.\n\n"
            "---------- Forwarded message ---------\n"
            "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n"
            "Subject: Undelivered Mail Returned to Sender\nTo: <tom@example.org>\n\n"
            "<ghost@example.net>: host mx.example.net said: 550 5.1.1 User unknown\n"
        )
    )
    assert result.kind != "bounce"
    assert result.reply_text.startswith("Can you check this one?")
