"""Make an API key for one outside system: `manage.py api_client_create --name 用电信息采集系统 --system acquisition
--scope readings:write --scope meter_events:write`. The key is printed once; only its hash is kept."""
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from integrations.clients import api_client_create
from integrations.models import ApiClient
from integrations.scopes import SCOPES


class Command(BaseCommand):
    help = "Create an API client (one outside system) and print its key once."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--system", required=True, choices=ApiClient.System.values)
        parser.add_argument("--scope", action="append", default=[], choices=sorted(SCOPES), dest="scopes")
        parser.add_argument("--rate-limit", type=int, default=600, help="requests per minute")

    def handle(self, *args, name, system, scopes, rate_limit, **options):
        try:
            issued = api_client_create(name=name, system=system, scopes=scopes, rate_limit_per_minute=rate_limit)
        except DomainError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"client: {issued.client.name} ({issued.client.get_system_display()})")
        self.stdout.write(f"scopes: {', '.join(issued.client.scopes) or '-'}")
        self.stdout.write(f"key (shown once, keep it safe): {issued.key}")
