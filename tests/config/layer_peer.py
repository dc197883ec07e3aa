"""The second process of tests/config/test_channel_layers.py, under the dev settings of the VAR_DIR it is given:

    python -m tests.config.layer_peer staff-console <user_id>   a staff alerts consumer joins staff.<user_id>, prints
                                                              "connected", then the first alert it gets, as JSON
    python -m tests.config.layer_peer fill <channel> <count>    sends <count> messages onto the channel, prints "sent"
"""
from __future__ import annotations

import asyncio
import json
import sys

import django

PEER_WAIT_SECONDS = 30


async def staff_console(user_id: int) -> None:
    from channels.testing import WebsocketCommunicator
    from django.contrib.auth import get_user_model

    from notifications.consumers import StaffAlertsConsumer

    consumer = StaffAlertsConsumer.as_asgi()
    # The consumer only reads the signed-in user from the scope, as AuthMiddlewareStack would have put it there.
    staff = get_user_model()(pk=user_id, username=f"peer{user_id}", is_staff=True)

    async def signed_in(scope, receive, send):
        return await consumer({**scope, "user": staff}, receive, send)

    communicator = WebsocketCommunicator(signed_in, "/ws/staff/alerts/")
    connected, _ = await communicator.connect()
    print("connected" if connected else "refused", flush=True)
    alert = await communicator.receive_json_from(timeout=PEER_WAIT_SECONDS)
    print(json.dumps(alert, ensure_ascii=False), flush=True)
    await communicator.disconnect()


async def fill(channel: str, count: int) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    for n in range(count):
        await layer.send(channel, {"type": "peer.message", "n": n})
    print("sent", flush=True)


def main(argv: list[str]) -> int:
    django.setup()
    command, *args = argv
    if command == "staff-console":
        asyncio.run(staff_console(int(args[0])))
    elif command == "fill":
        asyncio.run(fill(args[0], int(args[1])))
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
