"""/api/v1/ endpoints: banks."""
from ninja import Router

router = Router(tags=["banks"])
