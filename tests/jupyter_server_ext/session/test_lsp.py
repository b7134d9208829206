"""Content-Length framing, and the JSON-RPC checks of frames from clients."""

from __future__ import annotations

import asyncio
import json

import pytest

from jupyter_server_ext.session.guard import parse_client_frame
from jupyter_server_ext.session.lsp import (
    INVALID_REQUEST,
    PARSE_ERROR,
    LspProtocolError,
    MessageTooLarge,
    encode_message,
    read_message_body,
)

LIMIT = 1 << 20


def _reader(*chunks: bytes, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    if eof:
        reader.feed_eof()
    return reader


def _split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def test_round_trip_counts_utf8_bytes_not_characters() -> None:
    message = {"jsonrpc": "2.0", "method": "x", "params": {"text": "α → 𝔽 ∀"}}
    frame = encode_message(message)
    header, _, body = frame.partition(b"\r\n\r\n")
    assert header == b"Content-Length: %d" % len(body)
    assert len(body) > len(json.dumps(message, ensure_ascii=False))  # multi-byte characters
    assert json.loads(await read_message_body(_reader(frame), LIMIT)) == message


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 16])
async def test_messages_split_at_every_byte_boundary(chunk_size: int) -> None:
    messages = [{"jsonrpc": "2.0", "id": i, "result": {"s": "ü" * i}} for i in range(5)]
    stream = b"".join(encode_message(m) for m in messages)
    reader = asyncio.StreamReader()

    async def feed() -> None:
        for chunk in _split_every(stream, chunk_size):
            reader.feed_data(chunk)
            await asyncio.sleep(0)
        reader.feed_eof()

    feeder = asyncio.create_task(feed())
    received = []
    while (body := await read_message_body(reader, LIMIT)) is not None:
        received.append(json.loads(body))
    await feeder
    assert received == messages


async def test_other_headers_are_ignored_and_name_is_case_insensitive() -> None:
    body = b'{"jsonrpc":"2.0","id":1,"result":null}'
    frame = (
        b"content-length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8"
        b"\r\n\r\n" % len(body)
    ) + body
    assert await read_message_body(_reader(frame), LIMIT) == body


async def test_clean_eof_between_messages_is_none() -> None:
    assert await read_message_body(_reader(), LIMIT) is None


@pytest.mark.parametrize(
    "stream",
    [
        b'Content-Length: 10\r\n\r\n{"a":',  # body cut short
        b"Content-Length: 10\r\n",  # header cut short
        b"Content-Length 10\r\n\r\n0123456789",  # no colon
        b"Content-Length: ten\r\n\r\n0123456789",  # not a number
        b"Content-Length: -5\r\n\r\n",  # negative
        b"X-Other: 1\r\n\r\n{}",  # no Content-Length
    ],
)
async def test_bad_framing_is_an_error_not_a_hang(stream: bytes) -> None:
    with pytest.raises(LspProtocolError):
        await asyncio.wait_for(read_message_body(_reader(stream), LIMIT), 5)


async def test_oversized_body_is_skipped_and_the_stream_stays_in_sync() -> None:
    big = encode_message({"jsonrpc": "2.0", "method": "big", "params": {"x": "y" * 5000}})
    small = encode_message({"jsonrpc": "2.0", "method": "small", "params": {}})
    reader = _reader(big, small)
    with pytest.raises(MessageTooLarge):
        await read_message_body(reader, 1000)
    assert json.loads(await read_message_body(reader, 1000))["method"] == "small"


async def test_huge_header_line_is_refused() -> None:
    reader = asyncio.StreamReader(limit=1 << 16)
    reader.feed_data(b"X" * (1 << 17))
    reader.feed_eof()
    with pytest.raises(LspProtocolError):
        await read_message_body(reader, LIMIT)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", PARSE_ERROR),
        ('{"jsonrpc": "2.0", "id": 1', PARSE_ERROR),
        ("[1, 2]", INVALID_REQUEST),
        ("42", INVALID_REQUEST),
        ('{"id": 1, "method": "x"}', INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}', INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1, "method": 5}', INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "method": "x", "params": "str"}', INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1, "result": 1, "error": {}}', INVALID_REQUEST),
        ('{"jsonrpc": "2.0"}', INVALID_REQUEST),
        ("[" * 100, PARSE_ERROR),
        # Refused from its bracket count before any parsing (see guard.MAX_CONTAINERS).
        ("[" * 100000, INVALID_REQUEST),
    ],
)
def test_invalid_frames_get_json_rpc_errors(frame: str, code: int) -> None:
    message, error = parse_client_frame(frame)
    assert message is None
    assert error is not None and error["error"]["code"] == code
    assert error["jsonrpc"] == "2.0" and "id" in error


def test_error_keeps_a_valid_request_id() -> None:
    _, error = parse_client_frame('{"id": 7, "method": "x"}')
    assert error is not None and error["id"] == 7


@pytest.mark.parametrize(
    "frame",
    [
        '{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}',
        '{"jsonrpc": "2.0", "id": "a", "method": "x"}',
        '{"jsonrpc": "2.0", "method": "initialized"}',
        '{"jsonrpc": "2.0", "id": "register_lean_watcher", "result": null}',
        '{"jsonrpc": "2.0", "id": 3, "error": {"code": 1, "message": "m"}}',
    ],
)
def test_valid_frames_pass(frame: str) -> None:
    message, error = parse_client_frame(frame)
    assert error is None and message == json.loads(frame)


def test_integers_past_64_bits_survive_parsing_and_encoding() -> None:
    # Lean's JSON numbers are arbitrary precision: a request id must come back exactly.
    frame = '{"jsonrpc": "2.0", "id": 18446744073709551617, "method": "x", "params": {}}'
    message, error = parse_client_frame(frame)
    assert error is None and message is not None
    assert message["id"] == 18446744073709551617
    body = encode_message(message).partition(b"\r\n\r\n")[2]
    assert b'"id":18446744073709551617' in body
