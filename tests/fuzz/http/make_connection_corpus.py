#!/usr/bin/env python3
"""Writes the seeds of fuzz_connection.c (corpus_connection/): one script per
probe of strict HTTP/1.1 parsing and per kind of connection that must not be
held, in the script format the target's header comment describes.

Run from anywhere: python3 tests/fuzz/http/make_connection_corpus.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus_connection")


def send(data, client=0):
    if isinstance(data, str):
        data = data.encode("latin-1")
    return bytes([0 | client << 3]) + struct.pack(">H", len(data)) + data


def advance(tenths):
    return bytes([1, tenths])


RUN = bytes([2])
ANSWER = bytes([5])


def close(client=0):
    return bytes([3 | client << 3])


def shutdown(client=0):
    return bytes([4 | client << 3])


def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# HPACK: :method GET, :scheme http, :path /, then a literal :authority.
HEADERS_BLOCK = bytes([0x82, 0x86, 0x84, 0x41, 0x01]) + b"x"
GET = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"

SEEDS = {
    # Answered at once, and the keep-alive that follows expires.
    "get": send(GET) + RUN + advance(40),
    "pipelined": send(GET + GET + "GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") + RUN,
    "post_body": send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello") + RUN,
    # Versions: 505 at once, HTTP/2.0 in a request line included.
    "version_2_0": send("GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n") + RUN + advance(20),
    "version_2_0_body": send("POST /healthz HTTP/2.0\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc") + RUN,
    "version_2_0_sm": send("GET /healthz HTTP/2.0\r\nHost: x\r\n\r\nSM\r\n\r\n") + RUN + advance(20),
    "version_1_2": send("GET / HTTP/1.2\r\nHost: x\r\n\r\n") + RUN,
    "version_3_0": send("GET / HTTP/3.0\r\nHost: x\r\n\r\n") + RUN,
    # h2c: a header block that never ends, the preface alone, a whole request.
    "h2c_open_header_block": send(PREFACE + h2_frame(4, 0, 0) + h2_frame(1, 0x1, 1, HEADERS_BLOCK))
    + RUN
    + advance(20),
    "h2c_zero_window": send(PREFACE + h2_frame(4, 0, 0, struct.pack(">HI", 4, 0)) + h2_frame(1, 0x5, 1, HEADERS_BLOCK))
    + RUN
    + advance(40),
    "h2c_preface_only": send(PREFACE) + RUN + advance(40),
    "h2c_request": send(PREFACE + h2_frame(4, 0, 0) + h2_frame(1, 0x5, 1, HEADERS_BLOCK)) + RUN + advance(40),
    # Chunked framing: the CRLF after data, codings before chunked, obs-fold.
    "chunk_crlf_missing": send(
        "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2c\r\n" + "a" * 44 + "XX5\r\nABCDE\r\n0\r\n\r\n"
    )
    + RUN,
    "chunked_ok": send("POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n") + RUN,
    "chunked_open": send("POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel") + RUN + advance(20),
    "te_gzip_chunked": send("POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n") + RUN,
    "te_obs_fold": send("POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n") + RUN,
    "cl_and_te": send(
        "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    + RUN,
    # Host and field names.
    "no_host": send("GET /hello HTTP/1.1\r\n\r\n") + RUN,
    "two_hosts": send("GET /hello HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n") + RUN,
    "space_in_name": send("GET /hello HTTP/1.1\r\nHost: x\r\nX Y: z\r\n\r\n") + RUN,
    "space_before_colon": send("GET /hello HTTP/1.1\r\nHost : x\r\n\r\n") + RUN,
    "empty_name": send("GET /hello HTTP/1.1\r\nHost: x\r\n: z\r\n\r\n") + RUN,
    "obs_fold": send("GET /hello HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n") + RUN,
    "bare_lf": send("GET /hello HTTP/1.1\nHost: x\n\n") + RUN,
    "bare_cr": send("GET /hello HTTP/1.1\rHost: x\r\n\r\n") + RUN,
    # Request lines that are not one.
    "http_0_9": send("GET /healthz\r\n\r\n") + RUN,
    "double_space": send("GET  /hello HTTP/1.1\r\nHost: x\r\n\r\n") + RUN,
    "garbage": send("GARBAGE\r\n\r\n") + RUN,
    "binary": send(bytes(range(0, 256))) + RUN,
    "tls_client_hello": send(bytes.fromhex("16030100a5010000a10303") + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00")
    + RUN,
    "unknown_method": send("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n") + RUN,
    # Held connections: slowloris, an idle accept, a slow body, a kept request.
    "slowloris": send("GET /hello HTTP/1.1\r\n") + advance(5) + send("X-A: 1\r\n") + advance(5) + send("X-B: 2\r\n") + advance(30),
    "idle_accept": send("") + advance(20),
    "slow_body": send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab") + RUN + advance(50),
    "kept_request": send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n") + RUN + advance(50),
    "kept_then_answered": send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n") + RUN + ANSWER + RUN + advance(40),
    "half_close": send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n") + shutdown() + RUN + advance(40),
    # Event streams outlive every deadline, and end with their client.
    "stream": send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n") + RUN + advance(100),
    "stream_and_loris": send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    + send("GET /hel", 1)
    + RUN
    + advance(30)
    + close(0)
    + RUN,
    "oversized_head": send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 5000 + "\r\n\r\n") + RUN,
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, script in SEEDS.items():
        with open(os.path.join(OUT, "seed_" + name), "wb") as f:
            f.write(script)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
