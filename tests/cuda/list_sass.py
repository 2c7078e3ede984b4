#!/usr/bin/env python3
"""Lists the GPU machine code (SASS) embedded in a static library or object built by nvcc, and
fails unless every object carries SASS for each expected architecture.

    list_sass.py LIB.a --expect 80 86 89 90

It reads the `.nv_fatbin` section of each ELF member and walks the fat binary's entries (kind 2:
an sm_XX cubin; kind 1: PTX), the information `cuobjdump --list-elf` prints; the CUDA toolkit
installed here ships no cuobjdump.
"""
import argparse
import struct
import sys

FATBIN_MAGIC = 0xBA55ED50
KIND_PTX, KIND_ELF = 1, 2


def ar_members(data):
    """(name, bytes) of each member of a System V `ar` archive (or the file itself if not one)."""
    if not data.startswith(b"!<arch>\n"):
        yield "object", data
        return
    pos, names = 8, b""
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name, size = header[:16].decode().strip(), int(header[48:58].decode().strip())
        body = data[pos + 60:pos + 60 + size]
        if name == "//":
            names = body
        elif name not in ("/", "/SYM64/"):
            if name.startswith("/") and names:
                off = int(name[1:])
                name = names[off:names.index(b"/\n", off)].decode()
            yield name.rstrip("/"), body
        pos += 60 + size + (size & 1)


def fatbin_sections(elf):
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return
    shoff = struct.unpack_from("<Q", elf, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
    sections = [struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    strtab = sections[shstrndx][4]
    for name_off, _, _, _, offset, size in sections:
        name = elf[strtab + name_off:elf.index(b"\0", strtab + name_off)]
        if name == b".nv_fatbin":
            yield elf[offset:offset + size]


def fatbin_entries(blob):
    """(kind, sm) of every entry in every fat binary inside a .nv_fatbin section."""
    pos = 0
    while pos + 16 <= len(blob):
        magic, _, header_size, fat_size = struct.unpack_from("<IHHQ", blob, pos)
        if magic != FATBIN_MAGIC:
            break
        entry, end = pos + header_size, pos + header_size + fat_size
        while entry < end:
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", blob, entry)
            arch = struct.unpack_from("<I", blob, entry + 28)[0]
            yield kind, arch
            entry += entry_header + payload
        pos = end


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lib")
    ap.add_argument("--expect", nargs="*", type=int, default=[])
    a = ap.parse_args()
    with open(a.lib, "rb") as f:
        data = f.read()
    missing, objects = [], 0
    for name, body in ar_members(data):
        sass = set()
        for section in fatbin_sections(body):
            sass |= {arch for kind, arch in fatbin_entries(section) if kind == KIND_ELF}
        if not sass and not any(True for _ in fatbin_sections(body)):
            continue  # a host-only object
        objects += 1
        print(f"{name}: SASS for " + " ".join(f"sm_{s}" for s in sorted(sass)))
        missing += [f"{name}: sm_{e}" for e in a.expect if e not in sass]
    if objects == 0:
        print(f"{a.lib}: no object with GPU code", file=sys.stderr)
        return 1
    if missing:
        print("missing SASS: " + ", ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
