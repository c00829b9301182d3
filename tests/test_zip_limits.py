"""Deployment package limits: 50 MB zipped, 250 MB unzipped, counted as the bytes stream out
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); a refused upload
leaves nothing on disk."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdalab import Lab, limits
from lambdalab.code import check_zip, unpacked
from lambdalab.errors import InvalidParameterValueException, RequestEntityTooLargeException

from .edge_support import ROLE, client_for, edge, readable_entry, zip_of  # noqa: F401  (fixture)

TOO_BIG = f"Unzipped size must be smaller than {limits.UNZIPPED_PACKAGE_MAX_BYTES} bytes"
HANDLER = "def handler(event, context):\n    return 'ok'\n"


def zeros_zip(size: int, *, name: str = "zeros.bin") -> bytes:
    """A small zip holding one file of ``size`` zero bytes (and a handler)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(readable_entry("app.py"), HANDLER)
        with archive.open(name, "w", force_zip64=size > 2**31) as entry:
            block = bytes(1024 * 1024)
            left = size
            while left:
                entry.write(block[: min(left, len(block))])
                left -= min(left, len(block))
    return buffer.getvalue()


def with_declared_size(data: bytes, name: str, declared: int) -> bytes:
    """``data`` with the entry ``name``'s declared uncompressed size rewritten (a lie)."""
    out = bytearray(data)
    encoded = name.encode()
    # local file header: signature, ..., uncompressed size at offset 22, name at 30
    local = out.find(b"PK\x03\x04" + b"", 0)
    while local != -1:
        name_len = struct.unpack_from("<H", out, local + 26)[0]
        if bytes(out[local + 30: local + 30 + name_len]) == encoded:
            struct.pack_into("<I", out, local + 22, declared)
        local = out.find(b"PK\x03\x04", local + 4)
    # central directory header: uncompressed size at offset 24, name at 46
    central = out.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", out, central + 28)[0]
        if bytes(out[central + 46: central + 46 + name_len]) == encoded:
            struct.pack_into("<I", out, central + 24, declared)
        central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


def bytes_under(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def stored_code(lab: Lab) -> list[Path]:
    return [*lab.store.blob_dir.iterdir(), *lab.store.code_dir.iterdir()]


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """300 MB of zeros in well under a megabyte: over the 250 MB unzipped limit."""
    data = zeros_zip(300 * 1024 * 1024)
    assert len(data) < 1024 * 1024
    return data


def test_a_zip_bomb_is_refused_with_awss_error_and_nothing_is_kept(lab: Lab, bomb: bytes) -> None:
    with pytest.raises(InvalidParameterValueException) as refused:
        lab.create_function("bomb", bomb, handler="app.handler")
    assert str(refused.value.message) == TOO_BIG
    assert lab.list_functions() == []
    assert stored_code(lab) == []


def test_update_function_code_with_a_bomb_keeps_the_old_code(lab: Lab, bomb: bytes) -> None:
    lab.create_function("fn", zip_of(app=HANDLER), handler="app.handler")
    before = lab.get_function_configuration("fn").code_sha256
    with pytest.raises(InvalidParameterValueException, match=TOO_BIG):
        lab.update_function_code("fn", bomb)
    assert lab.get_function_configuration("fn").code_sha256 == before
    assert lab.invoke("fn").json() == "ok"
    assert len(list(lab.store.blob_dir.iterdir())) == 1


def test_boto3_sees_the_unzipped_size_error(lab: Lab, edge: Any, bomb: bytes) -> None:
    client = client_for(edge.url)
    with pytest.raises(ClientError) as refused:
        client.create_function(FunctionName="bomb", Runtime="python3.11", Role=ROLE,
                               Handler="app.handler", Code={"ZipFile": bomb})
    assert refused.value.response["Error"] == {
        "Code": "InvalidParameterValueException", "Message": TOO_BIG}
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert stored_code(lab) == []


def test_a_header_that_understates_the_size_is_not_believed(lab: Lab, bomb: bytes) -> None:
    liar = with_declared_size(bomb, "zeros.bin", 10)
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(liar)).infolist()) < 1000
    with pytest.raises(InvalidParameterValueException) as refused:
        lab.create_function("liar", liar, handler="app.handler")
    assert refused.value.message in (TOO_BIG, "Could not unzip uploaded file. Please check your "
                                     "file, then try to upload again.")
    assert stored_code(lab) == []


def test_a_header_that_overstates_the_size_is_not_believed_either(lab: Lab) -> None:
    small = zeros_zip(1000)
    boast = with_declared_size(small, "zeros.bin", 2**31)  # declares 2 GB, holds 1 KB
    lab.create_function("boast", boast, handler="app.handler")
    assert lab.invoke("boast").json() == "ok"


def test_many_entries_add_up(lab: Lab) -> None:
    """Each entry is small; together they pass the limit."""
    buffer = io.BytesIO()
    part = 27 * 1024 * 1024
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(readable_entry("app.py"), HANDLER)
        for i in range(10):
            archive.writestr(f"part{i}.bin", bytes(part))
    with pytest.raises(InvalidParameterValueException, match=TOO_BIG):
        lab.create_function("parts", buffer.getvalue(), handler="app.handler")
    assert stored_code(lab) == []


def test_exactly_the_limit_is_accepted() -> None:
    check_zip(zeros_zip(limits.UNZIPPED_PACKAGE_MAX_BYTES - len(HANDLER)))
    with pytest.raises(InvalidParameterValueException, match=TOO_BIG):
        check_zip(zeros_zip(limits.UNZIPPED_PACKAGE_MAX_BYTES - len(HANDLER) + 1))


def test_more_than_50_mb_zipped_is_refused(lab: Lab) -> None:
    with pytest.raises(RequestEntityTooLargeException, match="52428800 bytes"):
        lab.create_function("big", b"PK" + bytes(limits.ZIPPED_PACKAGE_MAX_BYTES),
                            handler="app.handler")
    assert stored_code(lab) == []


def test_an_old_oversized_blob_is_refused_when_unpacked_and_leaves_nothing(
    tmp_path: Path, bomb: bytes
) -> None:
    """A blob stored before the limit was enforced: unpacking stops at the limit."""
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    blob = tmp_path / "blob.zip"
    blob.write_bytes(bomb)
    with pytest.raises(InvalidParameterValueException, match=TOO_BIG):
        unpacked(code_dir, blob, "abc")
    assert list(code_dir.iterdir()) == []
    assert bytes_under(tmp_path) == len(bomb)
