"""Where customers' and staff's uploaded documents live: a storage outside the web root, never served by URL;
files reach people only through views that check who is asking."""
import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages


class PrivateStorage(FileSystemStorage):
    """Files under settings.PRIVATE_MEDIA_ROOT (read when used, so tests can point it elsewhere); no URL."""

    @property
    def base_location(self):
        return self._value_or_setting(self._location, settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    @property
    def base_url(self):
        return None

    def url(self, name):
        raise ValueError("private files have no URL; serve them through a view that checks access")


def private_storage():
    return storages["private"]
