"""Constants of the scap capture format (spec/scap.md §1-§3)."""

from __future__ import annotations

SHB = 0x0A0D0D0A
BYTE_ORDER_MAGIC = 0x1A2B3C4D

MI = 0x201
PL_V1, PL_V2, PL_V3, PL_V4, PL_V5, PL_V6, PL_V7, PL_V8, PL_V9 = (
    0x202, 0x207, 0x209, 0x210, 0x211, 0x212, 0x213, 0x214, 0x215)
FDL, FDL_V2 = 0x203, 0x218
EV, EVF = 0x204, 0x208
IL, IL_V2 = 0x205, 0x219
UL, UL_V2 = 0x206, 0x220
EV_V2, EVF_V2, EV_V2_LARGE, EVF_V2_LARGE = 0x216, 0x217, 0x221, 0x222

#: Pre-release ids that readers treat like their official one.
ALIASES = {
    0x8002ABCD: MI, 0x8000ABCD: PL_V1, 0x8013ABCD: PL_V2, 0x8014ABCD: PL_V3,
    0x8001ABCD: FDL, 0x8011ABCD: IL, 0x8012ABCD: UL, 0x8010ABCD: EV,
}

PL_VERSION = {PL_V1: 1, PL_V2: 2, PL_V3: 3, PL_V4: 4, PL_V5: 5, PL_V6: 6, PL_V7: 7, PL_V8: 8,
              PL_V9: 9}
EVENT_BLOCKS = frozenset({EV, EVF, EV_V2, EVF_V2, EV_V2_LARGE, EVF_V2_LARGE})
BLOCK_NAMES = {
    SHB: "SHB", MI: "MI", FDL: "FDL", FDL_V2: "FDL_V2", EV: "EV", EVF: "EVF", IL: "IL",
    IL_V2: "IL_V2", UL: "UL", UL_V2: "UL_V2", EV_V2: "EV_V2", EVF_V2: "EVF_V2",
    EV_V2_LARGE: "EV_V2_LARGE", EVF_V2_LARGE: "EVF_V2_LARGE",
    **{k: f"PL_V{v}" for k, v in PL_VERSION.items()},
}

#: scap_dump_flags
DF_STATE_ONLY = 1

#: Non-LARGE event blocks are limited to this body size (libscap's read buffer).
MAX_NONLARGE_BLOCK = 65536
EVENT_HEADER_V2 = 26

#: libscap rejects a whole capture ("invalid argslen 25713") when a metadata string is longer than
#: its fixed buffers; the writer truncates to one byte less, as old readers compare with ``>=``.
MAX_PATH_SIZE = 1024  # comm, exe, exepath, cwd, root, fd names
MAX_ARGS_SIZE = 4096  # args, env, cgroups (NUL-separated lists)
MAX_CREDENTIALS_STR_LEN = 256  # user name, home, shell; group name
EVENT_HEADER_V1 = 22

IFTYPE_IPV4, IFTYPE_IPV6, IFTYPE_IPV4_NOLINKSPEED, IFTYPE_IPV6_NOLINKSPEED = 1, 2, 3, 4
