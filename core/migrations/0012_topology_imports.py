from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0011_meter_events")]

    operations = []
