"""The inbox search's vocabulary (``SearchTerm``, what a search word expands to) filled from the
conversations' words, which are folded as ``search.index_text`` now writes them (accents off,
"_" a separator) after their mailbox's word (``search.mailbox_word``); and an index on ``created_at`` for searches with an end date."""

from django.db import migrations, models

BATCH = 2000


def fold_and_remember(apps, schema_editor):
    from herald.conversations.search import mailbox_word, words_of

    conversation = apps.get_model("conversations", "Conversation")
    term = apps.get_model("conversations", "SearchTerm")
    rows = conversation.objects.order_by("id").only("id", "mailbox_id", "search_text")
    last = 0
    while batch := list(rows.filter(id__gt=last)[:BATCH]):
        known: set[str] = set()
        for row in batch:
            words = words_of(row.search_text)
            known.update(words)
            folded = " ".join([mailbox_word(row.mailbox_id), *words])
            if folded != row.search_text:
                conversation.objects.filter(id=row.id).update(search_text=folded)
        term.objects.bulk_create(
            [term(term=w) for w in sorted(known)], ignore_conflicts=True, batch_size=500
        )
        last = batch[-1].id


class Migration(migrations.Migration):
    dependencies = [("conversations", "0003_search_index")]

    operations = [
        migrations.CreateModel(
            name="SearchTerm",
            fields=[
                ("term", models.CharField(max_length=64, primary_key=True, serialize=False)),
            ],
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(fields=["created_at"], name="conversation_created"),
        ),
        migrations.RunPython(fold_and_remember, migrations.RunPython.noop),
    ]
