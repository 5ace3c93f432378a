#!/usr/bin/python3
"""A WebSocket echo origin for the proxy tests (Debian's python3-websockets).

    ws_echo.py PORT

Listens on 127.0.0.1:PORT, prints "ready" once it does, and sends every message
back until it is killed. The tests own it by PID.
"""
import asyncio
import sys

import websockets


async def echo(websocket, path=None):
    async for message in websocket:
        await websocket.send(message)


async def main(port):
    async with websockets.serve(echo, "127.0.0.1", port):
        print("ready", flush=True)
        await asyncio.Future()


asyncio.run(main(int(sys.argv[1])))
