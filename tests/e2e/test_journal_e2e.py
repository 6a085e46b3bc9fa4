"""Never lose a paid job, in JupyterLab: a job journaled in an "earlier session" comes back as
a card, Collect shows it like a fresh result with no second create, Dismiss forgets it; a
Generate that would repeat a running job asks first; a low balance is said before anything is
sent. Each with axe-core and a screenshot, light and dark."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from magicgif_widget import Client
from magicgif_widget.jobstore.journal import JobSettings, Journal

from ..conftest import Server
from .conftest import NotebookPage
from .test_accessibility import axe_violations
from .test_hosts import JS_IMG_DECODED, wait_true
from .test_widget_e2e import _shots, progress_value, widget, widget_cell

pytestmark = pytest.mark.timeout(180)
LAB = pytest.mark.parametrize("jupyter_app", ["lab"], indirect=True)
THEMES = pytest.mark.parametrize("theme", ["light", "dark"])
FOCUSED = """() => { const el = document.activeElement;
  return el && (el.getAttribute('aria-label') || el.textContent); }"""


@pytest.fixture
def journal_dir(tmp_path: Path, monkeypatch) -> Path:
    """The journal this test and its notebook's kernel share (and no other test)."""
    where = tmp_path / "journal"
    monkeypatch.setenv("MAGICGIF_DATA_DIR", str(where))
    return where


def earlier_job(server: Server, prompt: str) -> str:
    """A job made in an earlier session: created and journaled, never collected."""
    with Client(base_url=server.url) as client:
        return client.v1.ai_gif_generator.create(style={"prompt": prompt}).id


def tab_to(notebook_page: NotebookPage, root, name: str, presses: int = 16) -> list[str]:
    """Tab from the widget's title until ``name`` has the focus; the names passed."""
    root.locator(".mg-title").click()
    passed: list[str] = []
    for _ in range(presses):
        notebook_page.page.keyboard.press("Tab")
        passed.append(notebook_page.page.evaluate(FOCUSED))
        if passed[-1] == name:
            break
    assert passed[-1] == name, passed
    return passed


@LAB
@THEMES
def test_an_earlier_job_is_collected_and_an_unknown_one_dismissed(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path, journal_dir, theme
):
    server.reset(render_seconds=2.0)
    with Journal.open() as journal:  # a create whose answer was lost: no id
        lost = journal.intent(server.url, JobSettings("A kite lost in the clouds"), "python")
        journal.lost(lost)
    prompt = "A lantern festival at night"
    pid = earlier_job(server, prompt)
    out = tmp_path / "out"
    notebook_page.viewport = (1280, 1100)
    notebook_page.open([widget_cell(server, out, journal_dir)], theme=theme)
    notebook_page.run_all()
    root = widget(notebook_page)
    cards = root.get_by_role("list", name="Earlier jobs").get_by_role("listitem")
    expect(cards).to_have_count(2)
    expect(cards.nth(0)).to_contain_text(prompt)  # newest first
    collect_card = cards.filter(has_text=prompt)
    unknown_card = cards.filter(has_text="A kite lost in the clouds")
    expect(collect_card).to_contain_text(prompt)
    expect(collect_card).to_contain_text("GIF · started")
    expect(collect_card).to_contain_text("from Python")
    expect(unknown_card).to_contain_text("check your Magic Hour library")
    expect(unknown_card.get_by_role("button")).to_have_count(1)  # Dismiss only
    dismiss = unknown_card.get_by_role("button", name="Dismiss: A kite lost in the clouds")
    expect(dismiss).to_be_visible()
    expect(root.locator(".mg-account")).to_have_text("50 credits per GIF · 999,950 credits left")
    assert axe_violations(root) == []
    time.sleep(0.3)
    root.screenshot(path=str(_shots(tmp_path) / f"widget-collect-{theme}-lab.png"))

    # Collect by keyboard: a real button, with its accessible name.
    tab_to(notebook_page, root, f"Collect: {prompt}")
    notebook_page.page.keyboard.press("Enter")
    expect(cards).to_have_count(1)
    image = root.locator(".mg-stage img")
    wait_true(image, JS_IMG_DECODED, timeout=30)
    is_gif = image.evaluate(
        "img => fetch(img.src).then(r => r.arrayBuffer())"
        ".then(b => String.fromCharCode(...new Uint8Array(b.slice(0, 6))))"
    )
    assert is_gif == "GIF89a"
    expect(root.locator(".mg-status")).to_contain_text("Complete")
    expect(root.locator(".mg-item")).to_have_count(1)  # in the history, like a fresh result
    assert progress_value(root) == 100
    assert (out / f"{pid}.gif").read_bytes()[:6] == b"GIF89a"
    assert server.requests("create") == 1  # collected, never made again

    dismiss.click()
    expect(root.locator(".mg-earlier")).to_be_hidden()
    with Journal.open() as journal:
        assert journal.entries(pending_only=True) == []
    assert notebook_page.errors() == []


@LAB
@THEMES
def test_a_duplicate_of_a_running_job_asks_first(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path, journal_dir, theme
):
    server.reset(render_seconds=120.0)  # still running however long the page takes to open
    prompt = "A paper crane in flight"
    running = earlier_job(server, prompt)
    notebook_page.viewport = (1280, 1100)
    notebook_page.open([widget_cell(server, tmp_path / "out", journal_dir)], theme=theme)
    notebook_page.run_all()
    root = widget(notebook_page)
    expect(root.get_by_role("list", name="Earlier jobs").get_by_role("listitem")).to_have_count(1)
    root.get_by_label("Prompt", exact=True).fill(prompt)
    root.get_by_role("button", name="Generate", exact=True).click()
    question = root.get_by_role("alertdialog")
    expect(question).to_be_visible()
    expect(question).to_contain_text("A job with these settings is still running (started")
    expect(question).to_contain_text("Generate again and pay 50 credits?")
    expect(root.get_by_role("button", name="Wait for that one")).to_be_focused()
    assert server.requests("create") == 1  # nothing sent yet
    assert axe_violations(root) == []
    time.sleep(0.3)
    root.screenshot(path=str(_shots(tmp_path) / f"widget-confirm-{theme}-lab.png"))
    image = root.locator(".mg-stage img")
    store = server.emulator.store
    store.render_seconds = 1.0  # from now on, jobs are quick: the running one ends now
    store.jobs[running].render_seconds = 0.0
    if theme == "light":  # wait for that one: a Collect
        notebook_page.page.keyboard.press("Enter")
        wait_true(image, JS_IMG_DECODED, timeout=30)
        assert server.requests("create") == 1
        expect(root.locator(".mg-earlier")).to_be_hidden()
        jobs = [running]
    else:  # pay for another
        root.get_by_role("button", name="Generate anyway").click()
        wait_true(image, JS_IMG_DECODED, timeout=30)
        assert server.requests("create") == 2
        jobs = list(server.emulator.store.jobs)
    expect(question).to_be_hidden()
    expect(root.locator(".mg-item")).to_have_count(1)
    assert root.locator(".mg-item").get_attribute("role") == "listitem"
    shown = root.get_by_role("button", name=f"Download {jobs[-1]}.gif")
    expect(shown).to_have_count(1)
    assert notebook_page.errors() == []


@LAB
@THEMES
def test_a_low_balance_is_said_before_anything_is_sent(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path, journal_dir, theme
):
    server.emulator.store.initial_credits = 30
    notebook_page.open([widget_cell(server, tmp_path / "out", journal_dir)], theme=theme)
    notebook_page.run_all()
    root = widget(notebook_page)
    line = root.locator(".mg-account")
    expect(line).to_have_text("Not enough credits: 30 left, a GIF costs 50")
    root.get_by_label("Prompt", exact=True).fill("An expensive sunset")
    root.get_by_role("button", name="Generate", exact=True).click()
    expect(root.get_by_role("alert")).to_contain_text(
        "Not enough credits: 30 left, a GIF costs 50. Nothing was sent"
    )
    assert server.requests("create") == 0
    assert axe_violations(root) == []
    time.sleep(0.3)
    root.screenshot(path=str(_shots(tmp_path) / f"widget-credits-low-{theme}-lab.png"))
    server.emulator.store.initial_credits = 1_000_000  # credits bought meanwhile: the next
    root.get_by_role("button", name="Generate", exact=True).click()  # press reads them
    wait_true(root.locator(".mg-stage img"), JS_IMG_DECODED, timeout=30)
    assert server.requests("create") == 1
    expect(line).to_have_text("50 credits per GIF · 999,950 credits left")


def earlier_gallery(server: Server, directory: Path, prompts: list[str]) -> None:
    """A gallery of an "earlier session": its jobs created and journaled, then its kernel gone
    before any was collected (the wait is cut short once every create has answered)."""
    import asyncio
    import dataclasses

    from magicgif_widget import AsyncClient

    async def run() -> None:
        plain = AsyncClient(base_url=server.url)
        client = AsyncClient.from_settings(dataclasses.replace(plain.settings, surface="widget"))
        task = asyncio.ensure_future(
            client.v1.ai_gif_generator.generate_many(
                prompts, download_directory=directory, progress=False
            )
        )
        while server.requests("create") < len(prompts):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()
        await plain.close()

    import threading

    worker = threading.Thread(target=asyncio.run, args=(run(),))  # Playwright owns this loop
    worker.start()
    worker.join(60)
    assert not worker.is_alive()


@LAB
@THEMES
def test_an_earlier_gallery_is_one_card_collected_whole(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path, journal_dir, theme
):
    server.reset(render_seconds=3.0)
    prompts = ["A red kite", "A blue kite", "A green kite"]
    earlier_gallery(server, tmp_path / "out" / "gallery-earlier", prompts)
    notebook_page.viewport = (1280, 1100)
    notebook_page.open([widget_cell(server, tmp_path / "out", journal_dir)], theme=theme)
    notebook_page.run_all()
    root = widget(notebook_page)
    cards = root.get_by_role("list", name="Earlier jobs").get_by_role("listitem")
    expect(cards).to_have_count(1)
    expect(cards.nth(0)).to_contain_text("Gallery of 3: A red kite")
    expect(cards.nth(0)).to_contain_text("3 made, 3 to collect")
    expect(cards.nth(0)).to_contain_text("150 credits spent")
    collect = cards.nth(0).get_by_role("button", name="Collect 3: Gallery of 3: A red kite")
    expect(collect).to_be_visible()
    assert axe_violations(root) == []
    time.sleep(0.3)
    root.screenshot(path=str(_shots(tmp_path) / f"widget-gallery-card-{theme}-lab.png"))
    collect.click()
    images = root.locator(".mg-gallery img")
    expect(images).to_have_count(3, timeout=30_000)
    expect(root.locator(".mg-status")).to_contain_text("3 of 3 complete")
    expect(root.locator(".mg-earlier")).to_be_hidden()
    assert server.requests("create") == 3  # collected whole, nothing made again
    assert len(list((tmp_path / "out" / "gallery-earlier").glob("*.gif"))) == 3


@LAB
def test_a_large_gallery_asks_with_its_total_first(
    notebook_page: NotebookPage, jupyter_app, server: Server, tmp_path: Path, journal_dir
):
    notebook_page.open([widget_cell(server, tmp_path / "out", journal_dir)], theme="dark")
    notebook_page.run_all()
    root = widget(notebook_page)
    root.get_by_label("One per line").check()
    root.get_by_label("Prompt", exact=True).fill("\n".join(f"A kite, take {i}" for i in range(6)))
    account = root.locator(".mg-account")
    expect(account).to_have_text("This gallery: 6 GIFs cost 300 credits · 1,000,000 credits left")
    root.get_by_role("button", name="Generate gallery").click()
    question = root.get_by_role("alertdialog")
    expect(question).to_contain_text("This gallery makes 6 GIFs for 300 credits")
    expect(question.get_by_role("button", name="Generate 6 GIFs")).to_be_visible()
    not_now = question.get_by_role("button", name="Not now")
    expect(not_now).to_be_focused()  # the keyboard lands on the answer that does not pay
    assert axe_violations(root) == []
    time.sleep(0.3)
    root.screenshot(path=str(_shots(tmp_path) / "widget-gallery-cost-dark-lab.png"))
    not_now.click()
    expect(question).to_be_hidden()
    assert server.requests("create") == 0
    root.get_by_role("button", name="Generate gallery").click()
    question.get_by_role("button", name="Generate 6 GIFs").click()
    expect(root.locator(".mg-gallery img")).to_have_count(6, timeout=30_000)
    assert server.requests("create") == 6
