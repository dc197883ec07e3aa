from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0010_tracking_attempts")]

    operations = []
