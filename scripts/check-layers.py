#!/usr/bin/env python3
"""Fails when a room of src/ uses a room above it, or two rooms use each other.

The layers follow ../shared/design.md ("a module may use the ones to its right, never the
reverse"): web, cli -> the flows -> the services -> store -> domain, with app above all.
A use is any `crate::<room>` path in a room's files (tests included: a test module is part
of its room). Rooms of one layer may use each other, but not in a circle.

Arrows that exist today and are still to be removed (issue 11) are listed in KNOWN; the
check fails on any arrow not listed, and says when a listed one is gone so the list shrinks.
`python3 scripts/check-layers.py --all` prints every arrow between rooms.
"""

import re
import sys
from pathlib import Path

LAYERS = {
    "app": 6,
    "web": 5,
    "cli": 5,
    "offboarding": 4,
    "broker": 4,
    "directory": 4,
    "compliance": 4,
    "signin": 4,
    "provisioning": 4,
    "access": 4,
    "replica": 4,
    "tokens": 3,
    "policy": 3,
    "audit": 3,
    "mail": 3,
    "channels": 3,
    "apikeys": 3,
    "metrics": 3,
    "principal": 3,
    "config": 2,
    "store": 1,
    "secrets": 1,
    "domain": 0,
}

# (from, to): arrows up, or halves of a circle, that are known and owed a fix.
KNOWN: set[tuple[str, str]] = set()  # none owed since 2026-12-02; keep it that way

USE = re.compile(r"\bcrate::([a-z_]+)")


def arrows(src: Path) -> set[tuple[str, str]]:
    found = set()
    for path in src.rglob("*.rs"):
        rel = path.relative_to(src).parts
        room = rel[0].removesuffix(".rs")
        if room not in LAYERS:
            continue
        for to in USE.findall(path.read_text()):
            if to != room and to in LAYERS:
                found.add((room, to))
    return found


def bad(found: set[tuple[str, str]]) -> set[tuple[str, str]]:
    out = set()
    for a, b in found:
        if LAYERS[b] > LAYERS[a] or (b, a) in found:
            out.add((a, b))
    return out


def main() -> int:
    src = Path(__file__).resolve().parent.parent / "src"
    found = arrows(src)
    if "--all" in sys.argv:
        for a, b in sorted(found):
            print(f"{a} -> {b}")
    wrong = bad(found)
    # Same-layer pairs whose arrows go one way only are fine; a pair listed in KNOWN only
    # needs reporting while it is still wrong.
    new = sorted(wrong - KNOWN)
    gone = sorted((KNOWN - wrong) & KNOWN)
    ups = sum(1 for a, b in wrong if LAYERS[b] > LAYERS[a])
    circles = sum(1 for a, b in wrong if (b, a) in found) // 2
    print(f"rooms: {len(LAYERS)}; arrows between rooms: {len(found)}; "
          f"upward: {ups}; circles between two rooms: {circles}; known and owed: {len(wrong & KNOWN)}")
    for a, b in new:
        why = "up a layer" if LAYERS[b] > LAYERS[a] else "a circle"
        print(f"NEW: {a} -> {b} ({why}); remove it, or (only with a reason) list it in KNOWN")
    for a, b in gone:
        print(f"fixed: {a} -> {b} is gone; take it out of KNOWN")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
