"""The listening socket the service makes itself: accepted connections must get TCP_NODELAY."""

import asyncio
import socket

from service.draining_server import listen


def test_accepted_connections_have_nodelay() -> None:
    """Without it uvicorn's h11 writes headers and body apart and each response waits ~40 ms for a delayed ACK."""

    async def go() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        sock = listen("127.0.0.1", 0)
        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        value = await asyncio.wait_for(accepted, 5)
        writer.close()
        server.close()
        await server.wait_closed()
        return value

    assert asyncio.run(go()) != 0
