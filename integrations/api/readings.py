"""/api/v1/ endpoints: readings."""
from ninja import Router

router = Router(tags=["readings"])
