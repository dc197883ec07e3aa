from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0012_topology_imports")]

    operations = []
