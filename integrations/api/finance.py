"""/api/v1/ endpoints: finance."""
from ninja import Router

router = Router(tags=["finance"])
