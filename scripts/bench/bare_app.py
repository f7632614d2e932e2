"""A bare FastAPI app: the yardstick for what one route costs on this server stack."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
