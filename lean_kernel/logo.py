"""The kernel's logos (kernelspec/logo-32x32.png, logo-64x64.png), drawn without dependencies.

Run ``python -m lean_kernel.logo`` to write them again: white "L4" on a rounded blue square.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

BLUE = (36, 76, 160, 255)
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)

# 5x7 glyphs.
GLYPHS = {
    "L": ["X....", "X....", "X....", "X....", "X....", "X....", "XXXXX"],
    "4": ["...X.", "..XX.", ".X.X.", "X..X.", "XXXXX", "...X.", "...X."],
}


def pixels(size: int) -> list[list[tuple[int, int, int, int]]]:
    scale = size // 16
    radius = size // 5
    image = [[BLUE] * size for _ in range(size)]
    for y in range(size):
        for x in range(size):
            dx = max(radius - x, x - (size - 1 - radius), 0)
            dy = max(radius - y, y - (size - 1 - radius), 0)
            if dx * dx + dy * dy > radius * radius:
                image[y][x] = CLEAR
    text = "L4"
    width = (len(text) * 6 - 1) * scale
    left, top = (size - width) // 2, (size - 7 * scale) // 2
    for index, char in enumerate(text):
        for row, bits in enumerate(GLYPHS[char]):
            for column, bit in enumerate(bits):
                if bit != "X":
                    continue
                for y in range(scale):
                    for x in range(scale):
                        image[top + row * scale + y][left + (index * 6 + column) * scale + x] = (
                            WHITE
                        )
    return image


def png(image: list[list[tuple[int, int, int, int]]]) -> bytes:
    height, width = len(image), len(image[0])
    raw = b"".join(b"\x00" + b"".join(bytes(pixel) for pixel in row) for row in image)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def write(folder: Path) -> None:
    for size in (32, 64):
        (folder / f"logo-{size}x{size}.png").write_bytes(png(pixels(size)))


if __name__ == "__main__":
    write(Path(__file__).parent / "kernelspec")
