#!/usr/bin/env bash
# Builds the `drive` and `connect` firmware for thumbv7em-none-eabihf (opt-level "z",
# fat LTO, one codegen unit, panic = "abort": see Cargo.toml) and prints their section
# sizes and the 30 largest functions of each (cargo bloat).
#
#   bash embedded-size/measure.sh            # MQTT 3.1.1 programs
#   bash embedded-size/measure.sh --v5       # the same programs speaking MQTT 5.0
#   bash embedded-size/measure.sh --qos2-unsubscribe  # with the session's QoS 2 and
#                                            # UNSUBSCRIBE code linked (as a default build)
#   TOP=60 bash embedded-size/measure.sh     # more symbols
#   NO_BLOAT=1 bash embedded-size/measure.sh # sizes only
#   MAX_DRIVE_TEXT=39700 bash embedded-size/measure.sh  # fail if `drive` grew past it
#
# Needs: rustup target add thumbv7em-none-eabihf; cargo install cargo-bloat (for the
# symbol lists); llvm-size, arm-none-eabi-size or python3 (for the section sizes).
# CARGO_TARGET_DIR is honoured (default: embedded-size/target).
set -euo pipefail

cd "$(dirname "$0")"
TARGET=thumbv7em-none-eabihf
TOP=${TOP:-30}
FEATURES=embedded
LABEL="MQTT 3.1.1"
for arg in "$@"; do
  case "$arg" in
    --v5) FEATURES="$FEATURES,v5"; LABEL="MQTT 5.0${LABEL#MQTT 3.1.1}" ;;
    --qos2-unsubscribe) FEATURES="$FEATURES,qos2-unsubscribe"; LABEL="$LABEL, with the features qos2 and unsubscribe" ;;
    *) echo "unknown argument $arg" >&2; exit 2 ;;
  esac
done

rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || rustup target add "$TARGET"

cargo build --release --target "$TARGET" --features "$FEATURES" --bins
OUT="${CARGO_TARGET_DIR:-target}/$TARGET/release"

# Prints "name: .text N B (N.N KB), .rodata N B" for an ELF file.
section_sizes() {
  local elf=$1
  if command -v llvm-size >/dev/null || command -v arm-none-eabi-size >/dev/null; then
    local size
    size=$(command -v llvm-size || command -v arm-none-eabi-size)
    "$size" -A "$elf" | awk -v n="$(basename "$elf")" '
      $1 == ".text" { t = $2 } $1 == ".rodata" { r = $2 } $1 == ".data" { d = $2 } $1 == ".bss" { b = $2 }
      END { printf "%s: .text %d B (%.1f KB), .rodata %d B, .data %d B, .bss %d B\n", n, t, t / 1000, r, d, b }'
  else
    python3 - "$elf" <<'EOF'
import struct, sys, os
data = open(sys.argv[1], "rb").read()
# ELF32 little-endian: section header table offset, entry size, count, name table index.
shoff, = struct.unpack_from("<I", data, 0x20)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
def sh(i):
    return struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize)
names = sh(shstrndx)[4]
sizes = {}
for i in range(shnum):
    name_off, _, _, _, _, size, *_ = sh(i)
    name = data[names + name_off:data.index(b"\0", names + name_off)].decode()
    sizes[name] = size
t = sizes.get(".text", 0)
print(f"{os.path.basename(sys.argv[1])}: .text {t} B ({t / 1000:.1f} KB), .rodata {sizes.get('.rodata', 0)} B, "
      f".data {sizes.get('.data', 0)} B, .bss {sizes.get('.bss', 0)} B")
EOF
  fi
}

echo
echo "== $LABEL, $TARGET, opt-level z, fat LTO, codegen-units 1, panic abort"
for bin in drive connect; do
  section_sizes "$OUT/$bin"
done
echo "(.bss holds the 64 KiB static heap of the allocator; .vector_table, 1 KiB, is not in .text)"

# A budget, so that code an embedded client does not use cannot creep in unnoticed.
if [ -n "${MAX_DRIVE_TEXT:-}" ]; then
  text=$(section_sizes "$OUT/drive" | sed -E 's/^drive: \.text ([0-9]+) B.*/\1/')
  if [ "$text" -gt "$MAX_DRIVE_TEXT" ]; then
    echo "drive: .text $text B is over its budget of $MAX_DRIVE_TEXT B: find what grew with" >&2
    echo "  bash embedded-size/measure.sh $*  (cargo bloat), and cut it or raise the budget in scripts/test-all" >&2
    exit 1
  fi
  echo "drive: .text $text B, within its budget of $MAX_DRIVE_TEXT B"
fi

if [ -n "${NO_BLOAT:-}" ]; then exit 0; fi
if ! command -v cargo-bloat >/dev/null; then
  echo "cargo-bloat not installed (cargo install cargo-bloat): no symbol lists" >&2
  exit 0
fi
for bin in drive connect; do
  echo
  echo "== $bin: by crate"
  cargo bloat --release --target "$TARGET" --features "$FEATURES" --bin "$bin" --crates -n 12 2>/dev/null
  echo
  echo "== $bin: top $TOP functions"
  cargo bloat --release --target "$TARGET" --features "$FEATURES" --bin "$bin" -n "$TOP" 2>/dev/null
done
