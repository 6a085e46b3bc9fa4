"""Never pay twice from the widget: a gallery canceled once its jobs exist, in a real kernel
that is then killed, is offered by a new kernel's widget as one card, and Collect gives every
file with no new create; the cancel notices' commands, run as printed, create nothing; a
gallery the balance or a limit cannot pay sends nothing; a large gallery asks first.

Real parts: IPython kernels (jupyter_client), the emulator over HTTP on loopback, a journal
of the test's own, the ``magicgif`` command in a subprocess.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from magicgif_widget import Client, GifWidget
from magicgif_widget.jobstore.journal import Journal

from .conftest import FAST_POLL, Server
from .test_kernel import execute
from .test_money_cli import run_advice
from .test_widget_resume import kernels, new_kernel, wait_for

pytestmark = pytest.mark.timeout(180)
__all__ = ["kernels"]  # the fixture, imported for these tests


@pytest.fixture(autouse=True)
def journal_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "data"
    monkeypatch.setenv("MAGICGIF_DATA_DIR", str(where))  # this process's and the kernels'
    monkeypatch.delenv("MAGICGIF_SPEND_LIMIT", raising=False)
    return where


def made(server: Server) -> int:
    return server.requests("create")


def gallery_ids() -> list[str]:
    with Journal.open() as journal:
        return [e.project_id for e in journal.entries() if e.project_id and e.batch]


def gallery_widget(server: Server, tmp_path: Path, prompt: str, **kwargs: Any) -> GifWidget:
    return GifWidget(
        client=Client(base_url=server.url, poll=FAST_POLL),
        download_directory=tmp_path,
        gallery_mode=True,
        prompt=prompt,
        **kwargs,
    )


async def cancel_once_journaled(w: GifWidget, server: Server, ids: int) -> None:
    """Start ``w``'s gallery and cancel it once ``ids`` of its jobs are journaled."""
    w.generate()
    for _ in range(200):
        if len(gallery_ids()) == ids:
            break
        await asyncio.sleep(0.05)
    assert len(gallery_ids()) == ids
    w.cancel()
    await asyncio.sleep(0.1)


def test_a_canceled_gallery_survives_its_kernel_and_is_collected_whole(
    server: Server, tmp_path: Path, kernels: Any
):
    server.reset(render_seconds=5)
    out = tmp_path / "out"
    manager, first = new_kernel(kernels)
    stdout, errors = execute(
        first,
        f"""
from magicgif_widget import Client, GifWidget
w = GifWidget(client=Client(base_url={server.url!r}), download_directory={str(out)!r},
              gallery_mode=True, prompt="a red kite\\na blue boat\\na green hill")
task = w.generate()
print("started", w.status, len(w.gallery))
""",
    )
    assert errors == [] and "started creating 3" in stdout
    wait_for(lambda: made(server) == 3 and len(gallery_ids()) == 3, what="3 journaled creates")
    stdout, errors = execute(
        first,
        """
import asyncio
w.cancel()
for _ in range(100):
    if w.earlier_jobs:
        break
    await asyncio.sleep(0.05)
print("NOTICE", w.notice)
print("CARDS", [(c["kind"], c["count"], c["never_sent"]) for c in w.earlier_jobs])
""",
    )
    assert errors == [], stdout
    notice = stdout.split("NOTICE ")[1].splitlines()[0]
    assert "3 job(s) already made keep running at Magic Hour and are paid for" in notice
    assert "CARDS [('gallery', 3, 0)]" in stdout  # offered back at once, in the same widget
    (command,) = re.findall(r"magicgif batch --resume \S+ --collect-only", notice)
    pid = manager.provisioner.pid
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not manager.is_alive(), what="the kernel to die")

    _, second = new_kernel(kernels)
    stdout, errors = execute(
        second,
        f"""
import asyncio
from magicgif_widget import Client, GifWidget
w = GifWidget(client=Client(base_url={server.url!r}), download_directory={str(out)!r})
for _ in range(200):
    if w.earlier_jobs:
        break
    await asyncio.sleep(0.05)
(card,) = w.earlier_jobs
print("CARD", card["kind"], card["count"], card["prompt"])
results = await w.collect(card["id"])
print("RESULT", w.status, len(results.paths), [c["status"] for c in w.gallery], w.earlier_jobs)
""",
    )
    assert errors == [], stdout
    assert "CARD gallery 3 Gallery of 3: a red kite" in stdout
    assert "RESULT complete 3 ['complete', 'complete', 'complete'] []" in stdout
    folders = list(out.glob("gallery-*"))
    assert len(folders) == 1 and len(list(folders[0].glob("*.gif"))) == 3
    assert made(server) == 3  # three creates in all
    # the notice's command, run as printed after the collect: nothing left, nothing created
    done = run_advice(command)
    assert done.returncode == 0, done.stderr
    assert "3 of 3 complete (3 from earlier runs)" in done.stderr and made(server) == 3


async def test_the_gallery_notice_command_collects_a_canceled_gallery(
    server: Server, tmp_path: Path
):
    server.reset(render_seconds=3)
    w = gallery_widget(server, tmp_path, "one\ntwo")
    try:
        await cancel_once_journaled(w, server, 2)
        (command,) = re.findall(r"magicgif batch --resume \S+ --collect-only", w.notice)
    finally:
        w.close()
    done = await asyncio.to_thread(run_advice, command)
    assert done.returncode == 0, done.stderr
    folder = Path(command.split("--resume ")[1].split()[0])
    assert len(list(folder.glob("*.gif"))) == 2 and made(server) == 2


async def test_the_single_job_notice_command_collects_it(server: Server, tmp_path: Path):
    server.reset(render_seconds=3)
    w = GifWidget(client=Client(base_url=server.url, poll=FAST_POLL), download_directory=tmp_path)
    try:
        w.prompt = "a single kite"
        w.generate()
        for _ in range(200):
            if w.project_id:
                break
            await asyncio.sleep(0.05)
        w.cancel()
        (command,) = re.findall(r"magicgif resume \S+", w.notice)
    finally:
        w.close()
    assert command == f"magicgif resume {w.project_id}"
    done = await asyncio.to_thread(run_advice, command)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).read_bytes()[:6] == b"GIF89a" and made(server) == 1


async def test_resume_gallery_asks_before_creating_what_was_never_sent(
    server: Server, tmp_path: Path
):
    server.reset(render_seconds=3)
    # one create at a time: a cancel leaves two never sent
    w = gallery_widget(server, tmp_path, "a\nb\nc", gallery_concurrency=1)
    try:
        await cancel_once_journaled(w, server, 1)
        for _ in range(100):
            if w.earlier_jobs:
                break
            await asyncio.sleep(0.05)
        (card,) = w.earlier_jobs
        assert (card["count"], card["never_sent"]) == (1, 2)
        assert "2 never sent" in w.notice
        server.emulator.store.render_seconds = 0.3  # quicker new jobs; the first one is kept
        assert w.resume_gallery(card["id"]) is None  # it asks first
        assert (
            w.confirm["kind"] == "resume"
            and "create the 2 never sent for 100" in (w.confirm["text"])
        )
        assert made(server) == 1
        results = await w.resume_gallery(card["id"], confirmed=True)
        assert results.counts.complete == 3 and made(server) == 3
        assert w.confirm == {}
    finally:
        w.close()


async def test_a_gallery_the_balance_cannot_pay_sends_nothing(server: Server, tmp_path: Path):
    server.emulator.store.initial_credits = 120
    w = gallery_widget(server, tmp_path, "a\nb\nc")
    try:
        await w.refresh()
        with pytest.raises(Exception, match=r"Not enough credits: 120 left|the account has 120"):
            await w.generate()
        assert "120" in w.error
        assert made(server) == 0
        server.emulator.store.initial_credits = 1_000_000
    finally:
        w.close()


async def test_a_widget_over_its_spend_limit_sends_nothing(server: Server, tmp_path: Path):
    w = GifWidget(
        client=Client(base_url=server.url, poll=FAST_POLL),
        download_directory=tmp_path,
        spend_limit=60,  # one GIF
        prompt="the first",
    )
    try:
        await w.generate()
        assert made(server) == 1
        w.prompt = "the second"
        with pytest.raises(Exception, match="spend limit is 60 credits per day"):
            await w.generate()
        assert "of which 50 were spent" in w.error and "the account has" in w.error
        assert made(server) == 1
        w.gallery_mode, w.prompt = True, "x\ny"
        with pytest.raises(Exception, match="spend limit"):
            await w.generate()
        assert made(server) == 1
    finally:
        w.close()


async def test_a_large_gallery_asks_first_and_sends_nothing_until_told(
    server: Server, tmp_path: Path
):
    w = gallery_widget(server, tmp_path, "\n".join(f"line {i}" for i in range(6)))
    try:
        await w.refresh()
        assert await w.generate() is None
        assert w.confirm["kind"] == "cost"
        assert w.confirm["text"].startswith("This gallery makes 6 GIFs for 300 credits")
        assert made(server) == 0 and not w.running
        results = await w.generate(confirmed=True)
        assert results.counts.complete == 6 and made(server) == 6
    finally:
        w.close()


def test_a_bad_spend_limit_is_refused_with_its_field():
    from magicgif_widget.client.errors import ValidationError

    with pytest.raises(ValidationError, match="spend_limit: must be credits"):
        GifWidget(spend_limit="lots")
    with pytest.raises(ValidationError, match="window must be one of hour, day, week, month"):
        GifWidget(spend_limit="5/fortnight")


async def test_generating_a_canceled_gallery_again_asks_and_offers_to_collect_it(
    server: Server, tmp_path: Path
):
    server.reset(render_seconds=2)
    w = gallery_widget(server, tmp_path, "a kite\na boat")
    try:
        await cancel_once_journaled(w, server, 2)
        assert await w.generate() is None  # the same lines again: it asks, sends nothing
        question = w.confirm
        assert question["kind"] == "duplicate" and question["no"] == "Collect that one"
        assert "already has 2 job(s) at Magic Hour" in question["text"]
        assert made(server) == 2 and not w.running
        w._on_front_end_msg(w, {"type": "collect", "id": question["id"]}, [])  # the safe answer
        results = await w._jobs.current()
        assert results.counts.complete == 2 and made(server) == 2 and w.confirm == {}
    finally:
        w.close()


def test_two_kernels_sharing_a_limit_cannot_together_pass_it(
    server: Server, tmp_path: Path, kernels: Any, monkeypatch: pytest.MonkeyPatch
):
    """Two real kernels, one class limit of 100 credits (two GIFs) from the environment, each
    trying two GIFs at once: exactly two are made, and the other two are refused unsent."""
    monkeypatch.setenv("MAGICGIF_SPEND_LIMIT", "100/day")  # the kernels inherit it
    server.reset(render_seconds=1.0)
    cell = f"""
import asyncio
from magicgif_widget import AsyncClient, SpendLimitError
client = AsyncClient(base_url={server.url!r})
async def one(i):
    try:
        await client.v1.ai_gif_generator.generate(
            style={{"prompt": f"kernel job {{i}}"}}, download_directory={str(tmp_path)!r})
        return "made"
    except SpendLimitError as exc:
        return "refused: " + str(exc)
outcomes = await asyncio.gather(one(1), one(2))
"""
    clients = [new_kernel(kernels)[1] for _ in range(2)]
    for kernel in clients:  # both start before either finishes
        kernel.execute(cell)  # type: ignore[attr-defined]
    outcomes = []
    for kernel in clients:  # each waits for its kernel's cell above
        stdout, errors = execute(kernel, "for o in outcomes: print('OUTCOME', o)")
        assert errors == [], stdout
        outcomes += [line for line in stdout.splitlines() if line.startswith("OUTCOME ")]
    assert sorted(o.split(":")[0] for o in outcomes) == [
        "OUTCOME made",
        "OUTCOME made",
        "OUTCOME refused",
        "OUTCOME refused",
    ], outcomes
    assert all("spend limit is 100 credits per day" in o for o in outcomes if "refused" in o)
    assert made(server) == 2
    with Journal.open() as journal:
        assert journal.spent(server.url, 86400) == 100
