"""The WebSocket peer the tests pair socketry with: Python's websockets (Debian's
python3-websockets), as a server or a client, one mode per behaviour under test.

Server: peer.py serve MODE [--protocol P] [--path PATH] [--certificate PEM]
  prints "PORT n", then for its one connection what it saw, a line each:
  "PATH /x", "HEADER Name: value" (X- headers only), "PROTOCOL p", "TEXT <bytes as repr>",
  "BINARY <length> <first 16 bytes as hex>", "CLOSED <code> <reason>".
Client: peer.py connect URL MODE [ARGUMENT] [--protocol P] [--header N:V] [--certificate PEM]
  prints the answer's X- headers and subprotocol, and what it received, the same way;
  "REFUSED <status>" if the server refused the opening request.
"""

import asyncio
import hashlib
import ssl
import sys

import websockets


def say(*words):
    print(*words, flush=True)


def report(message):
    if isinstance(message, str):
        say("TEXT", repr(message.encode()))
    else:
        say("BINARY", len(message), hashlib.sha256(message).hexdigest()[:16])


async def converse(ws, mode, argument):
    if mode == "echo":
        async for message in ws:
            report(message)
            await ws.send(message)
    elif mode == "echo-upto":
        # Echoes until `argument` bytes came, then closes normally: a WebSocket has no
        # half-close, so the side that is done sending cannot wait for the echoes itself.
        left = int(argument)
        async for message in ws:
            report(message)
            await ws.send(message)
            left -= len(message)
            if left <= 0:
                await ws.close(1000)
    elif mode == "send":
        # Sends the argument as one binary message, then closes normally.
        await ws.send(argument.encode())
        await ws.close(1000)
    elif mode == "big":
        # One binary message of `argument` bytes (a counting pattern), then a normal close.
        size = int(argument)
        await ws.send(bytes(i % 251 for i in range(size)))
        await ws.close(1000)
    elif mode == "close":
        # Closes at once with code and reason "CODE:REASON".
        code, reason = argument.split(":", 1)
        await ws.close(int(code), reason)
    elif mode == "ping":
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        say("PONG")
        await ws.send(b"after the ping\n")
        await ws.close(1000)
    elif mode == "receive":
        # Reports what comes until the peer closes.
        async for message in ws:
            report(message)
    elif mode == "sendtext":
        await ws.send(argument)
        async for message in ws:
            report(message)
    elif mode == "sendbinary":
        await ws.send(argument.encode())
        async for message in ws:
            report(message)
    elif mode == "sendbig":
        size = int(argument)
        await ws.send(bytes(i % 251 for i in range(size)))
        async for message in ws:
            report(message)
    else:
        raise SystemExit("unknown mode " + mode)
    await ws.wait_closed()
    say("CLOSED", ws.close_code, ws.close_reason)


async def serve(mode, argument, protocol, path, certificate):
    done = asyncio.get_running_loop().create_future()

    async def handler(ws, request_path):
        say("PATH", request_path)
        for name, value in ws.request_headers.raw_items():
            if name.lower().startswith("x-"):
                say("HEADER", name + ":", value)
        if ws.subprotocol:
            say("PROTOCOL", ws.subprotocol)
        try:
            await converse(ws, mode, argument)
        finally:
            if not done.done():
                done.set_result(None)

    async def only_path(request_path, headers):
        if path is not None and request_path != path:
            from http import HTTPStatus
            return HTTPStatus.NOT_FOUND, [], b"not here\n"
        return None

    context = None
    if certificate:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate)
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        subprotocols=[protocol] if protocol else None,
        process_request=only_path,
        ssl=context,
        max_size=None,
    ) as server:
        say("PORT", server.sockets[0].getsockname()[1])
        await done


async def connect(url, mode, argument, protocol, headers, certificate):
    context = None
    if certificate:
        context = ssl.create_default_context(cafile=certificate)
    async with websockets.connect(
        url,
        subprotocols=[protocol] if protocol else None,
        extra_headers=headers,
        max_size=None,
        ssl=context,
    ) as ws:
        for name, value in ws.response_headers.raw_items():
            if name.lower().startswith("x-"):
                say("HEADER", name + ":", value)
        if ws.subprotocol:
            say("PROTOCOL", ws.subprotocol)
        await converse(ws, mode, argument)


def main():
    args = sys.argv[1:]
    options = {}
    while len(args) >= 2 and args[-2].startswith("--"):
        options[args[-2]] = args[-1]
        args = args[:-2]
    protocol = options.get("--protocol")
    try:
        if args[0] == "serve":
            mode = args[1]
            argument = args[2] if len(args) > 2 else ""
            asyncio.run(serve(mode, argument, protocol, options.get("--path"), options.get("--certificate")))
        else:
            url, mode = args[1], args[2]
            argument = args[3] if len(args) > 3 else ""
            headers = {}
            if "--header" in options:
                name, value = options["--header"].split(":", 1)
                headers[name] = value
            asyncio.run(connect(url, mode, argument, protocol, headers, options.get("--certificate")))
    except websockets.exceptions.InvalidStatusCode as e:
        say("REFUSED", e.status_code)
    except websockets.exceptions.ConnectionClosed as e:
        say("CLOSED", e.rcvd.code if e.rcvd else None, e.rcvd.reason if e.rcvd else "")


main()
