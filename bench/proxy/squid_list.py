#!/usr/bin/env python3
"""squid_list.py IN OUT: a domain list (one name a line) as a Squid dstdomain file.

saring blocks a listed name and every name under it; Squid's dstdomain does that for
".name" entries. Squid 5.7 refuses (FATAL "Bungled ... acl") a file where a ".parent"
entry comes after an entry under it ("x.a.com" or ".x.a.com", then ".a.com"), and warns
about each child listed after its parent. So every name whose parent (at any level) is
also listed is left out: it is covered by the parent's ".parent" entry anyway, and the
ACL matches exactly the names saring's list matches. Duplicates are dropped; the order
of the remaining names is kept. Prints "kept N of M (dropped D covered by a parent)".
Stdlib only.
"""
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="ascii", errors="replace") as f:
        names = [line.strip().lower().rstrip(".") for line in f]
    names = [n.lstrip(".") for n in names if n and not n.startswith("#")]
    listed = set(names)
    seen = set()
    kept = dropped = 0
    with open(sys.argv[2], "w", encoding="ascii") as out:
        for n in names:
            if n in seen:
                continue
            seen.add(n)
            labels = n.split(".")
            if any(".".join(labels[i:]) in listed for i in range(1, len(labels))):
                dropped += 1
                continue
            out.write("." + n + "\n")
            kept += 1
    print(f"kept {kept} of {len(names)} (dropped {dropped} covered by a parent)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
