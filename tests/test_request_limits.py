"""Large request bodies are refused before they are read, on every path, against a real Daphne:
the process does not grow with what an anonymous client sends."""

import http.client

import psutil
import pytest

from tests.conftest import database_url
from tests.support.servers import daphne

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

HUNDRED_MB = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    """One server for the module: each test measures the memory it adds, and keeps nothing."""
    with daphne(
        database_url(),
        {"MAX_REQUEST_BODY_BYTES": str(1024 * 1024)},
        log_path=tmp_path_factory.mktemp("request_limits") / "daphne.log",
    ) as (process, port):
        yield psutil.Process(process.pid), port


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
    process, port = server
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
    process, port = server
    before = process.memory_info().rss
    block = b"x" * (256 * 1024)
    chunked = (b"%x\r\n%s\r\n" % (len(block), block) for _ in range(400))
    status = _post(port, "/login/", {"Transfer-Encoding": "chunked"}, chunked)
    assert status == 413
    assert process.memory_info().rss - before < 20 * 1024 * 1024


def test_an_ordinary_form_still_goes_through(server):
    _, port = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login/")
    assert connection.getresponse().status == 200
