"""Writes Herald's own reply corpus: replies as the mail clients people use lay them out.

Run ``.venv/bin/python tests/inbound/replies/make_corpus.py`` to rewrite the items, then commit
them; README.md beside it says how the layouts were chosen. Each item is a reply body (text or
HTML) with its expected reply text, in the layout of one client, in one language: the
attribution line or header block that client writes in that language, its quoting, its
signature, top- or bottom-posted. Nothing here reads Herald's code: the expected text is the
reply as written, before the client added anything.
"""

# The texts below are data: strings run on over lines inside lists, and other scripts' punctuation.
# ruff: noqa: ISC004, E501, RUF001, T201

from __future__ import annotations

import html
import json
import random
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CUSTOMER = {
    "en": ("Jane Walker", "jane.walker@example.com"),
    "fr": ("Camille Martin", "camille.martin@example.fr"),
    "it": ("Giulia Rossi", "giulia.rossi@example.it"),
    "de": ("Lukas Schneider", "lukas.schneider@example.de"),
    "es": ("Lucía García", "lucia.garcia@example.es"),
    "pt": ("João Silva", "joao.silva@example.pt"),
    "nl": ("Sanne de Vries", "sanne.devries@example.nl"),
    "sv": ("Erik Johansson", "erik.johansson@example.se"),
    "no": ("Ingrid Hansen", "ingrid.hansen@example.no"),
    "da": ("Mette Nielsen", "mette.nielsen@example.dk"),
    "pl": ("Katarzyna Nowak", "k.nowak@example.pl"),
    "ja": ("山田 花子", "hanako.yamada@example.jp"),
    "vi": ("Nguyễn Văn An", "an.nguyen@example.vn"),
    "ar": ("ليلى حداد", "layla.haddad@example.com"),
}
SENDER = ("ACME Energy", "service@acme-energy.example")

# What the customer wrote: a short answer, a longer one with a sign-off, one with a list.
REPLIES = {
    "en": [
        "Yes, Friday at 10 works for me.",
        "Hello,\n\nI cannot make it on Friday. Could we move the visit to Monday morning?\n"
        "The meter is in the basement, the door code is 4521.\n\nThanks,\nJane",
        "Hi,\n\nTwo questions:\n- is the visit free?\n- how long will it take?\n\nBest regards,\nJane",
    ],
    "fr": [
        "Oui, vendredi à 10 h me convient.",
        "Bonjour,\n\nJe ne serai pas disponible vendredi. Pouvons-nous décaler au lundi matin ?\n"
        "Le compteur est à la cave, le code est 4521.\n\nMerci,\nCamille",
        "Bonjour,\n\nDeux questions :\n- la visite est-elle gratuite ?\n- combien de temps "
        "dure-t-elle ?\n\nCordialement,\nCamille",
    ],
    "it": [
        "Sì, venerdì alle 10 va bene.",
        "Buongiorno,\n\nvenerdì non sono disponibile. Possiamo spostare a lunedì mattina?\n"
        "Il contatore è in cantina.\n\nGrazie,\nGiulia",
        "Salve,\n\ndue domande:\n- la visita è gratuita?\n- quanto dura?\n\nCordiali saluti,\nGiulia",
    ],
    "de": [
        "Ja, Freitag um 10 Uhr passt mir.",
        "Hallo,\n\nam Freitag kann ich leider nicht. Können wir den Termin auf Montagvormittag "
        "verschieben?\nDer Zähler ist im Keller.\n\nDanke,\nLukas",
        "Guten Tag,\n\nzwei Fragen:\n- Ist der Termin kostenlos?\n- Wie lange dauert er?\n\n"
        "Viele Grüße\nLukas",
    ],
    "es": [
        "Sí, el viernes a las 10 me va bien.",
        "Hola:\n\nEl viernes no puedo. ¿Podemos pasar la visita al lunes por la mañana?\n"
        "El contador está en el sótano.\n\nGracias,\nLucía",
        "Buenos días,\n\ndos preguntas:\n- ¿la visita es gratuita?\n- ¿cuánto dura?\n\n"
        "Un saludo,\nLucía",
    ],
    "pt": [
        "Sim, sexta às 10h está ótimo.",
        "Olá,\n\nNa sexta não posso. Podemos mudar a visita para segunda de manhã?\n"
        "O contador está na cave.\n\nObrigado,\nJoão",
        "Bom dia,\n\nDuas perguntas:\n- a visita é gratuita?\n- quanto tempo demora?\n\n"
        "Cumprimentos,\nJoão",
    ],
    "nl": [
        "Ja, vrijdag om 10 uur is goed.",
        "Hallo,\n\nVrijdag kan ik niet. Kunnen we het bezoek naar maandagochtend verplaatsen?\n"
        "De meter zit in de kelder.\n\nBedankt,\nSanne",
        "Goedemiddag,\n\nTwee vragen:\n- is het bezoek gratis?\n- hoe lang duurt het?\n\n"
        "Met vriendelijke groet,\nSanne",
    ],
    "sv": [
        "Ja, fredag klockan 10 passar bra.",
        "Hej,\n\nPå fredag kan jag inte. Kan vi flytta besöket till måndag förmiddag?\n"
        "Mätaren sitter i källaren.\n\nTack,\nErik",
        "Hej,\n\nTvå frågor:\n- är besöket gratis?\n- hur lång tid tar det?\n\nMed vänliga hälsningar\nErik",
    ],
    "no": [
        "Ja, fredag klokka 10 passer fint.",
        "Hei,\n\nPå fredag kan jeg ikke. Kan vi flytte besøket til mandag formiddag?\n"
        "Måleren står i kjelleren.\n\nTakk,\nIngrid",
        "Hei,\n\nTo spørsmål:\n- er besøket gratis?\n- hvor lang tid tar det?\n\nMed vennlig hilsen\nIngrid",
    ],
    "da": [
        "Ja, fredag kl. 10 passer mig fint.",
        "Hej,\n\nFredag kan jeg ikke. Kan vi flytte besøget til mandag formiddag?\n"
        "Måleren er i kælderen.\n\nTak,\nMette",
        "Hej,\n\nTo spørgsmål:\n- er besøget gratis?\n- hvor lang tid tager det?\n\n"
        "Med venlig hilsen\nMette",
    ],
    "pl": [
        "Tak, piątek o 10 mi pasuje.",
        "Dzień dobry,\n\nW piątek nie mogę. Czy możemy przełożyć wizytę na poniedziałek rano?\n"
        "Licznik jest w piwnicy.\n\nDziękuję,\nKatarzyna",
        "Dzień dobry,\n\nDwa pytania:\n- czy wizyta jest bezpłatna?\n- ile trwa?\n\n"
        "Pozdrawiam\nKatarzyna",
    ],
    "ja": [
        "はい、金曜日の10時で大丈夫です。",
        "お世話になっております。\n\n金曜日は都合が悪いため、月曜日の午前に変更できますでしょうか。\n"
        "メーターは地下にあります。\n\nよろしくお願いいたします。\n山田",
        "こんにちは。\n\n質問が二つあります。\n- 訪問は無料ですか？\n- どのくらい時間がかかりますか？\n\n山田",
    ],
    "vi": [
        "Vâng, thứ Sáu lúc 10 giờ là được.",
        "Chào anh/chị,\n\nThứ Sáu tôi bận. Có thể dời lịch sang sáng thứ Hai không?\n"
        "Đồng hồ điện ở dưới tầng hầm.\n\nCảm ơn,\nAn",
        "Xin chào,\n\nTôi có hai câu hỏi:\n- chuyến thăm có miễn phí không?\n- mất bao lâu?\n\n"
        "Trân trọng,\nAn",
    ],
    "ar": [
        "نعم، يوم الجمعة الساعة العاشرة يناسبني.",
        "مرحبا،\n\nلا أستطيع يوم الجمعة. هل يمكن تأجيل الزيارة إلى صباح الاثنين؟\n"
        "العداد في القبو.\n\nشكرا،\nليلى",
        "مرحبا،\n\nلدي سؤالان:\n- هل الزيارة مجانية؟\n- كم تستغرق؟\n\nمع التحية،\nليلى",
    ],
}
# The campaign message being answered, as quoted.
ORIGINAL = {
    "en": "Dear Jane,\n\nYour meter reading visit is booked for Friday at 10:00.\nReply to this "
    "email to change it.\n\nACME Energy customer service",
    "fr": "Bonjour Camille,\n\nVotre relève de compteur est prévue vendredi à 10 h.\nRépondez à "
    "ce message pour la modifier.\n\nLe service client ACME Energy",
    "it": "Gentile Giulia,\n\nla lettura del contatore è fissata per venerdì alle 10.\nRisponda a "
    "questa email per modificarla.\n\nServizio clienti ACME Energy",
    "de": "Hallo Lukas,\n\nIhre Zählerablesung ist für Freitag um 10 Uhr geplant.\nAntworten Sie "
    "auf diese E-Mail, um den Termin zu ändern.\n\nIhr ACME Energy Kundenservice",
    "es": "Hola Lucía:\n\nLa lectura del contador está prevista para el viernes a las 10.\n"
    "Responda a este correo para cambiarla.\n\nAtención al cliente de ACME Energy",
    "pt": "Olá João,\n\nA leitura do contador está marcada para sexta às 10h.\nResponda a este "
    "email para a alterar.\n\nApoio ao cliente ACME Energy",
    "nl": "Beste Sanne,\n\nDe meteropname staat gepland op vrijdag om 10.00 uur.\nBeantwoord "
    "deze e-mail om de afspraak te wijzigen.\n\nKlantenservice ACME Energy",
    "sv": "Hej Erik,\n\nMätaravläsningen är bokad till fredag kl. 10.\nSvara på detta mejl för "
    "att ändra tiden.\n\nACME Energy kundservice",
    "no": "Hei Ingrid,\n\nMåleravlesningen er satt til fredag kl. 10.\nSvar på denne e-posten "
    "for å endre tiden.\n\nACME Energy kundeservice",
    "da": "Hej Mette,\n\nMåleraflæsningen er booket til fredag kl. 10.\nSvar på denne e-mail "
    "for at ændre tiden.\n\nACME Energy kundeservice",
    "pl": "Dzień dobry,\n\nOdczyt licznika zaplanowano na piątek o 10:00.\nOdpowiedz na tę "
    "wiadomość, aby zmienić termin.\n\nObsługa klienta ACME Energy",
    "ja": "山田様\n\nメーター検針のご訪問は金曜日10時に予定されています。\n変更の場合はこの"
    "メールにご返信ください。\n\nACME Energy カスタマーサービス",
    "vi": "Chào An,\n\nLịch ghi chỉ số đồng hồ của bạn là thứ Sáu lúc 10 giờ.\nTrả lời email "
    "này để thay đổi.\n\nDịch vụ khách hàng ACME Energy",
    "ar": "عزيزتي ليلى،\n\nتم حجز زيارة قراءة العداد يوم الجمعة الساعة العاشرة.\nرد على هذه "
    "الرسالة لتغيير الموعد.\n\nخدمة عملاء ACME Energy",
}
SUBJECT = {
    "en": "Your meter reading visit",
    "fr": "Votre relève de compteur",
    "it": "La lettura del contatore",
    "de": "Ihre Zählerablesung",
    "es": "La lectura de su contador",
    "pt": "A leitura do contador",
    "nl": "Uw meteropname",
    "sv": "Din mätaravläsning",
    "no": "Din måleravlesning",
    "da": "Din måleraflæsning",
    "pl": "Odczyt licznika",
    "ja": "メーター検針のお知らせ",
    "vi": "Lịch ghi chỉ số đồng hồ",
    "ar": "موعد قراءة العداد",
}

# Gmail (web and app): the attribution line, in each language's Gmail wording.
GMAIL = {
    "en": "On Tue, Mar 4, 2025 at 9:00 AM {name} <{email}> wrote:",
    "fr": "Le mar. 4 mars 2025 à 09:00, {name} <{email}> a écrit :",
    "it": "Il giorno mar 4 mar 2025 alle ore 09:00 {name} <{email}> ha scritto:",
    "de": "Am Di., 4. März 2025 um 09:00 Uhr schrieb {name} <{email}>:",
    "es": "El mar, 4 mar 2025 a las 9:00, {name} (<{email}>) escribió:",
    "pt": "Em ter., 4 de mar. de 2025 às 09:00, {name} <{email}> escreveu:",
    "nl": "Op di 4 mrt 2025 om 09:00 schreef {name} <{email}>:",
    "sv": "Den tis 4 mars 2025 kl 09:00 skrev {name} <{email}>:",
    "no": "tir. 4. mar. 2025 kl. 09:00 skrev {name} <{email}>:",
    "da": "Den tir. 4. mar. 2025 kl. 09.00 skrev {name} <{email}>:",
    "pl": "W dniu wt., 4.03.2025 o 09:00 {name} <{email}> napisał(a):",
    "ja": "2025年3月4日(火) 9:00 {name} <{email}>:",
    "vi": "Vào Th 3, 4 thg 3, 2025 vào lúc 09:00 {name} <{email}> đã viết:",
    "ar": "في الثلاثاء، 4 مارس 2025 في 9:00 ص، كتب {name} <{email}>:",
}
# Apple Mail (macOS, iOS).
APPLE = {
    "en": "On 4 Mar 2025, at 09:00, {name} <{email}> wrote:",
    "fr": "Le 4 mars 2025 à 09:00, {name} <{email}> a écrit :",
    "it": "Il giorno 4 mar 2025, alle ore 09:00, {name} <{email}> ha scritto:",
    "de": "Am 04.03.2025 um 09:00 schrieb {name} <{email}>:",
    "es": "El 4 mar 2025, a las 9:00, {name} <{email}> escribió:",
    "pt": "Em 4 de mar. de 2025, à(s) 09:00, {name} <{email}> escreveu:",
    "nl": "Op 4 mrt 2025 om 09:00 heeft {name} <{email}> het volgende geschreven:",
    "sv": "4 mars 2025 kl. 09:00 skrev {name} <{email}>:",
    "no": "4. mar. 2025 kl. 09:00 skrev {name} <{email}>:",
    "da": "Den 4. mar. 2025 kl. 09.00 skrev {name} <{email}>:",
    "pl": "Wiadomość napisana przez {name} <{email}> w dniu 4 mar 2025, o godz. 09:00:",
    "ja": "2025/03/04 9:00、{name} <{email}>のメール:",
    "vi": "Vào 09:00, ngày 4 thg 3, 2025, {name} <{email}> đã viết:",
    "ar": "في 4 مارس 2025، الساعة 9:00 ص، كتب {name} <{email}>:",
}
# Thunderbird.
THUNDERBIRD = {
    "en": "On 04/03/2025 09:00, {name} wrote:",
    "fr": "Le 04/03/2025 à 09:00, {name} a écrit :",
    "it": "Il 04/03/2025 09:00, {name} ha scritto:",
    "de": "Am 04.03.25 um 09:00 schrieb {name}:",
    "es": "El 4/3/25 a las 9:00, {name} escribió:",
    "pt": "Em 04/03/2025 09:00, {name} escreveu:",
    "nl": "Op 04-03-2025 om 09:00 schreef {name}:",
    "sv": "Den 2025-03-04 kl. 09:00, skrev {name}:",
    "no": "Den 04.03.2025 09:00, skrev {name}:",
    "da": "Den 04.03.2025 kl. 09.00 skrev {name}:",
    "pl": "W dniu 4.03.2025 o 09:00, {name} pisze:",
    "ja": "2025/03/04 9:00, {name} wrote:",
    "vi": "Vào 04/03/2025 09:00, {name} đã viết:",
    "ar": "في 04/03/2025 09:00، كتب {name}:",
}
# Yahoo Mail.
YAHOO = {
    "en": "On Tuesday, March 4, 2025 at 09:00:00 AM GMT+1, {name} <{email}> wrote:",
    "fr": "Le mardi 4 mars 2025 à 09:00:00 UTC+1, {name} <{email}> a écrit :",
    "it": "Il martedì 4 marzo 2025 alle ore 09:00:00 CET, {name} <{email}> ha scritto:",
    "de": "Am Dienstag, 4. März 2025 um 09:00:00 MEZ hat {name} <{email}> Folgendes geschrieben:",
    "es": "El martes, 4 de marzo de 2025, 09:00:00 CET, {name} <{email}> escribió:",
    "pt": "Em terça-feira, 4 de março de 2025, 09:00:00 WET, {name} <{email}> escreveu:",
    "nl": "Op dinsdag 4 maart 2025 om 09:00:00 CET schreef {name} <{email}>:",
    "sv": "Den tisdag 4 mars 2025 09:00:00 CET skrev {name} <{email}>:",
    "no": "Tirsdag 4. mars 2025, 09:00:00 CET skrev {name} <{email}>:",
    "da": "Tirsdag den 4. marts 2025 09.00.00 CET skrev {name} <{email}>:",
    "pl": "Dnia wtorek, 4 marca 2025 09:00:00 CET, {name} <{email}> napisał(a):",
    "ja": "2025年3月4日火曜日 9:00:00 JST、{name} <{email}> のメッセージ:",
    "vi": "Vào Thứ Ba, 4 tháng 3, 2025 09:00:00 ICT, {name} <{email}> đã viết:",
    "ar": "في الثلاثاء، 4 مارس 2025، 09:00:00 ص، كتب {name} <{email}>:",
}
# Outlook (desktop, web, mobile): the header block labels in each language.
OUTLOOK = {
    "en": ("From", "Sent", "To", "Subject"),
    "fr": ("De", "Envoyé", "À", "Objet"),
    "it": ("Da", "Inviato", "A", "Oggetto"),
    "de": ("Von", "Gesendet", "An", "Betreff"),
    "es": ("De", "Enviado el", "Para", "Asunto"),
    "pt": ("De", "Enviado", "Para", "Assunto"),
    "nl": ("Van", "Verzonden", "Aan", "Onderwerp"),
    "sv": ("Från", "Skickat", "Till", "Ämne"),
    "no": ("Fra", "Sendt", "Til", "Emne"),
    "da": ("Fra", "Sendt", "Til", "Emne"),
    "pl": ("Od", "Wysłano", "Do", "Temat"),
    "ja": ("差出人", "送信日時", "宛先", "件名"),
    "vi": ("Từ", "Đã gửi", "Đến", "Chủ đề"),
    "ar": ("من", "تاريخ الإرسال", "إلى", "الموضوع"),
}
# "Original Message" as Outlook, Zimbra and Android mail apps write it.
ORIGINAL_MESSAGE = {
    "en": "Original Message",
    "fr": "Message d'origine",
    "it": "Messaggio originale",
    "de": "Ursprüngliche Nachricht",
    "es": "Mensaje original",
    "pt": "Mensagem original",
    "nl": "Oorspronkelijk bericht",
    "sv": "Originalmeddelande",
    "no": "Opprinnelig melding",
    "da": "Oprindelig meddelelse",
    "pl": "Oryginalna wiadomość",
    "ja": "元のメッセージ",
    "vi": "Thư gốc",
    "ar": "الرسالة الأصلية",
}
# A bare attribution (old Outlook Express, Mutt, some webmails): the sender and "wrote", no date.
BARE = {
    "en": "{name} wrote:",
    "fr": "{name} a écrit :",
    "it": "{name} ha scritto:",
    "de": "{name} schrieb:",
    "es": "{name} escribió:",
    "pt": "{name} escreveu:",
    "nl": "{name} schreef:",
    "sv": "{name} skrev:",
    "no": "{name} skrev:",
    "da": "{name} skrev:",
    "pl": "{name} napisał(a):",
    "ja": "{name} <{email}>:",
    "vi": "{name} đã viết:",
    "ar": "كتب {name}:",
}
# What a phone adds below the reply.
MOBILE = {
    "en": "Sent from my iPhone",
    "fr": "Envoyé de mon iPhone",
    "it": "Inviato da iPhone",
    "de": "Von meinem iPhone gesendet",
    "es": "Enviado desde mi iPhone",
    "pt": "Enviado do meu iPhone",
    "nl": "Verstuurd vanaf mijn iPhone",
    "sv": "Skickat från min iPhone",
    "no": "Sendt fra min iPhone",
    "da": "Sendt fra min iPhone",
    "pl": "Wysłane z iPhone'a",
    "ja": "iPhoneから送信",
    "vi": "Được gửi từ iPhone của tôi",
    "ar": "أرسلت من iPhone",
}
SIGNATURE = "-- \n{name}\n+33 1 23 45 67 89"
DISCLAIMER = (
    "This e-mail and any attachment are confidential and intended solely for the addressee. "
    "If you received it in error, please delete it and notify the sender."
)


@dataclass
class Item:
    name: str
    body: str
    reply: str
    fmt: str  # text | html
    lang: str
    client: str
    note: str


def quoted(text: str, prefix: str = "> ") -> str:
    return "\n".join((prefix + line).rstrip() for line in text.split("\n"))


def gmail_wrapped(attribution: str) -> str:
    """Gmail's plain text wraps a long attribution before the address, as it sends it."""
    if len(attribution) <= 78 or " <" not in attribution:
        return attribution
    head, _, tail = attribution.rpartition(" <")
    return f"{head} <\n{tail}"


def text_items(lang: str, rng: random.Random) -> list[Item]:
    name, email = CUSTOMER[lang]
    sender, sender_email = SENDER
    original = ORIGINAL[lang]
    items: list[Item] = []

    def add(client: str, body: str, reply: str, note: str) -> None:
        items.append(
            Item(f"{client}_{lang}_{len(items):02d}", body, reply, "text", lang, client, note)
        )

    replies = REPLIES[lang]
    labels = OUTLOOK[lang]
    date_line = "Tuesday, March 4, 2025 9:00 AM" if lang == "en" else "04/03/2025 09:00"
    header_block = (
        f"{labels[0]}: {sender} <{sender_email}>\n{labels[1]}: {date_line}\n"
        f"{labels[2]}: {name} <{email}>\n{labels[3]}: {SUBJECT[lang]}"
    )
    unquoted = f"{header_block}\n\n{original}"
    for index, reply in enumerate(replies):
        attribution = GMAIL[lang].format(name=sender, email=sender_email)
        add(
            "gmail",
            f"{reply}\n\n{gmail_wrapped(attribution)}\n\n{quoted(original)}\n",
            reply,
            "Gmail web, top-posted, attribution wrapped as Gmail sends it",
        )
        apple = APPLE[lang].format(name=sender, email=sender_email)
        add(
            "apple-ios",
            f"{reply}\n\n{MOBILE[lang]}\n\n{apple}\n\n{quoted(original)}\n",
            reply,
            "iOS Mail, top-posted, with the phone's signature",
        )
        tb = THUNDERBIRD[lang].format(name=sender)
        if index == 0:
            add(
                "thunderbird",
                f"{tb}\n> {original.split(chr(10))[0]}\n\n{reply}\n",
                reply,
                "Thunderbird, bottom-posted under a one-line quote",
            )
        else:
            add(
                "thunderbird",
                f"{reply}\n\n{SIGNATURE.format(name=name)}\n\n{tb}\n{quoted(original)}\n",
                reply,
                "Thunderbird, top-posted, with a -- signature",
            )
        yahoo = YAHOO[lang].format(name=sender, email=sender_email)
        add(
            "yahoo",
            f"{reply}\n\n\n{yahoo}\n\n{original}\n",
            reply,
            "Yahoo Mail: the attribution, then the original unquoted",
        )
        separator = (
            "________________________________"
            if index != 1
            else (f"-----{ORIGINAL_MESSAGE[lang]}-----")
        )
        add(
            "outlook",
            f"{reply}\n\n{separator}\n{unquoted}\n",
            reply,
            "Outlook desktop/web: a separator line and the header block",
        )
        if index == 2:
            add(
                "outlook-mobile",
                f"{reply}\n\nGet Outlook for Android\n{'_' * 32}\n{unquoted}\n",
                reply,
                "Outlook mobile: its signature, then the header block",
            )
            add(
                "outlook-noseparator",
                f"{reply}\n\n{unquoted}\n",
                reply,
                "Outlook with no separator line: the header block alone",
            )
    # Clients with one layout each, on the short and the long reply.
    for reply in replies[:2]:
        zimbra_label = "Mail original" if lang == "fr" else ORIGINAL_MESSAGE[lang]
        add(
            "zimbra",
            f"{reply}\n\n----- {zimbra_label} -----\n{header_block}\n\n{original}\n",
            reply,
            "Zimbra (and Free's webmail in French): '----- Original Message -----'",
        )
        add(
            "android-samsung",
            f"{reply}\n\n\n\n-------- {ORIGINAL_MESSAGE[lang]} --------\n"
            f"{labels[0]}: {sender} <{sender_email}>\n{labels[1] if lang != 'en' else 'Date'}: "
            f"04/03/2025 09:00 (GMT+01:00)\n{labels[2]}: {email}\n{labels[3]}: {SUBJECT[lang]}\n\n"
            f"{original}\n",
            reply,
            "Samsung Email on Android",
        )
        zoho = f"---- On Tue, 04 Mar 2025 09:00:00 +0100 {sender} <{sender_email}> wrote ----"
        add("zoho", f"{reply}\n\n{zoho}\n\n{original}\n", reply, "Zoho Mail")
        add(
            "notes",
            f'{reply}\n\n\n\n-----"{sender}" <{sender_email}> wrote: -----\n\n'
            f'To: {name} <{email}>\nFrom: "{sender}" <{sender_email}>\nDate: 04/03/2025 09:00\n'
            f"Subject: {SUBJECT[lang]}\n\n{original}\n",
            reply,
            "HCL (Lotus) Notes",
        )
    # GMX and web.de write "Gesendet:" first; Orange, Libero and Virgilio have layouts of their own.
    reply = replies[rng.randrange(len(replies))]
    sent_first = (
        f'Gesendet: Dienstag, 04. März 2025 um 09:00 Uhr\nVon: "{sender}" <{sender_email}>\n'
        f"An: {email}\nBetreff: {SUBJECT[lang]}"
        if lang == "de"
        else f'Sent: Tuesday, March 04, 2025 at 9:00 AM\nFrom: "{sender}" <{sender_email}>\n'
        f"To: {email}\nSubject: {SUBJECT[lang]}"
    )
    add(
        "gmx",
        f"{reply}\n\n\n{sent_first}\n\n{original}\n",
        reply,
        "GMX / web.de: the header block starts with Sent:",
    )
    if lang == "fr":
        add(
            "orange",
            f'{reply}\n\n> Message du 04/03/25 09:00\n> De : "{sender}" <{sender_email}>\n'
            f"> A : {email}\n> Copie à :\n> Objet : {SUBJECT[lang]}\n>\n{quoted(original)}\n",
            reply,
            "Orange webmail: a quoted header block",
        )
    if lang == "it":
        for client in ("libero", "virgilio"):
            add(
                client,
                f"{reply}\n\n----Messaggio originale----\nDa: {sender_email}\n"
                f"Data: 4-mar-2025 9.00\nA: <{email}>\nOggetto: {SUBJECT[lang]}\n\n{original}\n",
                reply,
                "Libero / Virgilio webmail",
            )
    # Text glued to the attribution, and an answer right above it.
    short = replies[0]
    attribution = GMAIL[lang].format(name=sender, email=sender_email)
    add(
        "gmail-mobile",
        f"{short}\n{attribution}\n{quoted(original)}\n",
        short,
        "a phone app: the reply line directly above the attribution",
    )
    add(
        "gmail-glued",
        f"{short}{attribution}\n\n{quoted(original)}\n",
        short,
        "the reply glued to the attribution on one line",
    )
    # Interleaved answers keep the quote they answer.
    first, second = original.split("\n")[2], original.split("\n")[3]
    body = (
        f"{attribution}\n\n> {first}\n\n{replies[0]}\n\n> {second}\n\n{replies[0]}\n\n"
        f"{SIGNATURE.format(name=name)}\n"
    )
    add(
        "interleaved",
        body,
        f"> {first}\n\n{replies[0]}\n\n> {second}\n\n{replies[0]}",
        "answers between quoted lines (the quotes they answer stay)",
    )
    # A business signature with no "-- " line: name, title and company, phone, web address.
    business = f"{name}\nCustomer Operations | Example Corp\n+33 1 23 45 67 89\nwww.example.com"
    add(
        "business-signature",
        f"{replies[0]}\n\n{business}\n\n{'_' * 32}\n{unquoted}\n",
        replies[0],
        "Outlook, with a name, title, phone and web address as the signature",
    )
    # A bare attribution right above the quote.
    bare = BARE[lang].format(name=sender, email=sender_email)
    add(
        "bare-attribution",
        f"{replies[1]}\n\n{bare}\n{quoted(original)}\n",
        replies[1],
        "an attribution without a date (Mutt, Outlook Express, some webmails)",
    )
    # A disclaimer after the signature delimiter.
    add(
        "disclaimer",
        f"{replies[1]}\n\n-- \n{name}\n{DISCLAIMER}\n\n{gmail_wrapped(attribution)}\n"
        f"{quoted(original)}\n",
        replies[1],
        "a signature with a legal disclaimer",
    )
    return items


def html_items(lang: str) -> list[Item]:
    name, _email = CUSTOMER[lang]
    sender, sender_email = SENDER
    original = ORIGINAL[lang]
    direction = ' dir="rtl"' if lang == "ar" else ""

    def paragraphs(text: str) -> str:
        return "".join(
            f"<div>{html.escape(line) if line else '<br>'}</div>" for line in text.split("\n")
        )

    items = []
    for index, reply in enumerate(REPLIES[lang][:2]):
        gmail = html.escape(GMAIL[lang].format(name=sender, email=sender_email))
        layouts = {
            "gmail-html": (
                f'<div dir="ltr">{paragraphs(reply)}</div><br><div class="gmail_quote">'
                f'<div dir="ltr" class="gmail_attr">{gmail}<br></div><blockquote '
                f'class="gmail_quote" style="margin:0px 0px 0px 0.8ex">{paragraphs(original)}'
                "</blockquote></div>"
            ),
            "outlook-html": (
                f'<div class="WordSection1"><p class="MsoNormal">{html.escape(reply)}</p></div>'
                '<div id="divRplyFwdMsg" dir="ltr"><hr style="display:inline-block;width:98%">'
                f"<b>{OUTLOOK[lang][0]}:</b> {html.escape(sender)}<br><b>{OUTLOOK[lang][1]}:</b> "
                f"04/03/2025 09:00<br><b>{OUTLOOK[lang][2]}:</b> {html.escape(name)}<br>"
                f"<b>{OUTLOOK[lang][3]}:</b> {html.escape(SUBJECT[lang])}</div>"
                f"<div>{paragraphs(original)}</div>"
            ),
            "outlook-desktop-html": (
                f'<div class="WordSection1"><p class="MsoNormal">{html.escape(reply)}</p>'
                '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm">'
                f'<p class="MsoNormal"><b>{OUTLOOK[lang][0]}:</b> {html.escape(sender)} '
                f"&lt;{sender_email}&gt;<br><b>{OUTLOOK[lang][1]}:</b> 04/03/2025 09:00<br>"
                f"<b>{OUTLOOK[lang][2]}:</b> {html.escape(name)}<br><b>{OUTLOOK[lang][3]}:</b> "
                f"{html.escape(SUBJECT[lang])}</p></div>{paragraphs(original)}</div>"
            ),
            "apple-html": (
                f'<div{direction}>{paragraphs(reply)}<div><br><blockquote type="cite">'
                f"<div>{html.escape(APPLE[lang].format(name=sender, email=sender_email))}</div>"
                f"{paragraphs(original)}</blockquote></div></div>"
            ),
            "thunderbird-html": (
                f"<p>{html.escape(reply).replace(chr(10), '<br>')}</p>"
                f'<div class="moz-cite-prefix">{html.escape(THUNDERBIRD[lang].format(name=sender))}'
                f'<br></div><blockquote type="cite">{paragraphs(original)}</blockquote>'
            ),
            "yahoo-html": (
                f'<div class="ydp"{direction}>{paragraphs(reply)}</div><div id="yahoo_quoted_1" '
                f'class="yahoo_quoted"><div>{html.escape(YAHOO[lang].format(name=sender, email=sender_email))}'
                f"</div><div>{paragraphs(original)}</div></div>"
            ),
        }
        if index == 1:
            layouts = {
                k: v
                for k, v in layouts.items()
                if k in {"gmail-html", "outlook-html", "apple-html"}
            }
        for client, body in layouts.items():
            items.append(
                Item(
                    f"{client}_{lang}_{index}",
                    f"<html><body>{body}</body></html>",
                    reply,
                    "html",
                    lang,
                    client,
                    f"{client.removesuffix('-html')} HTML reply",
                )
            )
    return items


def build() -> list[Item]:
    rng = random.Random(16)
    items: list[Item] = []
    for lang in CUSTOMER:
        items += text_items(lang, rng)
        items += html_items(lang)
    return items


def main() -> None:
    items = build()
    for old in HERE.glob("*.txt"):
        old.unlink()
    for old in HERE.glob("*.html"):
        old.unlink()
    expected, meta = {}, {}
    for item in items:
        filename = f"{item.name}.{'html' if item.fmt == 'html' else 'txt'}"
        (HERE / filename).write_text(item.body, encoding="utf-8")
        expected[filename] = item.reply
        meta[filename] = {
            "source": "herald (make_corpus.py)",
            "client": item.client,
            "compare": "whitespace_insensitive" if item.fmt == "html" else "strip",
            "format": item.fmt,
            "lang": item.lang,
            "note": item.note,
        }
    dump = {"ensure_ascii": False, "indent": 1, "sort_keys": True}
    (HERE / "expected.json").write_text(json.dumps(expected, **dump) + "\n", encoding="utf-8")
    (HERE / "meta.json").write_text(json.dumps(meta, **dump) + "\n", encoding="utf-8")
    print(f"{len(items)} items written to {HERE}")


if __name__ == "__main__":
    main()
