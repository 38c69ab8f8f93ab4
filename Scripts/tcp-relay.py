"""A round-robin TCP relay on loopback, as a load balancer in front of several hub processes:
each new connection goes to the next backend port given on the command line; a backend that
refuses the connection (a stopped process) is skipped. Prints 'listening on 127.0.0.1:PORT'.

    python3 Scripts/tcp-relay.py PORT [PORT ...]
"""
import asyncio
import itertools
import sys

backends = [int(p) for p in sys.argv[1:]]
turn = itertools.count()


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def handle(client_reader, client_writer):
    start = next(turn)
    for i in range(len(backends)):
        port = backends[(start + i) % len(backends)]
        try:
            backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", port)
            break
        except OSError:
            continue
    else:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, backend_writer), pipe(backend_reader, client_writer))
    for w in (backend_writer, client_writer):
        try:
            w.close()
        except Exception:
            pass


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
