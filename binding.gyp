# Native helpers for syscalls Node's fs lacks (see native/sysx.c), and the directory
# record encoder of the backup (native/direnc.c).
# Built by `npm install` (gypfile) or `npm run build:native`; Linux only.
{
  "targets": [
    {
      "target_name": "sysx",
      "sources": ["native/sysx.c", "native/direnc.c"],
      "defines": ["_GNU_SOURCE", "_FILE_OFFSET_BITS=64"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra"],
    }
  ]
}
