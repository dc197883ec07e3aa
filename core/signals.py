"""Events core emits for the other apps to subscribe to; core imports none of them."""
from django.dispatch import Signal

# Sent by seed_demo once the demo data is in place, so other apps can add their own demo content (e.g. the CMS site).
demo_data_seeded = Signal()
