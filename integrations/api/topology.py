"""/api/v1/ endpoints: topology."""
from ninja import Router

router = Router(tags=["topology"])
