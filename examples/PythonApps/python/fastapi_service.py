"""A FastAPI service with a WebSocket endpoint: the ASGI app a team runs beside its WSGI apps, before porting routes
to C#. Served by GatewayBridge at /api/v2 (MapPythonAsgiApp), as uvicorn --root-path /api/v2 serves it."""
from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel


class Item(BaseModel):
    name: str
    price: float


ITEMS = {}


app = FastAPI(title="inventory")


@app.on_event("startup")
async def load_items():
    # ASGI's lifespan startup runs before the first request: the service's "database" is ready before anyone asks.
    ITEMS.update({1: Item(name="kettle", price=25.0)})


@app.get("/items/{item_id}")
async def read_item(item_id: int):
    if item_id not in ITEMS:
        raise HTTPException(status_code=404, detail="no such item")
    return {"id": item_id, **ITEMS[item_id].dict()}


@app.put("/items/{item_id}", status_code=201)
async def put_item(item_id: int, item: Item):
    ITEMS[item_id] = item
    return {"id": item_id, **item.dict()}


@app.get("/where")
async def where(request: Request):
    """Where the service thinks it is: its mount point, and its own URL for a route."""
    return {"root_path": request.scope["root_path"], "url": str(request.url_for("read_item", item_id=1))}


@app.websocket("/ws/prices")
async def prices(websocket: WebSocket):
    """Asked an item id, answers its price; "bye" closes with 1000."""
    await websocket.accept()
    try:
        while True:
            asked = await websocket.receive_text()
            if asked == "bye":
                await websocket.close(code=1000)
                return
            item = ITEMS.get(int(asked)) if asked.isdigit() else None
            await websocket.send_json({"id": asked, "price": item.price if item else None})
    except WebSocketDisconnect:
        pass
