"""PNG images built in memory for the server tests: extreme shapes and large (but legal) pictures that take
real CPU time to decode and resize."""
import base64
import struct
import zlib


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png(width, height, row=None):
    """An RGB PNG whose rows all hold `row` (width * 3 bytes; a gradient by default)."""
    if row is None:
        row = bytes((x * 7 + c * 50) % 256 for x in range(width) for c in range(3))
    raw = (b"\0" + row) * height
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 1)) +
            png_chunk(b"IEND", b""))


def data_url_of(png_bytes):
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode()


def image_content(urls, text="What is this?"):
    content = [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]
