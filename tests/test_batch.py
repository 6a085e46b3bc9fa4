"""``generate_many`` over loopback: order, bounded concurrency, the ledger, resumes, 429s."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from magicgif_widget import (
    Client,
    CreateOutcomeUnknown,
    ImageProject,
    InsufficientCreditsError,
    JobFailedError,
    ValidationError,
)
from magicgif_widget.batching import BatchProgress
from magicgif_widget.jobstore.ledger import LEDGER_NAME, LOCK_NAME, LedgerError

PROMPTS = [f"a paper boat, number {i}" for i in range(6)]


def ledger(directory: Path) -> list[dict[str, Any]]:
    """The ledger's rows, read the way a user would (read-only)."""
    db = sqlite3.connect(f"file:{directory / LEDGER_NAME}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM items ORDER BY position")]
    finally:
        db.close()


def media(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".gif", ".mp4", ".webm"))


def stray(directory: Path) -> list[str]:
    """Files that should not be there: temporary downloads or anything unexpected."""
    allowed = {LEDGER_NAME, LOCK_NAME}
    return sorted(
        p.name
        for p in directory.iterdir()
        if p.name not in allowed and p.suffix not in (".gif", ".mp4", ".webm")
    )


def test_results_come_in_input_order_and_bad_items_send_nothing(server, client, tmp_path):
    items: list[Any] = [
        PROMPTS[0],
        "",
        {"prompt": PROMPTS[1], "output_format": "mp4", "name": "boat"},
        42,
        {"style": {"prompt": PROMPTS[2]}},
        {"prompt": "x", "colour": "red"},
        PROMPTS[0],  # a repeat is its own job
    ]
    results = client.v1.ai_gif_generator.generate_many(
        items, download_directory=tmp_path, concurrency=3, progress=False
    )
    assert [type(r).__name__ for r in results] == [
        "ImageProject",
        "ValidationError",
        "ImageProject",
        "ValidationError",
        "ImageProject",
        "ValidationError",
        "ImageProject",
    ]
    assert "items[1].style.prompt" in str(results[1])
    assert "colour" in str(results[5])
    assert results[2].name == "boat" and results[2].downloaded_paths[0].endswith(".mp4")
    assert results[0].id != results[6].id
    assert server.stats()["creates"] == 4
    assert len({p.name for p in media(tmp_path)}) == 4
    assert results.counts.complete == 4 and results.counts.failed == 3
    assert results.counts.credits == 200
    assert [r["state"] for r in ledger(tmp_path)] == ["complete"] * 4
    assert stray(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"concurrency": 0}, "concurrency: must be a whole number from 1 to 64"),
        ({"concurrency": 65}, "concurrency"),
        ({"concurrency": "4"}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"download_directory": None}, "download_directory: is required"),
        ({"items": "one prompt"}, "items: must be a list"),
        ({"items": []}, "items: is empty"),
        ({"output_format": "png"}, "output_format"),
        ({"retry_failed": "yes"}, "retry_failed: must be True or False"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_bad_batch_arguments_fail_before_any_request(server, client, tmp_path, kwargs, needle):
    args: dict[str, Any] = {"items": PROMPTS[:2], "download_directory": tmp_path, **kwargs}
    with pytest.raises(ValidationError, match=needle):
        client.v1.ai_gif_generator.generate_many(progress=False, **args)
    assert server.stats()["requests"] == {}


async def test_concurrency_is_bounded_and_the_bar_counts(server, aclient, tmp_path):
    events: list[BatchProgress] = []
    results = await aclient.v1.ai_gif_generator.generate_many(
        [f"kite {i}" for i in range(12)],
        download_directory=tmp_path,
        concurrency=3,
        progress=False,
        on_event=events.append,
    )
    assert all(isinstance(r, ImageProject) for r in results)
    assert max(e.counts.running for e in events) == 3
    assert events[-1].counts.finished == 12 and events[-1].counts.running == 0
    finished = [e.index for e in events if e.result is not None]
    assert sorted(finished) == list(range(12))
    assert server.stats()["creates"] == 12


def test_a_rerun_skips_complete_items_and_fetches_only_missing_files(server, client, tmp_path):
    gen = client.v1.ai_gif_generator
    first = gen.generate_many(PROMPTS, download_directory=tmp_path, progress=False)
    lost = Path(first[1].downloaded_paths[0])
    lost.unlink()
    changed = Path(first[2].downloaded_paths[0])
    changed.write_bytes(b"GIF89a not the real thing")
    before = server.stats()
    again = gen.generate_many(PROMPTS, download_directory=tmp_path, progress=False)
    after = server.stats()
    assert after["creates"] == before["creates"] == 6
    assert after["requests"]["poll"] - before["requests"]["poll"] == 2
    assert after["requests"]["download"] - before["requests"]["download"] == 2
    assert [r.id for r in again] == [r.id for r in first]
    assert again.counts.reused == 4 and again.counts.complete == 6
    assert lost.is_file()
    for path in media(tmp_path):
        if path != changed:  # the tampered file is left as found; the new copy sits beside it
            with Image.open(path) as im:
                assert im.is_animated
    assert len(media(tmp_path)) == 7


def test_failed_jobs_are_reported_and_recreated_only_on_request(server, client, tmp_path):
    gen = client.v1.ai_gif_generator
    server.fault(route="create", outcome="error")
    first = gen.generate_many(PROMPTS[:3], download_directory=tmp_path, progress=False)
    failed_index = next(i for i, r in enumerate(first) if isinstance(r, JobFailedError))
    failed_id = first[failed_index].project_id
    assert failed_id and first.counts.failed == 1
    row = ledger(tmp_path)[failed_index]
    assert row["state"] == "failed" and row["project_id"] == failed_id and row["credits"] == 0

    again = gen.generate_many(PROMPTS[:3], download_directory=tmp_path, progress=False)
    assert isinstance(again[failed_index], JobFailedError)
    assert again[failed_index].project_id == failed_id
    assert "retry_failed=True" in str(again[failed_index])
    assert server.stats()["creates"] == 3

    third = gen.generate_many(
        PROMPTS[:3], download_directory=tmp_path, progress=False, retry_failed=True
    )
    assert all(isinstance(r, ImageProject) for r in third)
    assert server.stats()["creates"] == 4
    row = ledger(tmp_path)[failed_index]
    assert row["state"] == "complete" and failed_id in row["earlier_ids"]


def test_a_lost_create_answer_is_unknown_and_never_silently_recreated(server, client, tmp_path):
    gen = client.v1.ai_gif_generator
    server.fault(route="create", kind="reset")  # the job is made, its answer is lost
    first = gen.generate_many(
        PROMPTS[:3], download_directory=tmp_path, concurrency=1, progress=False
    )
    assert isinstance(first[0], CreateOutcomeUnknown)
    assert first.counts.unknown == 1 and first.counts.complete == 2
    assert ledger(tmp_path)[0]["state"] == "unknown"
    assert server.stats()["creates"] == 3

    again = gen.generate_many(PROMPTS[:3], download_directory=tmp_path, progress=False)
    assert isinstance(again[0], CreateOutcomeUnknown)
    assert "retry_unknown=True" in str(again[0])
    assert server.stats()["creates"] == 3

    third = gen.generate_many(
        PROMPTS[:3], download_directory=tmp_path, progress=False, retry_unknown=True
    )
    assert isinstance(third[0], ImageProject)
    assert server.stats()["creates"] == 4


def test_a_refused_create_made_no_job_so_the_next_run_tries_again(server, client, tmp_path):
    gen = client.v1.ai_gif_generator
    server.fault(route="create", status=402)
    first = gen.generate_many(
        PROMPTS[:2], download_directory=tmp_path, concurrency=1, progress=False
    )
    assert isinstance(first[0], InsufficientCreditsError)
    assert ledger(tmp_path)[0]["state"] == "pending"
    again = gen.generate_many(PROMPTS[:2], download_directory=tmp_path, progress=False)
    assert all(isinstance(r, ImageProject) for r in again)
    assert server.stats()["creates"] == 2


def test_a_429_slows_the_whole_batch_and_costs_no_extra_create(server, client, tmp_path):
    server.fault(route="create", status=429, retry_after=1)
    results = client.v1.ai_gif_generator.generate_many(
        [f"lantern {i}" for i in range(6)],
        download_directory=tmp_path,
        concurrency=2,
        progress=False,
    )
    assert all(isinstance(r, ImageProject) for r in results)
    stats = server.stats()
    assert stats["creates"] == 6 and stats["requests"]["create"] == 7
    arrivals = sorted(server.emulator.store.arrivals["create"])
    refused = arrivals[0]  # the fault answers the first create to arrive
    # arrivals[1] is the other task's first create, sent with it at the start (a loaded
    # machine may deliver it late). That task's job finishes in ~0.4 s and its next create
    # would go out then; the shared limiter holds it (and every request) until the
    # Retry-After has passed.
    held = [t - refused for t in arrivals[2:] if t - refused < 0.95]
    assert held == []
    assert sum(1 for t in arrivals if t - refused >= 0.95) >= 2
    assert len(media(tmp_path)) == 6


def test_a_file_placed_before_the_ledger_heard_of_it_is_used_not_copied(server, client, tmp_path):
    """A kill between moving a download into place and recording it: the rerun adopts it."""
    gen = client.v1.ai_gif_generator
    first = gen.generate_many(PROMPTS[:3], download_directory=tmp_path, progress=False)
    placed = Path(first[1].downloaded_paths[0])
    edited = Path(first[2].downloaded_paths[0])
    db = sqlite3.connect(tmp_path / LEDGER_NAME)
    with db:  # what the ledger holds when the kill lands between the rename and the commit
        db.execute(
            "UPDATE items SET state='created', files='[]', project=NULL WHERE project_id=?",
            (first[1].id,),
        )
        db.execute("UPDATE items SET state='created' WHERE project_id=?", (first[2].id,))
    db.close()
    edited.write_bytes(b"GIF89a the user's own edit")
    before = server.stats()["requests"]
    again = gen.generate_many(PROMPTS[:3], download_directory=tmp_path, progress=False)
    after = server.stats()["requests"]
    assert server.stats()["creates"] == 3
    assert after["poll"] - before["poll"] == 2
    assert after["download"] - before["download"] == 1  # only the edited one, beside the edit
    assert again[1].downloaded_paths == [str(placed)]
    assert again[2].downloaded_paths != [str(edited)]
    assert edited.read_bytes() == b"GIF89a the user's own edit"
    assert len(media(tmp_path)) == 4
    assert [r["state"] for r in ledger(tmp_path)] == ["complete"] * 3


async def test_a_canceled_batch_resumes_by_polling_not_recreating(server, aclient, tmp_path):
    server.reset(render_seconds=1.0)
    created: list[str] = []

    def on_event(progress: BatchProgress) -> None:
        if progress.event is not None and progress.event.kind == "created":
            created.append(progress.event.project_id)

    gen = aclient.v1.ai_gif_generator
    items = [f"comet {i}" for i in range(10)]
    task = asyncio.ensure_future(
        gen.generate_many(
            items, download_directory=tmp_path, concurrency=4, progress=False, on_event=on_event
        )
    )
    while len(created) < 4:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rows = ledger(tmp_path)
    known = {r["project_id"] for r in rows if r["project_id"]}
    assert set(created) <= known
    assert not [r for r in rows if r["state"] == "creating"]
    creates_before = server.stats()["creates"]
    assert creates_before == len(known)

    results = await gen.generate_many(items, download_directory=tmp_path, progress=False)
    assert all(isinstance(r, ImageProject) for r in results)
    assert server.stats()["creates"] == 10
    assert set(created) <= {r.id for r in results}
    assert stray(tmp_path) == []


def test_the_ledger_belongs_to_one_server(server, client, tmp_path):
    client.v1.ai_gif_generator.generate_many(
        PROMPTS[:1], download_directory=tmp_path, progress=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sandbox = Client()
    with sandbox, pytest.raises(LedgerError, match="ran against http://127"):
        sandbox.v1.ai_gif_generator.generate_many(
            PROMPTS[:1], download_directory=tmp_path, progress=False
        )


def test_one_batch_at_a_time_per_directory(server, client, client_kwargs, tmp_path):
    server.reset(render_seconds=1.0)
    outcome: dict[str, Any] = {}

    def first() -> None:
        outcome["first"] = client.v1.ai_gif_generator.generate_many(
            PROMPTS[:2], download_directory=tmp_path, progress=False
        )

    thread = threading.Thread(target=first)
    thread.start()
    deadline = time.monotonic() + 5
    while not (tmp_path / LEDGER_NAME).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    with Client(**client_kwargs) as other, pytest.raises(LedgerError, match="another magicgif"):
        other.v1.ai_gif_generator.generate_many(
            PROMPTS[2:4], download_directory=tmp_path, progress=False
        )
    thread.join()
    assert len(outcome["first"].completed) == 2
    assert server.stats()["creates"] == 2


def test_sandbox_batch_says_sandbox_and_redoes_jobs_lost_with_the_process(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Client() as sandbox:
            first = sandbox.v1.ai_gif_generator.generate_many(
                PROMPTS[:2], download_directory=tmp_path, progress=False
            )
    assert "sandbox, no credits" in repr(first)
    # a job the ledger knows but the (new) sandbox does not: as after a kernel restart
    db = sqlite3.connect(tmp_path / LEDGER_NAME)
    db.execute("UPDATE items SET state='created', files='[]' WHERE position=0")
    db.commit()
    db.close()
    Path(first[0].downloaded_paths[0]).unlink()
    from magicgif_widget.emulator import sandbox as sandbox_module

    sandbox_module.sandbox_emulator().store.jobs.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Client() as again:
            second = again.v1.ai_gif_generator.generate_many(
                PROMPTS[:2], download_directory=tmp_path, progress=False
            )
    assert all(isinstance(r, ImageProject) for r in second)
    assert second[0].id != first[0].id and second[1].id == first[1].id
    assert ledger(tmp_path)[0]["earlier_ids"] == f'["{first[0].id}"]'


def test_a_damaged_ledger_is_a_clear_error_and_nothing_is_sent(server, client, tmp_path):
    (tmp_path / LEDGER_NAME).write_bytes(b"this is not a database, just bytes " * 40)
    with pytest.raises(LedgerError, match=r"cannot use the batch ledger .*not a database"):
        client.v1.ai_gif_generator.generate_many(
            PROMPTS[:2], download_directory=tmp_path, progress=False
        )
    assert server.stats()["requests"] == {}
    assert (tmp_path / LEDGER_NAME).read_bytes().startswith(b"this is not")  # left as found


def test_an_empty_balance_stops_sending_creates_for_the_rest(server, client, tmp_path):
    server.fault(route="create", status=402, times=None)
    results = client.v1.ai_gif_generator.generate_many(
        PROMPTS, download_directory=tmp_path, concurrency=1, progress=False
    )
    assert all(isinstance(r, InsufficientCreditsError) for r in results)
    assert "not sent: an earlier item failed" in str(results[3])
    assert server.stats()["requests"]["create"] == 1
    assert {r["state"] for r in ledger(tmp_path)} == {"pending"}  # safe to run again later
