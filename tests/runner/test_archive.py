from __future__ import annotations

import io
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from portfolio.runner import archive
from portfolio.runner.archive import UnsafeArchive


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names, which one test wants
        with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return buffer.getvalue()


def unix_entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


GOOD_ZIP = make_zip(
    [
        ("main.py", b"print('hi')\n"),
        ("pkg/", b""),
        ("pkg/__init__.py", b""),
        ("pkg/util.py", b"X = 1\n"),
    ]
)


def refused(filename: str, data: bytes, **limits: int) -> UnsafeArchive:
    with pytest.raises(UnsafeArchive) as caught:
        archive.inspect_upload(filename, data, **limits)
    return caught.value


def test_a_single_file_is_accepted_as_is():
    info = archive.inspect_upload("kv_calculator.py", b"print(1)\n")

    assert info.kind == "file"
    assert [(e.path, e.size) for e in info.files] == [("kv_calculator.py", 9)]
    assert info.sha256 == archive.content_sha256(b"print(1)\n")


def test_a_good_zip_is_described_with_measured_sizes():
    info = archive.inspect_upload("work.zip", GOOD_ZIP)

    assert info.kind == "zip"
    assert {e.path: e.size for e in info.files} == {"main.py": 12, "pkg/__init__.py": 0, "pkg/util.py": 6}
    assert info.total_uncompressed == 18


def test_an_oversized_upload_is_refused_with_its_size():
    error = refused("big.py", b"x" * 101, max_bytes=100)

    assert error.filename == "big.py" and error.entry is None
    assert "101 bytes" in str(error) and "100 bytes" in str(error)


def test_too_many_entries_are_refused():
    data = make_zip([(f"f{i}.py", b"") for i in range(4)])

    assert "4 entries; the limit is 3" in str(refused("work.zip", data, max_files=3))


def test_a_zip_bomb_is_refused_by_its_declared_size():
    data = make_zip([("zeros.bin", b"\0" * (3 << 20))])

    error = refused("work.zip", data, max_total_uncompressed=2 << 20, max_ratio=10_000)

    assert "declared" in str(error)


def test_a_zip_bomb_is_refused_by_its_compression_ratio():
    data = make_zip([("main.py", b"print(1)\n"), ("zeros.bin", b"\0" * (8 << 20))])

    error = refused("work.zip", data)

    assert "compression ratio" in str(error)


def patch_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """Make both the local and the central header of `name` lie about its uncompressed size."""
    raw = bytearray(data)
    local = raw.find(b"PK\x03\x04")
    while local >= 0:
        name_len = struct.unpack_from("<H", raw, local + 26)[0]
        if raw[local + 30 : local + 30 + name_len] == name:
            struct.pack_into("<I", raw, local + 22, size)
        local = raw.find(b"PK\x03\x04", local + 4)
    central = raw.find(b"PK\x01\x02")
    while central >= 0:
        name_len = struct.unpack_from("<H", raw, central + 28)[0]
        if raw[central + 46 : central + 46 + name_len] == name:
            struct.pack_into("<I", raw, central + 24, size)
        central = raw.find(b"PK\x01\x02", central + 4)
    return bytes(raw)


def test_an_entry_that_unpacks_to_more_than_its_header_says_is_refused():
    honest = make_zip([("main.py", b"print(1)\n"), ("data.bin", bytes(range(256)) * 4096)])
    lying = patch_sizes(honest, b"data.bin", 1000)

    error = refused("work.zip", lying)

    assert error.entry == "data.bin"


@pytest.mark.parametrize(
    "name",
    ["../evil.py", "a/../../evil.py", "/etc/evil.py", "C:/evil.py", "a\\..\\evil.py", "./main.py", "a//b.py"],
)
def test_path_traversal_and_odd_paths_are_refused(name: str, tmp_path: Path):
    data = make_zip([("main.py", b""), (name, b"bad")])

    error = refused("work.zip", data)

    assert error.entry == name
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchive):
        archive.extract_to(dest, "work.zip", data)
    assert list(tmp_path.rglob("*")) == []  # refused before anything was written


def test_a_symlink_entry_is_refused():
    data = make_zip([("main.py", b""), (unix_entry("link", stat.S_IFLNK | 0o777), b"/etc/passwd")])

    error = refused("work.zip", data)

    assert error.entry == "link" and "symbolic link" in str(error)


def test_special_file_entries_are_refused():
    data = make_zip([("main.py", b""), (unix_entry("pipe", stat.S_IFIFO | 0o644), b"")])

    assert "special file" in str(refused("work.zip", data))


def test_duplicate_names_are_refused_even_when_only_the_case_differs():
    exact = make_zip([("main.py", b"1"), ("main.py", b"2")])
    cased = make_zip([("main.py", b"1"), ("MAIN.py", b"2")])

    assert "appears twice" in str(refused("work.zip", exact))
    error = refused("work.zip", cased)
    assert error.entry == "MAIN.py" and "also as 'main.py'" in str(error)


def test_a_file_and_a_folder_with_the_same_name_are_refused():
    data = make_zip([("pkg", b"file"), ("pkg/util.py", b"")])

    assert "is inside 'pkg', which is a file" in str(refused("work.zip", data))


def test_an_encrypted_entry_is_refused():
    # zipfile cannot write encrypted entries, so set the "encrypted" flag bit in both headers.
    raw = bytearray(make_zip([("main.py", b"not really encrypted")], compression=zipfile.ZIP_STORED))
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        raw[at + flag_offset] |= 0x1
    data = bytes(raw)

    assert "encrypted" in str(refused("work.zip", data))


def test_a_zip_name_on_something_else_is_refused():
    error = refused("work.zip", b"print('I am not a zip')\n")

    assert "not a zip archive" in str(error)


def test_an_empty_zip_is_refused():
    assert "contains no files" in str(refused("work.zip", make_zip([("empty/", b"")])))


@pytest.mark.parametrize("filename", ["../main.py", "dir/main.py", "C:\\main.py", "", "..", "a\x00b.py"])
def test_bad_upload_file_names_are_refused(filename: str):
    refused(filename, b"print(1)")


def test_extract_writes_the_files_and_nothing_else(tmp_path: Path):
    dest = tmp_path / "submission"

    info = archive.extract_to(dest, "work.zip", GOOD_ZIP)

    assert info.kind == "zip"
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert written == [
        "submission",
        "submission/main.py",
        "submission/pkg",
        "submission/pkg/__init__.py",
        "submission/pkg/util.py",
    ]
    assert (dest / "pkg" / "util.py").read_bytes() == b"X = 1\n"
    assert stat.S_IMODE((dest / "main.py").stat().st_mode) == 0o644


def test_extract_a_single_file(tmp_path: Path):
    archive.extract_to(tmp_path / "s", "solution.py", b"print(2)\n")

    assert (tmp_path / "s" / "solution.py").read_bytes() == b"print(2)\n"


def test_extract_refuses_a_folder_that_is_not_empty(tmp_path: Path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "old.py").write_text("")

    with pytest.raises(FileExistsError):
        archive.extract_to(tmp_path / "s", "solution.py", b"")


def test_extract_never_follows_a_symlink_planted_in_the_destination(tmp_path: Path):
    """If the destination were tampered with between the emptiness check and the write, the
    O_NOFOLLOW/O_EXCL open refuses instead of writing through the link."""
    outside = tmp_path / "outside.py"
    dest = tmp_path / "dest"
    dest.mkdir()
    root = dest.resolve()

    (dest / "main.py").symlink_to(outside)
    with pytest.raises(FileExistsError):
        archive._write_stream(root, "main.py", "work.zip", io.BytesIO(b"x"), limit=1)
    assert not outside.exists()
