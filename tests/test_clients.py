"""``Client``'s life cycle: closing (idempotent, typed errors after it, a close that cuts off a
call in another thread) and a client used without a name staying open for its call."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from magicgif_widget import Client, ClientClosedError

from .conftest import FAST_POLL, FAST_RETRY, PROMPT, Server


def test_calls_after_close_raise_a_typed_error(client_kwargs, server: Server):
    client = Client(**client_kwargs)
    client.close()
    client.close()  # idempotent
    with pytest.raises(ClientClosedError):
        client.v1.ai_gif_generator.create(style=PROMPT)
    assert server.stats()["requests"] == {}


def close_during_generate(client: Client, tmp_path, started) -> BaseException:
    """Run ``generate`` in another thread, close the client once ``started()``; its error."""
    caught: list[BaseException] = []

    def worker() -> None:
        try:
            client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    while not started():
        time.sleep(0.01)
    client.close()
    thread.join(5)
    assert not thread.is_alive()
    return caught[0]


def test_close_while_another_thread_waits_keeps_the_project_id(client_kwargs, server, tmp_path):
    server.reset(render_seconds=30)
    client = Client(**client_kwargs)
    error = close_during_generate(client, tmp_path, lambda: server.stats()["creates"] > 0)
    assert isinstance(error, ClientClosedError)
    assert error.project_id in server.emulator.store.jobs


def test_a_client_used_without_a_name_stays_open_for_the_call(server: Server, tmp_path):
    """``Client(...).v1.…generate(...)``: the temporary client must not close mid-call."""
    gen = Client(base_url=server.url, poll=FAST_POLL, retry=FAST_RETRY).v1.ai_gif_generator
    gc.collect()
    res = gen.generate(style=PROMPT, download_directory=tmp_path)
    assert res.status == "complete"
    many = Client(base_url=server.url, poll=FAST_POLL).v1.ai_gif_generator.generate_many(
        ["a", "b"], download_directory=tmp_path / "b", progress=False
    )
    assert len(many.completed) == 2


def test_close_during_a_create_s_round_trip_waits_for_its_id(client_kwargs, server, tmp_path):
    """A close while a create's answer is on its way lets the workflow's grace learn the id:
    the error names the job that was paid for (the create's own task is not cut off)."""
    server.reset(render_seconds=30)
    server.fault(route="create", kind="delay", seconds=0.8)
    client = Client(**client_kwargs)
    # The create is held by the delay when the close comes.
    error = close_during_generate(client, tmp_path, lambda: server.stats()["faults_applied"] > 0)
    assert isinstance(error, ClientClosedError)
    assert error.project_id in server.emulator.store.jobs
    assert server.requests("create") == 1
