#!/usr/bin/env python3
"""A real SMTP server for the tests and the demo (aiosmtpd): every message it receives is
written to DIR as NNNN.eml (the bytes as received, envelope recipients in X-Envelope-To).
Binds 127.0.0.1 on PORT (0: a free one) and prints 'listening on 127.0.0.1:PORT'.

    python smtp-sink.py DIR [PORT]
"""
import asyncio
import os
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.folder, "%04d.eml" % self.count)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        head = ("X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n" % (envelope.mail_from, ", ".join(envelope.rcpt_tos))).encode()
        with open(path + ".part", "wb") as f:
            f.write(head + data)
        os.rename(path + ".part", path)
        return "250 Message accepted for delivery"


async def main():
    folder = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    os.makedirs(folder, exist_ok=True)
    handler = Sink(folder)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="sink.local"), "127.0.0.1", port)
    print("listening on 127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
