"""Hostile input to the HTTP API of the real daemon over loopback (property-based).

Every answer must be < 500, carry ``X-Trace-ID``, and on 4xx be ``{"error": {code, message,
trace_id}}`` with the body's trace id equal to the header; the daemon must stay alive and its RSS
bounded. Budget (about 1,100 requests, ~40 s here): random bytes 150, magic + random tail 150,
mutated real JPEG/PNG/WEBP 200, camera_id 100, trace ids 60, fixed multipart/header shapes ~25,
bombs 5, schemathesis 8 operation/mode pairs x up to 40 examples (~240 ran here).
"""

from __future__ import annotations

import io
import socket
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.daemon import Daemon, base_config, enrol_people, free_port, write_config

pytestmark = pytest.mark.integration

TOKEN = "fuzz-token-5d1e8b0c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SNAPSHOT = "/api/v1/gateway/snapshot"
RSS_GROWTH_LIMIT_MB = 150
BOMB_HWM_LIMIT_MB = 40  # a decoded 30000x30000 RGB image would be 2.7 GB

FUZZ = settings(
    deadline=None,
    derandomize=True,  # reproducible in CI; the seed set is still broad
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


# ---- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, faces_dir: Path) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("fuzz")
    enrol_people(tmp / "edge.db", {"barack_obama": faces_dir / "images/barack_obama/obama.jpg"})
    port = free_port()
    cfg = base_config(tmp, port, http={"api_token": TOKEN, "rate_limit_per_minute": 0})
    d = Daemon(write_config(tmp / "config.toml", cfg), port).start()
    try:
        d.wait_http()
        yield d
    finally:
        assert d.terminate() == 0, d.log_text()[-3000:]
        log = d.log_text()
        assert TOKEN not in log
        assert "Traceback" not in log and '"request_failed"' not in log, log[-3000:]


@pytest.fixture(scope="module")
def client(daemon: Daemon) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=daemon.base_url, headers=AUTH, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def seeds(faces_dir: Path) -> dict[str, bytes]:
    """Real photos as JPEG, PNG and WEBP bytes (read from the shared folder, encoded in memory)."""
    jpeg = (faces_dir / "images/barack_obama/obama-240p.jpg").read_bytes()
    png = (faces_dir / "images/alex_lacamoire/alex-lacamoire.png").read_bytes()
    buf = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(buf, "WEBP", quality=80)
    return {"jpeg": jpeg, "png": png, "webp": buf.getvalue()}


def rss_mb(d: Daemon) -> float:
    assert d.proc is not None
    return psutil.Process(d.proc.pid).memory_info().rss / 2**20


def hwm_mb(d: Daemon) -> float:
    """Peak RSS of the daemon so far (VmHWM): shows a transient allocation RSS no longer holds."""
    assert d.proc is not None
    for line in Path(f"/proc/{d.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture(scope="module")
def baseline_rss(daemon: Daemon, client: httpx.Client, seeds: dict[str, bytes]) -> float:
    """RSS after a warm-up (every decoder and the recogniser touched once)."""
    for data in seeds.values():
        assert post(client, data).status_code == 200
    assert post(client, b"junk").status_code == 415
    return rss_mb(daemon)


def assert_healthy(d: Daemon, baseline: float) -> None:
    assert d.proc is not None and d.proc.poll() is None, f"daemon died:\n{d.log_text()[-3000:]}"
    assert d.get("/health").status_code == 200
    growth = rss_mb(d) - baseline
    assert growth < RSS_GROWTH_LIMIT_MB, f"RSS grew by {growth:.0f} MB"


# ---- helpers --------------------------------------------------------------------------------------


def post(
    client: httpx.Client,
    data: bytes,
    *,
    filename: str = "x.jpg",
    content_type: str = "application/octet-stream",
    form: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.post(
        SNAPSHOT, files={"file": (filename, data, content_type)}, data=form or {}, headers=headers or {}
    )


def check(r: httpx.Response, allowed: set[int] | None = None, *, snapshot: bool = True) -> dict[str, Any]:
    """The invariants of every answer; returns the JSON body."""
    assert r.status_code < 500, r.text
    if allowed is not None:
        assert r.status_code in allowed, (r.status_code, r.text)
    trace = r.headers.get("X-Trace-ID")
    assert trace, r.headers
    body = r.json()
    if r.status_code >= 400:
        assert set(body) == {"error"}, body
        err = body["error"]
        assert set(err) == {"code", "message", "trace_id"}, err
        assert isinstance(err["code"], str) and err["code"]
        assert isinstance(err["message"], str) and err["message"]
        assert err["trace_id"] == trace
    elif snapshot:
        assert body["trace_id"] == trace
        assert body["status"] in {"match", "low_confidence", "unknown", "rejected", "no_face"}
        assert isinstance(body["faces"], list) and isinstance(body["events"], list)
    return dict(body)


def png_declaring(width: int, height: int) -> bytes:
    """A 100-byte PNG whose IHDR declares ``width x height`` (no real pixel data behind it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def real_png_bomb(width: int, height: int) -> bytes:
    """A complete, valid grey PNG of ``width x height`` (compresses ~1000:1)."""
    comp = zlib.compressobj(9)
    row = b"\0" + b"\x80" * width  # filter byte + one grey channel
    rows = 256
    block = row * rows
    parts = [comp.compress(block) for _ in range(height // rows)]
    parts.append(comp.compress(row * (height % rows)))
    parts.append(comp.flush())

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def jpeg_declaring(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 200), (90, 100, 110)).save(buf, "JPEG")
    data = buf.getvalue()
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


def webp_declaring(width: int, height: int) -> bytes:
    """A lossy WEBP whose VP8 frame header declares ``width x height`` (14 bits each)."""
    buf = io.BytesIO()
    Image.new("RGB", (200, 200), (90, 100, 110)).save(buf, "WEBP")
    data = buf.getvalue()
    start = data.find(b"\x9d\x01\x2a")
    assert start > 0
    return data[: start + 3] + struct.pack("<HH", width, height) + data[start + 7 :]


def webp_vp8x_canvas(width: int, height: int) -> bytes:
    """An extended WEBP whose VP8X canvas (24 bits each) declares ``width x height``."""
    buf = io.BytesIO()
    Image.new("RGB", (200, 200), (90, 100, 110)).save(buf, "WEBP")
    frame = buf.getvalue()[12:]
    vp8x = (
        b"VP8X"
        + struct.pack("<I", 10)
        + b"\0\0\0\0"
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )
    body = b"WEBP" + vp8x + frame
    return b"RIFF" + struct.pack("<I", len(body)) + body


# ---- decompression bombs (first: VmHWM is still the warm-up's) ---------------------------------


@pytest.mark.parametrize(
    ("name", "make", "codes"),
    [
        ("png-ihdr-30000x30000", lambda: png_declaring(30000, 30000), {"too_large"}),
        ("jpeg-sof-30000x30000", lambda: jpeg_declaring(30000, 30000), {"too_large"}),
        ("webp-vp8-16383x16383", lambda: webp_declaring(16383, 16383), {"too_large"}),
        ("webp-vp8x-30000x30000", lambda: webp_vp8x_canvas(30000, 30000), {"too_large", "corrupt"}),
        ("png-real-9000x9000", lambda: real_png_bomb(9000, 9000), {"too_large"}),
    ],
)
def test_decompression_bomb_refused_from_header(
    daemon: Daemon, client: httpx.Client, baseline_rss: float, name: str, make: Any, codes: set[str]
) -> None:
    data = make()
    assert len(data) < 200_000  # tiny on the wire
    hwm_before = hwm_mb(daemon)
    r = post(client, data, filename=f"{name}.bin")
    body = check(r, {413, 422})
    assert body["error"]["code"] in codes, body
    if body["error"]["code"] == "too_large":
        assert r.status_code == 413
    # No full decode happened: the daemon's peak RSS did not move.
    assert hwm_mb(daemon) - hwm_before < BOMB_HWM_LIMIT_MB
    assert_healthy(daemon, baseline_rss)


# ---- random and mutated bodies ------------------------------------------------------------------

MAGICS = [
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"RIFF\xff\xff\xff\xffWEBPVP8L",
    b"RIFF\x00\x00\x00\x00WEBPVP8X",
    b"GIF89a",
    b"BM",
    b"II*\x00",
]


@settings(FUZZ, max_examples=150)
@given(data=st.binary(max_size=4096))
def test_random_bytes(daemon: Daemon, client: httpx.Client, baseline_rss: float, data: bytes) -> None:
    check(post(client, data), {413, 415, 422})


@settings(FUZZ, max_examples=150)
@given(magic=st.sampled_from(MAGICS), tail=st.binary(max_size=2048))
def test_magic_bytes_with_random_tail(
    daemon: Daemon, client: httpx.Client, baseline_rss: float, magic: bytes, tail: bytes
) -> None:
    check(post(client, magic + tail), {413, 415, 422})


@st.composite
def mutated(draw: st.DrawFn, seeds: dict[str, bytes]) -> bytes:
    data = bytearray(seeds[draw(st.sampled_from(sorted(seeds)))])
    kind = draw(st.sampled_from(["bitflip", "truncate", "header", "splice", "mixed"]))
    if kind in ("bitflip", "mixed"):
        for _ in range(draw(st.integers(1, 16))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] ^= 1 << draw(st.integers(0, 7))
    if kind in ("header", "mixed"):
        start = draw(st.integers(0, min(len(data) - 1, 600)))
        patch = draw(st.binary(min_size=1, max_size=32))
        data[start : start + len(patch)] = patch
    if kind == "splice":
        pos = draw(st.integers(0, len(data)))
        data[pos:pos] = draw(st.binary(min_size=1, max_size=256))
    if kind in ("truncate", "mixed"):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(FUZZ, max_examples=200)
@given(st.data())
def test_mutated_real_images(
    daemon: Daemon, client: httpx.Client, baseline_rss: float, seeds: dict[str, bytes], data: st.DataObject
) -> None:
    body = data.draw(mutated(seeds))
    filename = data.draw(st.sampled_from(["x.jpg", "x.png", "x.webp", "", "../../etc/passwd", "a" * 300]))
    check(post(client, body, filename=filename), {200, 413, 415, 422})


# ---- multipart shapes and fields ----------------------------------------------------------------


def grey_png(side: int = 128) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (120, 130, 140)).save(buf, "PNG")
    return buf.getvalue()


@settings(FUZZ, max_examples=100)
@given(camera_id=st.text(st.characters(exclude_categories=["Cs"]), max_size=200))
def test_odd_camera_ids(daemon: Daemon, client: httpx.Client, baseline_rss: float, camera_id: str) -> None:
    r = post(client, grey_png(), form={"camera_id": camera_id})
    body = check(r, {200, 422})
    if len(camera_id) > 64:
        assert r.status_code == 422 and body["error"]["code"] == "invalid_request"


def test_sql_like_camera_id_with_a_real_face_is_stored_verbatim(
    client: httpx.Client, baseline_rss: float, faces_dir: Path
) -> None:
    cam = "x'); DROP TABLE events;--"
    r = post(client, (faces_dir / "images/barack_obama/obama.jpg").read_bytes(), form={"camera_id": cam})
    body = check(r, {200})
    assert body["status"] == "match"
    events = check(client.get("/api/v1/events", params={"limit": 1000}), {200}, snapshot=False)["events"]
    assert any(e["camera_id"] == cam for e in events)


def raw_post(client: httpx.Client, content: bytes, content_type: str | None) -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return client.post(SNAPSHOT, content=content, headers=headers)


BOUNDARY = "fuzzboundary123"


def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, value in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


MP = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.mark.parametrize(
    ("name", "content", "content_type", "allowed"),
    [
        ("no body", b"", None, {422}),
        ("json body", b'{"file": "abc"}', "application/json", {422}),
        ("urlencoded", b"file=abc&camera_id=x", "application/x-www-form-urlencoded", {422}),
        ("multipart without boundary", b"--x\r\n", "multipart/form-data", {400, 422}),
        ("empty multipart", b"", MP, {400, 422}),
        ("garbage multipart", b"\x00\xff" * 500, MP, {400, 422}),
        ("unterminated part", f"--{BOUNDARY}\r\nContent-Disposition: form-data".encode(), MP, {400, 422}),
        ("file as plain field", multipart(("file", None, b"not a file")), MP, {422}),
        ("only camera_id", multipart(("camera_id", None, b"cam")), MP, {422}),
        (
            "camera_id as file",
            multipart(("file", "a.png", b"x"), ("camera_id", "c.txt", b"cam")),
            MP,
            {415, 422},
        ),
        ("two files", multipart(("file", "a", b"junk"), ("file", "b", b"junk")), MP, {415, 422}),
        (
            "duplicated camera_id",
            multipart(("file", "a", b"junk"), ("camera_id", None, b"a"), ("camera_id", None, b"b")),
            MP,
            {415, 422},
        ),
        (
            "non-utf8 camera_id",
            multipart(("file", "a", b"junk"), ("camera_id", None, b"\xff\xfe")),
            MP,
            {400, 415, 422},
        ),
        (
            "1 MB camera_id",
            multipart(("file", "a", b"junk"), ("camera_id", None, b"c" * 2**20)),
            MP,
            {400, 413, 422},
        ),
        ("5000 parts", multipart(*[(f"f{i}", None, b"v") for i in range(5000)]), MP, {400, 413, 422}),
    ],
)
def test_wrong_multipart_shapes(
    daemon: Daemon,
    client: httpx.Client,
    baseline_rss: float,
    name: str,
    content: bytes,
    content_type: str | None,
    allowed: set[int],
) -> None:
    check(raw_post(client, content, content_type), allowed)


@pytest.mark.parametrize(
    "content_type", ["image/png", "text/plain", "application/x-msdownload", "", "image/jpeg; charset=evil"]
)
def test_part_content_type_lies_are_ignored(
    client: httpx.Client, baseline_rss: float, seeds: dict[str, bytes], content_type: str
) -> None:
    """The type is judged by content: a JPEG labelled otherwise is accepted, text labelled JPEG is not."""
    check(post(client, seeds["jpeg"], filename="x.exe", content_type=content_type), {200})
    body = check(post(client, b"MZ\x90\x00 not an image", filename="x.jpg", content_type=content_type))
    assert body["error"]["code"] == "not_an_image"


@settings(FUZZ, max_examples=60)
@given(
    trace=st.one_of(
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=300),
        st.integers(0, 12_000).map(lambda n: "a" * n),
    )
)
def test_any_incoming_trace_id(daemon: Daemon, client: httpx.Client, baseline_rss: float, trace: str) -> None:
    r = post(client, b"junk", headers={"X-Trace-ID": trace})
    body = check(r, {415})
    echoed = r.headers["X-Trace-ID"]
    assert len(echoed) <= 128
    valid = 8 <= len(trace) <= 128 and all(c.isalnum() or c in "_.-" for c in trace)
    assert (echoed == trace) == valid
    assert body["error"]["trace_id"] == echoed


def test_very_long_and_duplicated_headers(client: httpx.Client, baseline_rss: float) -> None:
    r = post(client, b"junk", headers={"X-Trace-ID": "t" * 60_000})
    assert check(r, {415})["error"]["trace_id"] != "t" * 60_000
    dup = client.post(
        SNAPSHOT,
        content=multipart(("file", "a", b"junk")),
        headers=[("Content-Type", MP), ("X-Trace-ID", "first-trace-1"), ("X-Trace-ID", "second-trace-2")],
    )
    check(dup, {415})


def test_content_length_lie_is_refused_before_the_body(daemon: Daemon, baseline_rss: float) -> None:
    """A Content-Length far over the limit gets 413 at once, without waiting for the body."""
    request = (
        f"POST {SNAPSHOT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: {MP}\r\nContent-Length: 999999999\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as sock:
        sock.sendall(request + b"x" * 1000)
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"too_large"' in answer or b"content-length" in answer.lower()
    assert_healthy(daemon, baseline_rss)


def test_chunked_upload_over_the_limit_is_cut_off(daemon: Daemon, baseline_rss: float) -> None:
    """Without Content-Length the body is counted as it arrives: 60 MB are not spooled to disk first."""
    assert daemon.proc is not None
    proc = psutil.Process(daemon.proc.pid)
    chunk = b"\xff\xd8\xff" + b"\0" * (2**20 - 3)
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'.encode()

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(60):
            yield chunk
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    written_before = proc.io_counters().write_chars
    try:
        r = httpx.post(
            daemon.base_url + SNAPSHOT, content=body(), headers={**AUTH, "Content-Type": MP}, timeout=30
        )
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        r = None  # the server closed the connection mid-upload: also a refusal
    if r is not None:
        assert check(r, {413})["error"]["code"] == "too_large"
    # The multipart parser spools file parts over 1 MB to a temporary file: at most the 10 MB
    # limit may have been written, not the 60 MB sent.
    written_mb = (proc.io_counters().write_chars - written_before) / 2**20
    assert written_mb < 16, f"the daemon wrote {written_mb:.0f} MB while receiving the upload"
    assert_healthy(daemon, baseline_rss)


# ---- schemathesis over the whole OpenAPI schema ---------------------------------------------------
# (schemathesis' own pytest plugin, ``from_fixture``, breaks on pytest 9's node ids: the strategies
# are driven by hand instead, one test per operation.)

OPERATIONS = [
    "GET /health",
    "GET /api/v1/info",
    "GET /api/v1/events",
    "GET /metrics",
    "POST /api/v1/gateway/snapshot",
    "GET /api/v1/gateway/health",
    "GET /api/v1/cameras",
    "GET /api/v1/cameras/{camera_id}/faces",
    "GET /api/v1/cameras/{camera_id}/preview.jpg",
]
SCHEMATHESIS_EXAMPLES = 40  # per operation and generation mode: at most 8 x 40 = 320 calls


@pytest.fixture(scope="module")
def api_schema(daemon: Daemon) -> Any:
    assert daemon.get("/openapi.json").status_code == 401  # the schema is behind the token too
    schema = schemathesis.openapi.from_url(daemon.base_url + "/openapi.json", headers=AUTH)
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert labels == set(OPERATIONS)  # a new endpoint must be added here (and is then fuzzed)
    return schema


@pytest.mark.parametrize(
    ("label", "mode"),
    [(label, GenerationMode.POSITIVE) for label in OPERATIONS]
    # negative data needs an input to break: only these two operations take one (a camera id in a
    # path is any string, so nothing generated for it is invalid)
    + [(label, GenerationMode.NEGATIVE) for label in ("GET /api/v1/events", "POST /api/v1/gateway/snapshot")],
)
def test_openapi_conformance(
    daemon: Daemon, baseline_rss: float, api_schema: Any, label: str, mode: GenerationMode
) -> None:
    """No 5xx; status code, content type and body as the schema documents them (errors included)."""
    operation = api_schema.find_operation_by_label(label)
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance]
    if mode is GenerationMode.POSITIVE:
        checks.append(content_type_conformance)
    seen: list[int] = []

    @settings(FUZZ, max_examples=SCHEMATHESIS_EXAMPLES)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=AUTH, checks=checks, timeout=30)
        seen.append(response.status_code)
        assert response.headers.get("x-trace-id")

    run()
    assert seen
    assert_healthy(daemon, baseline_rss)


def test_zz_daemon_alive_and_rss_bounded_after_fuzzing(daemon: Daemon, baseline_rss: float) -> None:
    assert_healthy(daemon, baseline_rss)
    now, peak = rss_mb(daemon), hwm_mb(daemon)
    print(f"daemon RSS: {baseline_rss:.0f} MB after warm-up, {now:.0f} MB now, peak {peak:.0f} MB")
    gw = daemon.get("/api/v1/gateway/health", headers=AUTH).json()
    assert gw["rejected"] > 0  # the fuzz cases above reached the gateway, not just the auth check
