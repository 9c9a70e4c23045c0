"""A small FastAPI app for the interface probe."""
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def root():
    return {"hello": "world"}
