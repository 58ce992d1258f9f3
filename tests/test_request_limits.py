"""Large request bodies are refused before they are read, on every path, against a real Daphne:
the process does not grow with what an anonymous client sends."""

import http.client
import re
import socket

import psutil
import pytest

from tests.conftest import database_url
from tests.support.servers import daphne

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

HUNDRED_MB = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    """One server for the module: each test measures the memory it adds, and keeps nothing."""
    log = tmp_path_factory.mktemp("request_limits") / "daphne.log"
    # Unbuffered: the access log is read as the server writes it.
    limits = {"MAX_REQUEST_BODY_BYTES": str(1024 * 1024), "PYTHONUNBUFFERED": "1"}
    with daphne(database_url(), limits, log_path=log) as (
        process,
        port,
    ):
        yield psutil.Process(process.pid), port, log


def _post(port, path, headers, chunks):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest("POST", path)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    try:
        for chunk in chunks:
            connection.send(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server stopped reading: that is the point
    response = connection.getresponse()
    return response.status


@pytest.mark.parametrize("path", ["/login/", "/signup/", "/admin/", "/nowhere/"])
def test_a_declared_large_body_is_refused_unread(server, path):
    process, port, _ = server
    before = process.memory_info().rss
    block = b"x" * (1024 * 1024)
    status = _post(
        port,
        path,
        {"Content-Length": str(HUNDRED_MB), "Content-Type": "application/x-www-form-urlencoded"},
        (block for _ in range(100)),
    )
    assert status == 413
    assert process.memory_info().rss - before < 20 * 1024 * 1024


def test_a_chunked_large_body_is_refused_as_it_passes_the_limit(server):
    process, port, _ = server
    before = process.memory_info().rss
    block = b"x" * (256 * 1024)
    chunked = (b"%x\r\n%s\r\n" % (len(block), block) for _ in range(400))
    status = _post(port, "/login/", {"Transfer-Encoding": "chunked"}, chunked)
    assert status == 413
    assert process.memory_info().rss - before < 20 * 1024 * 1024


@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (b"GET /login/?q=" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
        (b"GET /login/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", b"431"),
        # Headers each small, over 16 KB together; a request line Twisted cannot read.
        (
            b"GET /login/ HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: %s\r\n" % (n, b"a" * 1000) for n in range(17))
            + b"\r\n",
            b"431",
        ),
        (b"NONSENSE\r\n\r\n", b"400"),
    ],
)
def test_a_request_line_or_header_too_long_is_answered(server, request_head, status):
    """Twisted closed the connection without a word, or with a bare 400 (the attacker's replay
    and its recheck)."""
    _, port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(request_head)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status)
    assert int(re.search(rb"Content-Length: (\d+)", head)[1]) == len(body) > 0


def test_an_ordinary_form_still_goes_through(server):
    _, port, _ = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login/")
    assert connection.getresponse().status == 200


def test_a_form_with_too_many_fields_is_refused_in_one_line_of_log(server):
    """Anyone could fill the log: each such request wrote two whole tracebacks (found by the
    attacker's replay)."""
    _, port, log = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login/")
    response = connection.getresponse()
    response.read()
    csrf = response.getheader("Set-Cookie").split(";")[0]  # past the CSRF check, to the form
    fields = [f"csrfmiddlewaretoken={csrf.split('=', 1)[1]}"] + [f"f{n}=x" for n in range(1500)]
    body = "&".join(fields).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(body)),
        "Cookie": csrf,
    }
    assert _post(port, "/login/", headers, [body]) == 400
    written = log.read_text()
    assert "TooManyFieldsSent" in written or "number of GET/POST parameters" in written
    assert "Traceback" not in written
    [refusal] = [line for line in written.splitlines() if "django.security" in line]
    assert " WARNING " in refusal  # the client's fault, not ours


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/x-www-form-urlencoded; charset=latin-1", b"username=a&password=b"),
        ("application/x-www-form-urlencoded; charset=utf-16", b"username=a&password=b"),
        ("application/x-www-form-urlencoded", b"username=Gr\xc3\xbc\xff&password=b"),
    ],
)
def test_a_form_not_in_utf8_is_refused_without_an_error_in_the_log(server, content_type, body):
    """Declared in another charset, the form was refused by each reader in turn, the 400
    page's CSRF check included: a 500 with 62 KB of ERROR traceback that anyone could ask for;
    bytes that were not UTF-8 were read as Latin-1 (found by the attacker's replays)."""
    _, port, log = server
    logged_before = log.stat().st_size
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login/")
    response = connection.getresponse()
    response.read()
    csrf = response.getheader("Set-Cookie").split(";")[0]
    body = b"csrfmiddlewaretoken=" + csrf.split("=", 1)[1].encode() + b"&" + body
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), "Cookie": csrf}
    assert _post(port, "/login/", headers, [body]) == 400
    with log.open() as written:
        written.seek(logged_before)
        added = written.read()
    assert "Traceback" not in added and " ERROR " not in added, added[:2000]


@pytest.mark.parametrize(
    "path",
    [
        "/password-reset/MQ/{token}/",
        "/password-reset/MQ/{token}",  # without its last slash: redirected
        "/%70assword-reset/MQ/{token}%2F",  # spelled otherwise, and taken
        "/password-reset/MQ/{token}/.",  # a full stop glued on: Django's "Not Found"
        "//password-reset/MQ//{token}/",
        "/pass%C2%ADword-reset/MQ/{token}/",  # mangled, not routed (the recheck)
        "/passwort-reset/MQ/{token}/",
        "/password-reset/MQ/set-password/{token}/",
    ],
)
def test_no_log_writes_down_a_password_reset_links_token(server, path):
    """The access log wrote it down, which sets a new password for hours; then (the recheck)
    spelled otherwise, and Django's own "Not Found" line (the attacker's replays)."""
    import time
    import uuid

    _, port, log = server
    uid, token = f"u{uuid.uuid4().hex[:8]}", f"cz7vqk-{uuid.uuid4().hex}"  # Django's shape
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path.replace("MQ", uid).format(token=token))
    assert connection.getresponse().status in (200, 301, 302, 404)
    deadline = time.monotonic() + 10
    while uid not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.01)  # the access log's line, written after the answer
    written = log.read_text()
    assert uid in written and token[7:] not in written


@pytest.mark.parametrize(
    "path",
    [
        "/password-reset/MQ/abc-def/%0A{forged}/",  # a reset link's shape
        "/x/1a2b-{hex}%0D%0A{forged}/",  # a token's shape
        "/password-reset/MQ/%00/{forged}/",
    ],
)
def test_a_path_with_a_token_hidden_is_logged_encoded_not_as_lines_of_its_own(server, path):
    """With its token hidden, a path was logged decoded: "%0A" began a forged line of the
    server's own ("... ERROR ... django.request"), "%00" wrote a NUL (the attacker's recheck)."""
    import time
    import uuid

    _, port, log = server
    uid, forged = f"u{uuid.uuid4().hex[:8]}", f"FORGED-{uuid.uuid4().hex[:8]}"
    target = path.replace("MQ", uid).format(forged=forged, hex=uuid.uuid4().hex)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", target.replace("/x/", f"/x/{uid}/"))
    assert connection.getresponse().status in (200, 301, 302, 404)
    deadline = time.monotonic() + 10
    while forged not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.01)  # the access log's line, written after the answer
    written = log.read_bytes()
    assert b"\x00" not in written
    lines = [line for line in written.decode().splitlines() if forged in line]
    assert lines and all(uid in line for line in lines), lines
