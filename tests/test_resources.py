"""``client.v1.image_projects``: picking a job up again by id (``check_result``), against the
loopback emulator."""

from __future__ import annotations

import time

import pytest

from magicgif_widget import Client, GenerationTimeout, JobFailedError

from .conftest import PROMPT, Server
from .fired import assert_fired


def test_check_result_picks_up_a_job_after_a_timeout(client: Client, server: Server, tmp_path):
    server.reset(render_seconds=1.2)
    with pytest.raises(GenerationTimeout) as info:
        client.v1.ai_gif_generator.generate(style=PROMPT, download_directory=tmp_path, timeout=0.3)
    pid = info.value.project_id
    assert pid and list(tmp_path.iterdir()) == []
    res = client.v1.image_projects.check_result(pid, download_directory=tmp_path)
    assert res.status == "complete" and res.downloaded_paths == [str(tmp_path / f"{pid}.gif")]
    assert server.stats()["creates"] == 1


def test_check_result_on_a_finished_job_makes_one_get(client: Client, server: Server, tmp_path):
    created = client.v1.ai_gif_generator.create(style=PROMPT)
    while client.v1.image_projects.get(id=created.id).status != "complete":
        time.sleep(0.05)
    before = server.requests("poll")
    res = client.v1.image_projects.check_result(created.id, True, False)
    assert res.status == "complete" and res.downloaded_paths is None
    assert server.requests("poll") == before + 1


def test_check_result_raises_for_failed_jobs(client: Client, server: Server, tmp_path):
    server.fault(route="create", outcome="error")
    created = client.v1.ai_gif_generator.create(style=PROMPT)
    with pytest.raises(JobFailedError) as info:
        client.v1.image_projects.check_result(id=created.id, download_directory=tmp_path)
    assert info.value.project_id == created.id and info.value.code == "render_failed"
    assert list(tmp_path.iterdir()) == []
    assert_fired(server, 1)
