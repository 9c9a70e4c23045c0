"""The ASGI apps python-load.sh serves through GatewayBridge and uvicorn alike."""
import asyncio
import hashlib

from fastapi import FastAPI


async def hello(scope, receive, send):
    """A bare ASGI hello: what the server itself costs."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]})
    await send({"type": "http.response.body", "body": b"Hello, World!"})


fastapi_app = FastAPI()


@fastapi_app.get("/")
async def fastapi_hello():
    return {"message": "Hello, World!"}


@fastapi_app.get("/poll")
async def fastapi_poll():
    """A long poll: held 10 s (or until the client goes)."""
    await asyncio.sleep(10)
    return {"message": "nothing new"}


async def busy(scope, receive, send):
    """CPU-bound Python on the loop (about 5 ms of hashing per request)."""
    if scope["type"] != "http":
        return
    digest = b""
    for _ in range(2000):
        digest = hashlib.sha256(digest + b"x" * 64).digest()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": digest.hex().encode()})
