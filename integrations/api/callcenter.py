"""/api/v1/ endpoints: callcenter."""
from ninja import Router

router = Router(tags=["callcenter"])
