from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0013_bank_batches")]

    operations = []
