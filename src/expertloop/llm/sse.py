"""Incremental Server-Sent Events decoding that survives any chunking of the byte stream."""

from __future__ import annotations

import codecs
from collections.abc import Iterator


class SSEDecoder:
    """Feed bytes as they arrive; get the ``data`` payload of each complete event.

    Handles several events in one chunk, one event split across chunks (even inside a UTF-8
    character), CRLF or LF line endings, comments and multi-line data.
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> Iterator[str]:
        """Yield the data of every event completed by ``chunk``."""
        text = self._utf8.decode(chunk)
        if self._pending_cr:
            # A CRLF split between chunks: the LF here belongs to the CR already counted.
            text = text.removeprefix("\n")
            self._pending_cr = False
        if text.endswith("\r"):
            self._pending_cr = True
        self._buffer += text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in self._buffer:
            return
        *lines, self._buffer = self._buffer.split("\n")  # linear in the chunk size
        for line in lines:
            event = self._line(line)
            if event is not None:
                yield event

    def close(self) -> Iterator[str]:
        """Yield a last event that was not followed by a blank line."""
        self._buffer += self._utf8.decode(b"", final=True)
        if self._buffer:
            event = self._line(self._buffer)
            self._buffer = ""
            if event is not None:
                yield event
        if self._data:
            yield "\n".join(self._data)
            self._data = []

    def _line(self, line: str) -> str | None:
        if line == "":
            if not self._data:
                return None
            data, self._data = "\n".join(self._data), []
            return data
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None
