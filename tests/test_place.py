"""``place``: moving a finished download into its directory by hard link, never replacing a
file that is there: a taken name gets ``-2``, ``-3``, ... and nothing that already has the
name (a file, a directory, a symlink) is touched. Real files in a temporary directory.
"""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import pytest

from magicgif_widget import DownloadError
from magicgif_widget.client import download
from magicgif_widget.client.download import place


def part(directory: Path, data: bytes, name: str = ".cm1.abcd.part") -> Path:
    """A finished temporary download, as the downloader leaves it before placing it."""
    temp = directory / name
    temp.write_bytes(data)
    return temp


def test_a_free_name_is_used_and_the_temporary_file_goes(tmp_path: Path):
    temp = part(tmp_path, b"GIF89a-one")
    inode = temp.stat().st_ino
    target = place(temp, tmp_path, "cm1", "gif")
    assert target == tmp_path / "cm1.gif" and target.read_bytes() == b"GIF89a-one"
    assert target.stat().st_ino == inode and target.stat().st_nlink == 1  # moved, not copied
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cm1.gif"]


def test_a_taken_name_is_never_replaced(tmp_path: Path):
    mine = tmp_path / "cm1.gif"
    mine.write_bytes(b"the user's own file")
    before = mine.stat()
    target = place(part(tmp_path, b"new output"), tmp_path, "cm1", "gif")
    assert target == tmp_path / "cm1-2.gif" and target.read_bytes() == b"new output"
    assert mine.read_bytes() == b"the user's own file"
    assert (mine.stat().st_ino, mine.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_collisions_count_up_past_every_taken_name(tmp_path: Path):
    for name in ("cm1.gif", "cm1-2.gif", "cm1-3.gif"):
        (tmp_path / name).write_bytes(name.encode())
    (tmp_path / "cm1.mp4").write_bytes(b"another format does not collide")
    target = place(part(tmp_path, b"fourth"), tmp_path, "cm1", "gif")
    assert target.name == "cm1-4.gif" and target.read_bytes() == b"fourth"
    for name in ("cm1.gif", "cm1-2.gif", "cm1-3.gif"):
        assert (tmp_path / name).read_bytes() == name.encode()
    assert place(part(tmp_path, b"mp4"), tmp_path, "cm1", "mp4").name == "cm1-2.mp4"


def test_a_directory_with_the_name_is_stepped_over_and_left_alone(tmp_path: Path):
    folder = tmp_path / "cm1.gif"
    folder.mkdir()
    (folder / "inside.txt").write_text("keep")
    target = place(part(tmp_path, b"output"), tmp_path, "cm1", "gif")
    assert target == tmp_path / "cm1-2.gif" and target.read_bytes() == b"output"
    assert folder.is_dir() and [p.name for p in folder.iterdir()] == ["inside.txt"]


def test_a_symlink_with_the_name_is_not_followed(tmp_path: Path):
    """A link planted under the output's name must not redirect the write anywhere."""
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "cm1.gif").symlink_to(outside / "planted.gif")  # dangling: would create it
    victim = outside / "victim.gif"
    victim.write_bytes(b"victim")
    (out / "cm1-2.gif").symlink_to(victim)  # live: would overwrite it
    target = place(part(out, b"output"), out, "cm1", "gif")
    assert target == out / "cm1-3.gif" and target.read_bytes() == b"output"
    assert sorted(p.name for p in outside.iterdir()) == ["victim.gif"]
    assert victim.read_bytes() == b"victim"
    assert (out / "cm1.gif").is_symlink() and (out / "cm1-2.gif").is_symlink()


def test_concurrent_placements_of_one_name_all_land_under_distinct_names(tmp_path: Path):
    count = 16
    temps = [part(tmp_path, f"output {n}".encode(), f".cm1.{n:04x}.part") for n in range(count)]
    placed: list[Path] = []
    barrier = threading.Barrier(count)

    def worker(temp: Path) -> None:
        barrier.wait()
        placed.append(place(temp, tmp_path, "cm1", "gif"))

    threads = [threading.Thread(target=worker, args=(t,)) for t in temps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = {p.name for p in placed}
    assert names == {"cm1.gif", *(f"cm1-{n}.gif" for n in range(2, count + 1))}
    contents = sorted(p.read_bytes() for p in placed)
    assert contents == sorted(f"output {n}".encode() for n in range(count))  # none lost
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_no_free_name_is_an_error_and_replaces_nothing(tmp_path: Path):
    for n in range(1, 10_000):
        name = "cm1.gif" if n == 1 else f"cm1-{n}.gif"
        (tmp_path / name).write_bytes(b"")
    temp = part(tmp_path, b"output")
    with pytest.raises(DownloadError, match=r"no free file name for cm1\.gif"):
        place(temp, tmp_path, "cm1", "gif")
    assert temp.read_bytes() == b"output"  # the caller still holds (and removes) its temp file
    assert all(p.stat().st_size == 0 for p in tmp_path.iterdir() if p != temp)


# -- where the file system has no hard links (FAT, some network shares) ---------------------


@pytest.fixture
def no_hard_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """``link`` fails as it does on a file system without hard links (EPERM)."""

    def refuse(src: object, dst: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted", str(dst))

    monkeypatch.setattr(download.os, "link", refuse)


@pytest.mark.usefixtures("no_hard_links")
def test_without_hard_links_the_name_is_reserved_then_filled(tmp_path: Path):
    temp = part(tmp_path, b"output")
    target = place(temp, tmp_path, "cm1", "gif")
    assert target == tmp_path / "cm1.gif" and target.read_bytes() == b"output"
    assert not temp.exists()


@pytest.mark.usefixtures("no_hard_links")
def test_without_hard_links_taken_names_are_still_never_replaced(tmp_path: Path):
    (tmp_path / "cm1.gif").write_bytes(b"the user's own file")
    (tmp_path / "cm1-2.gif").mkdir()
    target = place(part(tmp_path, b"output"), tmp_path, "cm1", "gif")
    assert target == tmp_path / "cm1-3.gif" and target.read_bytes() == b"output"
    assert (tmp_path / "cm1.gif").read_bytes() == b"the user's own file"
    assert (tmp_path / "cm1-2.gif").is_dir()
