"""Live staff alerts: a signed-in staff member's open pages join staff.<user_id> and receive alerts as JSON."""
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from notifications.transports import staff_group_name


class StaffAlertsConsumer(AsyncJsonWebsocketConsumer):
    """ws/staff/alerts/: staff only, authorised before accept(); customers and anonymous visitors are refused."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close(code=4403)
            return
        self.group_name = staff_group_name(user.pk)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        group_name = getattr(self, "group_name", None)
        if group_name:
            await self.channel_layer.group_discard(group_name, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """Alerts flow one way; anything a browser sends is ignored."""

    async def notifications_alert(self, event):
        await self.send_json(
            {
                "type": "alert",
                "message_id": event["message_id"],
                "event": event["event"],
                "subject": event["subject"],
                "body": event["body"],
            }
        )
