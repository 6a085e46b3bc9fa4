"""The generate workflow over real HTTP on loopback: results, events, polling, concurrency."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from PIL import Image

from magicgif_widget import (
    AsyncClient,
    Client,
    Completed,
    Created,
    DownloadProgress,
    ImageProject,
    StatusChanged,
)
from magicgif_widget.client.models import FINAL_STATUSES

from .conftest import PROMPT, Server, leftovers


def test_sync_generate_downloads_a_valid_gif(client: Client, server: Server, tmp_path: Path):
    events = []
    res = client.v1.ai_gif_generator.generate(
        style=PROMPT,
        name="Ai Gif gif",
        output_format="gif",
        download_directory=tmp_path,
        on_event=events.append,
    )
    assert isinstance(res, ImageProject)
    assert res.status == "complete" and res.enabled and res.type == "AI_GIF" == res.type_
    assert res.name == "Ai Gif gif" and res.credits_charged == 50 and res.image_count == 1
    assert res.error is None and len(res.downloads) == 1
    assert res.downloaded_paths == [str(tmp_path / f"{res.id}.gif")]
    with Image.open(res.downloaded_paths[0]) as im:
        assert im.format == "GIF" and im.is_animated and im.n_frames >= 8
    assert leftovers(tmp_path) == []
    kinds = [e.kind for e in events]
    assert kinds[0] == "created" and kinds[-1] == "completed"
    assert isinstance(events[0], Created) and events[0].project_id == res.id
    assert [e.status for e in events if isinstance(e, StatusChanged)][-1] == "complete"
    progress = [e for e in events if isinstance(e, DownloadProgress)]
    assert (
        progress[-1].received == progress[-1].total == Path(res.downloaded_paths[0]).stat().st_size
    )
    assert isinstance(events[-1], Completed) and events[-1].project.downloaded_paths


def test_polling_is_lean(client_kwargs, server: Server, tmp_path: Path):
    """No GET right after the create, none after the final status, one per interval."""
    from magicgif_widget import PollPolicy

    server.reset(render_seconds=1.0)
    events: list = []
    with Client(**{**client_kwargs, "poll": PollPolicy(interval=0.25)}) as client:
        res = client.v1.ai_gif_generator.generate(
            style=PROMPT, download_directory=tmp_path, on_event=events.append
        )
    assert res.status == "complete"
    # polls at 0.25, 0.5, 0.75 and 1.0 s after the create: the last one sees "complete"
    assert 3 <= server.requests("poll") <= 4
    first = next(e for e in events if isinstance(e, StatusChanged))
    assert first.elapsed >= 0.25  # no GET straight after the create
    final = next(e for e in events if isinstance(e, StatusChanged) and e.status == "complete")
    done = events[-1]
    assert isinstance(done, Completed)
    assert done.elapsed - final.elapsed < 0.2  # only the download after the final status


def test_each_wait_is_measured_from_the_previous_request_start(
    client_kwargs, server: Server, tmp_path: Path
):
    from magicgif_widget import PollPolicy

    server.reset(render_seconds=1.5)
    server.fault(route="poll", kind="delay", seconds=0.2, times=None)
    with Client(**{**client_kwargs, "poll": PollPolicy(interval=0.25)}) as client:
        client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
    assert server.stats()["faults_applied"] >= 3  # every GET took the 0.2 s delay
    # The emulator notes each GET as it arrives, before the delay: when it was sent.
    gaps = [b - a for a, b in itertools.pairwise(server.emulator.store.arrivals["poll"])]
    assert len(gaps) >= 3
    # Start to start 0.25 s although each GET takes 0.2 s; measured from each GET's end the
    # gaps would be 0.45 s. A loaded machine may start a GET late, never early.
    assert min(gaps) >= 0.24
    assert sorted(gaps)[len(gaps) // 2] < 0.35


async def test_twenty_concurrent_generates_give_twenty_distinct_files(
    aclient: AsyncClient, server: Server, tmp_path: Path
):
    gen = aclient.v1.ai_gif_generator
    results = await asyncio.gather(
        *(
            gen.generate(style={"prompt": f"cat number {i % 3}"}, download_directory=tmp_path)
            for i in range(20)
        )
    )
    paths = {p for r in results for p in r.downloaded_paths or []}
    assert len(paths) == 20 and len({r.id for r in results}) == 20
    for path in paths:
        with Image.open(path) as im:
            assert im.n_frames >= 8
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).name for p in paths)
    assert server.stats()["creates"] == 20 and server.stats()["downloads"] == 20


@pytest.mark.parametrize("fmt,media", [("mp4", "mp4"), ("webm", "webm")])
def test_video_formats(client: Client, tmp_path: Path, fmt: str, media: str):
    import av

    res = client.v1.ai_gif_generator.generate(
        style=PROMPT, output_format=fmt.upper(), download_directory=tmp_path
    )
    path = Path(res.downloaded_paths[0])
    assert path.suffix == f".{fmt}"
    with av.open(str(path)) as container:
        assert media in container.format.name
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 8


def test_wait_false_returns_after_one_get(client: Client, server: Server, tmp_path: Path):
    res = client.v1.ai_gif_generator.generate(
        style=PROMPT, wait_for_completion=False, download_directory=tmp_path / "never"
    )
    assert res.status in ("queued", "rendering") and res.downloaded_paths is None
    assert server.requests("poll") == 1
    assert not (tmp_path / "never").exists()


def test_download_false_does_not_download(client: Client, server: Server, tmp_path: Path):
    res = client.v1.ai_gif_generator.generate(
        style=PROMPT, download_outputs=False, download_directory=tmp_path
    )
    assert res.status == "complete" and res.downloaded_paths is None
    assert server.stats()["downloads"] == 0


def test_names_never_collide_nor_overwrite(client: Client, server: Server, tmp_path: Path):
    res = client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)
    first = Path(res.downloaded_paths[0])
    before = first.read_bytes()
    # A second download of the same project must not replace the first file.
    from magicgif_widget.client.download import place

    temp = tmp_path / ".x.part"
    temp.write_bytes(b"new")
    second = place(temp, tmp_path, res.id, "gif")
    assert second.name == f"{res.id}-2.gif" and first.read_bytes() == before
    assert not temp.exists()


def test_download_directory_is_created(client: Client, tmp_path: Path):
    target = tmp_path / "a" / "b" / "c"
    res = client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=str(target))
    assert Path(res.downloaded_paths[0]).parent == target


async def test_async_stream_yields_events_then_ends(aclient: AsyncClient, tmp_path: Path):
    seen = [
        e
        async for e in aclient.v1.ai_gif_generator.stream(style=PROMPT, download_directory=tmp_path)
    ]
    assert seen[0].kind == "created" and seen[-1].kind == "completed"
    assert {e.status for e in seen if isinstance(e, StatusChanged)} <= {
        "queued",
        "rendering",
        "complete",
    }


def test_sync_stream(client: Client, tmp_path: Path):
    kinds = [
        e.kind for e in client.v1.ai_gif_generator.stream(style=PROMPT, download_directory=tmp_path)
    ]
    assert kinds[0] == "created" and kinds[-1] == "completed" and "status" in kinds


def test_callback_errors_do_not_lose_the_job(client: Client, tmp_path: Path, caplog):
    def broken(event):
        raise RuntimeError("oops")

    res = client.v1.ai_gif_generator.generate(
        style=PROMPT, download_directory=tmp_path, on_event=broken
    )
    assert res.status == "complete"


def test_sync_client_works_inside_a_running_event_loop(client_kwargs, tmp_path: Path):
    """What a notebook cell does: a loop already runs in this thread."""

    async def cell() -> ImageProject:
        with Client(**client_kwargs) as client:
            return client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path)

    res = asyncio.run(cell())
    assert res.status == "complete" and Path(res.downloaded_paths[0]).is_file()


def test_create_get_delete(client: Client, server: Server):
    created = client.v1.ai_gif_generator.create(style=PROMPT, name="x", output_format="webm")
    assert created.id and created.credits_charged == 50
    project = client.v1.image_projects.get(id=created.id)
    assert project.id == created.id and project.status not in FINAL_STATUSES
    assert client.v1.image_projects.delete(id=created.id) is None
    assert client.v1.image_projects.get(id=created.id).enabled is False
    assert server.stats()["deletes"] == 1


def test_account_credits_track_jobs(client: Client):
    before = client.v1.account.get().credits
    client.v1.ai_gif_generator.create(style=PROMPT)
    assert client.v1.account.get().credits == before - 50


def test_upload_file_streams_to_the_signed_url(client: Client, server: Server, tmp_path: Path):
    source = tmp_path / "face.png"
    Image.new("RGB", (64, 64), "orange").save(source)
    file_path = client.v1.files.upload_file(source)
    assert file_path.startswith("api-assets/") and file_path.endswith(".png")
    assert server.emulator.store.uploads[file_path] == source.read_bytes()
    with source.open("rb") as handle:
        assert client.v1.files.upload_file(handle).endswith(".png")
    assert server.stats()["uploads"] == 2
    urls = client.v1.files.upload_urls.create(
        items=[{"extension": "mp4", "type_": "video"}, {"extension": "mp3", "type": "audio"}]
    )
    assert [u.file_path.rsplit(".", 1)[1] for u in urls.items] == ["mp4", "mp3"]
    assert client.v1.files.upload_file("https://example.com/x.png") == "https://example.com/x.png"


async def test_cancel_while_polling_stops_at_once(aclient: AsyncClient, server: Server, tmp_path):
    server.reset(render_seconds=30)
    events: list = []
    task = asyncio.ensure_future(
        aclient.v1.ai_gif_generator.generate(
            style=PROMPT, download_directory=tmp_path, on_event=events.append
        )
    )
    while not events:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1.0)
    assert isinstance(events[0], Created) and server.stats()["creates"] == 1
    assert list(tmp_path.iterdir()) == []


async def test_cancel_during_the_create_still_learns_the_id(aclient, server: Server, tmp_path):
    server.fault(route="create", kind="delay", seconds=0.5)
    events: list = []
    task = asyncio.ensure_future(
        aclient.v1.ai_gif_generator.generate(
            style=PROMPT, download_directory=tmp_path, on_event=events.append
        )
    )
    await asyncio.sleep(0.1)  # the create is in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    created = [e for e in events if isinstance(e, Created)]
    assert len(created) == 1 and created[0].project_id in server.emulator.store.jobs
