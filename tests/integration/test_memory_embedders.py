"""A litellm embedding model by configuration (MEMORY_EMBED_MODEL), through the real litellm client
against an OpenAI-compatible /v1/embeddings server started here on loopback; the collection then
remembers that model and refuses the offline one."""

from __future__ import annotations

import asyncio

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from services.memory.embedders import LiteLLMEmbedder, make_embedder
from services.memory.settings import MemorySettings
from services.memory.store import MemoryStore

DIMS = 8


class FakeEmbeddings:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(body)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for i, text in enumerate(texts):
            vector = np.zeros(DIMS)
            for word in text.lower().split():  # a bag of words hashed into 8 buckets, unnormalised
                vector[sum(map(ord, word)) % DIMS] += 3.0
            data.append({"object": "embedding", "index": i, "embedding": vector.tolist()})
        return web.json_response({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 5 * len(texts), "total_tokens": 5 * len(texts)}})


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeEmbeddings, str]]:
    fake = FakeEmbeddings()
    app = web.Application()
    app.router.add_post("/v1/embeddings", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
    yield fake, f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


async def test_a_configured_litellm_model_embeds_through_an_openai_compatible_server(server: tuple[FakeEmbeddings, str], tmp_path: Path) -> None:
    fake, base = server
    settings = MemorySettings(qdrant_path=tmp_path / "q", qdrant_url=None, memory_embed_model="openai/test-embed", memory_embed_api_base=base, memory_embed_api_key="sk-test-not-real")
    embedder = make_embedder(settings)
    assert isinstance(embedder, LiteLLMEmbedder)
    await asyncio.to_thread(embedder.load)  # as the service loads it: off the event loop
    assert embedder.dimensions == DIMS and fake.calls[0]["model"] == "test-embed"
    result = await embedder.embed(["vpn certificate expired", "printer jam"])
    assert result.vectors.shape == (2, DIMS)
    assert np.allclose(np.linalg.norm(result.vectors, axis=1), 1.0), "vectors are normalised for cosine"
    assert sum(result.tokens) == 10, "the provider's token count is the bill"
    assert fake.calls[-1]["input"] == ["vpn certificate expired", "printer jam"]

    store = MemoryStore(settings)
    await store.open(dimensions=embedder.dimensions, model=embedder.model)
    await store.close()
    offline = MemoryStore(settings)
    with pytest.raises(RuntimeError, match="holds 8-dimensional vectors; the configured embedding model makes 384"):
        await offline.open(dimensions=384, model="all-MiniLM-L6-v2")
    await offline.close()
    same_size_other_model = MemoryStore(settings)
    with pytest.raises(RuntimeError, match="was built with embedding model 'openai/test-embed'"):
        await same_size_other_model.open(dimensions=DIMS, model="openai/other-embed")
    await same_size_other_model.close()


async def test_an_unreachable_embedding_server_fails_at_start_with_the_error(tmp_path: Path) -> None:
    embedder = LiteLLMEmbedder("openai/test-embed", api_base="http://127.0.0.1:9/v1", api_key="sk-test", timeout_s=2)
    with pytest.raises(Exception, match="(?i)connect|connection"):
        embedder.load()
