"""The BPF side of the driver: C source compiled by bcc, and the record layout it produces.

Design (why it looks like this):

* One enter and one exit program, attached to the ``syscalls:sys_enter_<name>`` /
  ``sys_exit_<name>`` tracepoints of the selected syscalls only: an uninteresting syscall never
  runs BPF code (the kernel tests a bitmap), which keeps the host's syscall rate (attaching to
  ``raw_syscalls`` instead halved a ``dd bs=1`` loop here). Every ``sys_enter_*`` record has the
  same layout (``__syscall_nr`` at 8, six 8-byte argument slots from 16) and every
  ``sys_exit_*`` record ``ret`` at 16, so one program serves them all. What each syscall needs is
  data (the ``specs`` array, indexed by syscall number, filled from user space).
* ``sys_enter`` only stashes the six arguments per thread (``stashes``); ``sys_exit`` builds one
  record with the return value and whatever user memory the exit event needs (paths, sockaddrs),
  read at exit as the modern probe does. ``execve`` is the exception: its user memory is gone
  after a successful exec, so filename and argv are read at enter into ``exec_stash``.
* Arguments are copied from the tracepoint with constant indexes (the verifier rejects
  variable-offset reads of ``args``); the per-syscall argument positions come from ``specs`` and
  are resolved with a switch.
* No kernel struct is read: the compile-time headers do not match the running kernel, and these
  kernels may lack kprobes (CONFIG_KPROBES off here) and refuse fentry programs. What only the
  kernel's socket knows (the local side of a connect) is resolved in user space
  (``events.local_address``); ``laddr``/``lport`` in ``rec_sock`` stay reserved for it.
* Records go through one BPF ring buffer (Linux >= 5.8) with fixed sizes per record class;
  a failed output increments a per-CPU drop counter of Falco's categories.
* The driver's own process is excluded in the kernel (``config[0]`` = its tgid): a Python engine
  that traced its own reads and writes would feed on itself.
"""

from __future__ import annotations

import struct

#: Record kinds (``hdr.kind``).
KIND_SYSCALL_EXIT = 1
KIND_PROCEXIT = 2

#: Argument classes (``specs[nr].cls``): what the exit record carries besides the header.
CLS_OFF = 0  # not captured
CLS_PLAIN = 1  # header only (args + return value)
CLS_STR1 = 2  # one user string: args[a1] (record cut after the string)
CLS_STR2 = 3  # two user strings: args[a1], args[a2]
CLS_SOCKADDR = 4  # a sockaddr at args[a1] of length args[a2] (connect, bind, sendto)
CLS_SOCKADDR_PTRLEN = 5  # a sockaddr at args[a1], length at *args[a2] (accept, accept4)
CLS_EXEC = 6  # filename at args[a1] and argv at args[a2], read at enter
CLS_CLONE = 7  # clone/fork/vfork: flags in args[0]; the child's exit gets ptid and flags
CLS_CLONE3 = 8  # clone3: flags read from the struct clone_args at args[0]

#: Drop categories (``specs[nr].cat``), Falco's ``n_drops_buffer_*_exit`` names.
DROP_CATEGORIES = (
    "other_interest", "clone_fork", "execve", "connect", "open", "dir_file", "close", "proc",
)
CAT = {name: i for i, name in enumerate(DROP_CATEGORIES)}

#: Per-CPU counters (``counters`` array): 0 = records delivered, 1..8 = buffer drops per
#: category, 9 = per-thread stash full (enter arguments lost), 10 = user memory unreadable.
COUNTER_EVTS = 0
COUNTER_DROP_BASE = 1
COUNTER_STASH_FULL = 9
COUNTER_READ_FAULT = 10
N_COUNTERS = 11

STR_SZ = 256
ARGV_SZ = 1024
ARGV_MAX = 24
SOCKADDR_SZ = 112
NR_MAX = 512

#: ts, tid, pid, uid, gid, ret, nr, kind, cls, cpu, comm, args[6], len1, len2, aux1, aux2
HDR = struct.Struct("<QIIIIqHBBI16s6QIIII")
HDR_SZ = HDR.size  # 120
SOCK_TAIL = struct.Struct(f"<{SOCKADDR_SZ}s4IHHI")  # addr, laddr[4], lport, lfamily, pad

BPF_TEXT = r"""
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

#define STR_SZ __STR_SZ__
#define ARGV_SZ __ARGV_SZ__
#define ARGV_HALF (ARGV_SZ / 2)
#define ARGV_MAX __ARGV_MAX__
#define SOCKADDR_SZ __SOCKADDR_SZ__
#define NR_MAX __NR_MAX__

#define KIND_SYSCALL_EXIT 1
#define KIND_PROCEXIT 2
#define CLS_OFF 0
#define CLS_PLAIN 1
#define CLS_STR1 2
#define CLS_STR2 3
#define CLS_SOCKADDR 4
#define CLS_SOCKADDR_PTRLEN 5
#define CLS_EXEC 6
#define CLS_CLONE 7
#define CLS_CLONE3 8
#define CAT_PROC 7
#define COUNTER_EVTS 0
#define COUNTER_DROP_BASE 1
#define COUNTER_STASH_FULL 9
#define COUNTER_READ_FAULT 10

struct hdr {
    u64 ts;
    u32 tid;
    u32 pid;
    u32 uid;
    u32 gid;
    s64 ret;
    u16 nr;
    u8 kind;
    u8 cls;
    u32 cpu;
    char comm[16];
    u64 args[6];
    u32 len1;
    u32 len2;
    u32 aux1;
    u32 aux2;
};
struct rec_str { struct hdr h; char s1[STR_SZ]; char s2[STR_SZ]; };
struct rec_sock {
    struct hdr h;
    u8 addr[SOCKADDR_SZ];
    u32 laddr[4];
    u16 lport;
    u16 lfamily;
    u32 pad;
};
struct rec_exec { struct hdr h; char s1[STR_SZ]; char argv[ARGV_SZ]; };

struct stash { u64 args[6]; u32 nr; u32 pad; };
/* the common layout of syscalls:sys_enter_* and syscalls:sys_exit_* records */
struct sc_enter { u64 common; s32 nr; u32 pad; u64 args[6]; };
struct sc_exit { u64 common; s32 nr; u32 pad; s64 ret; };
struct argspec { u8 cls; u8 a1; u8 a2; u8 cat; };
struct fork_info { u32 ptid; u32 pad; u64 flags; };

BPF_ARRAY(specs, struct argspec, NR_MAX);
BPF_ARRAY(config, u32, 4);
BPF_TABLE("lru_hash", u32, struct stash, stashes, 65536);
BPF_TABLE("lru_hash", u32, struct rec_exec, exec_stash, 1024);
BPF_TABLE("lru_hash", u32, struct fork_info, forks, 8192);
BPF_PERCPU_ARRAY(scratch_str, struct rec_str, 1);
BPF_PERCPU_ARRAY(scratch_sock, struct rec_sock, 1);
BPF_PERCPU_ARRAY(scratch_exec, struct rec_exec, 1);
BPF_PERCPU_ARRAY(counters, u64, __N_COUNTERS__);
BPF_RINGBUF_OUTPUT(events, __PAGES__);

static __always_inline void count(u32 idx) {
    u64 *c = counters.lookup(&idx);
    if (c) (*c)++;
}

static __always_inline int is_self(u32 tgid) {
    u32 zero = 0;
    u32 *self = config.lookup(&zero);
    return self && *self == tgid;
}

static __always_inline int drop_failed(void) {
    u32 one = 1;
    u32 *v = config.lookup(&one);
    return v && *v;
}

static __always_inline u64 arg_at(struct stash *st, u8 i) {
    switch (i) {
    case 0: return st->args[0];
    case 1: return st->args[1];
    case 2: return st->args[2];
    case 3: return st->args[3];
    case 4: return st->args[4];
    case 5: return st->args[5];
    }
    return 0;
}

static __always_inline void fill_hdr(struct hdr *h, u8 kind, u8 cls, u32 nr, s64 ret,
                                     u64 pid_tgid) {
    u64 ug = bpf_get_current_uid_gid();
    h->ts = bpf_ktime_get_boot_ns();
    h->tid = (u32)pid_tgid;
    h->pid = pid_tgid >> 32;
    h->uid = (u32)ug;
    h->gid = ug >> 32;
    h->ret = ret;
    h->nr = nr;
    h->kind = kind;
    h->cls = cls;
    h->cpu = bpf_get_smp_processor_id();
    bpf_get_current_comm(&h->comm, sizeof(h->comm));
    h->len1 = 0;
    h->len2 = 0;
    h->aux1 = 0;
    h->aux2 = 0;
}

static __always_inline void copy_args(struct hdr *h, struct stash *st) {
    if (st) {
        h->args[0] = st->args[0]; h->args[1] = st->args[1]; h->args[2] = st->args[2];
        h->args[3] = st->args[3]; h->args[4] = st->args[4]; h->args[5] = st->args[5];
    } else {
        h->args[0] = 0; h->args[1] = 0; h->args[2] = 0;
        h->args[3] = 0; h->args[4] = 0; h->args[5] = 0;
    }
}

static __always_inline void submitted(int err, u8 cat) {
    if (err) count(COUNTER_DROP_BASE + (cat & 7));
    else count(COUNTER_EVTS);
}

static __always_inline u32 read_str(char *dst, u64 src) {
    if (!src) return 0;
    int n = bpf_probe_read_user_str(dst, STR_SZ, (const void *)src);
    if (n < 0) { count(COUNTER_READ_FAULT); dst[0] = 0; return 0; }
    return n;
}

/* ``nargs`` is a constant in each on_sys_enter_N below: the kernel refuses to attach a program
 * that reads past the record of the tracepoint (close's record has 1 argument slot, not 6). */
static __always_inline int do_sys_enter(struct sc_enter *args, const int nargs) {
    long id = args->nr;
    if (id < 0 || id >= NR_MAX) return 0;
    u32 idx = id;
    struct argspec *sp = specs.lookup(&idx);
    if (!sp || sp->cls == CLS_OFF) return 0;
    u64 pt = bpf_get_current_pid_tgid();
    if (is_self(pt >> 32)) return 0;
    u32 tid = (u32)pt;
    struct stash st = {};
    if (nargs > 0) st.args[0] = args->args[0];
    if (nargs > 1) st.args[1] = args->args[1];
    if (nargs > 2) st.args[2] = args->args[2];
    if (nargs > 3) st.args[3] = args->args[3];
    if (nargs > 4) st.args[4] = args->args[4];
    if (nargs > 5) st.args[5] = args->args[5];
    st.nr = idx;
    if (sp->cls == CLS_CLONE3) {
        u64 flags = 0;
        if (bpf_probe_read_user(&flags, sizeof(flags), (const void *)st.args[0]))
            count(COUNTER_READ_FAULT);
        st.args[0] = flags;
    }
    if (stashes.update(&tid, &st)) count(COUNTER_STASH_FULL);
    if (sp->cls == CLS_EXEC) {
        u32 zero = 0;
        struct rec_exec *r = scratch_exec.lookup(&zero);
        if (!r) return 0;
        r->h.len1 = read_str(r->s1, arg_at(&st, sp->a1));
        u64 argvp = arg_at(&st, sp->a2);
        u32 off = 0;
        u32 truncated = 0;
        #pragma unroll
        for (int i = 0; i < ARGV_MAX; i++) {
            const char *p = NULL;
            if (!argvp || bpf_probe_read_user(&p, sizeof(p), (const void *)(argvp + i * 8)))
                break;
            if (!p) break;
            if (off >= ARGV_HALF) { truncated = 1; break; }
            int n = bpf_probe_read_user_str(&r->argv[off & (ARGV_HALF - 1)], ARGV_HALF, p);
            if (n <= 0) break;
            off += n;
        }
        r->h.len2 = off;
        r->h.aux2 = truncated;
        if (exec_stash.update(&tid, r)) count(COUNTER_STASH_FULL);
    }
    return 0;
}

int on_sys_enter_0(struct sc_enter *args) { return do_sys_enter(args, 0); }
int on_sys_enter_1(struct sc_enter *args) { return do_sys_enter(args, 1); }
int on_sys_enter_2(struct sc_enter *args) { return do_sys_enter(args, 2); }
int on_sys_enter_3(struct sc_enter *args) { return do_sys_enter(args, 3); }
int on_sys_enter_4(struct sc_enter *args) { return do_sys_enter(args, 4); }
int on_sys_enter_5(struct sc_enter *args) { return do_sys_enter(args, 5); }
int on_sys_enter_6(struct sc_enter *args) { return do_sys_enter(args, 6); }

int on_sys_exit(struct sc_exit *args) {
    long id = args->nr;
    if (id < 0 || id >= NR_MAX) return 0;
    u32 idx = id;
    struct argspec *sp = specs.lookup(&idx);
    if (!sp || sp->cls == CLS_OFF) return 0;
    u64 pt = bpf_get_current_pid_tgid();
    if (is_self(pt >> 32)) return 0;
    u32 tid = (u32)pt;
    s64 ret = args->ret;
    if (ret < 0 && drop_failed()) {
        stashes.delete(&tid);
        exec_stash.delete(&tid);
        return 0;
    }
    u8 cls = sp->cls;
    u8 cat = sp->cat;
    u32 zero = 0;
    struct stash *st = stashes.lookup(&tid);
    if (st && st->nr != idx) st = NULL;  /* stale stash of an interrupted syscall */

    if (cls == CLS_EXEC) {
        struct rec_exec *r = exec_stash.lookup(&tid);
        if (r) {
            u32 len1 = r->h.len1, len2 = r->h.len2, trunc = r->h.aux2;
            fill_hdr(&r->h, KIND_SYSCALL_EXIT, cls, idx, ret, pt);
            copy_args(&r->h, st);
            r->h.len1 = len1;
            r->h.len2 = len2;
            r->h.aux2 = trunc;
            submitted(events.ringbuf_output(r, sizeof(*r), 0), cat);
            exec_stash.delete(&tid);
            if (st) stashes.delete(&tid);
            return 0;
        }
        cls = CLS_PLAIN;  /* exec from a non-leader thread changed the tid: header only */
    }

    if (cls == CLS_STR1 || cls == CLS_STR2) {
        struct rec_str *r = scratch_str.lookup(&zero);
        if (!r) return 0;
        fill_hdr(&r->h, KIND_SYSCALL_EXIT, cls, idx, ret, pt);
        copy_args(&r->h, st);
        if (st) {
            r->h.len1 = read_str(r->s1, arg_at(st, sp->a1));
            if (cls == CLS_STR2) r->h.len2 = read_str(r->s2, arg_at(st, sp->a2));
        }
        if (cls == CLS_STR1) {
            /* only the string's bytes: paths are short, the ring buffer is not */
            u64 sz = sizeof(struct hdr) + r->h.len1;
            if (sz > sizeof(struct hdr) + STR_SZ) sz = sizeof(struct hdr) + STR_SZ;
            submitted(events.ringbuf_output(r, sz, 0), cat);
        } else
            submitted(events.ringbuf_output(r, sizeof(*r), 0), cat);
    } else if (cls == CLS_SOCKADDR || cls == CLS_SOCKADDR_PTRLEN) {
        struct rec_sock *r = scratch_sock.lookup(&zero);
        if (!r) return 0;
        fill_hdr(&r->h, KIND_SYSCALL_EXIT, cls, idx, ret, pt);
        copy_args(&r->h, st);
        r->laddr[0] = 0; r->laddr[1] = 0; r->laddr[2] = 0; r->laddr[3] = 0;
        r->lport = 0;
        r->lfamily = 0;
        if (st) {
            u64 ptr = arg_at(st, sp->a1);
            u64 len = arg_at(st, sp->a2);
            if (cls == CLS_SOCKADDR_PTRLEN) {
                u32 l = 0;
                if (len) bpf_probe_read_user(&l, sizeof(l), (const void *)len);
                len = l;
            }
            if (len > SOCKADDR_SZ) len = SOCKADDR_SZ;
            if (ptr && len > 0) {
                if (bpf_probe_read_user(r->addr, len & 127, (const void *)ptr))
                    count(COUNTER_READ_FAULT);
                else
                    r->h.len1 = len;
            }
        }
        submitted(events.ringbuf_output(r, sizeof(*r), 0), cat);
    } else {
        struct rec_str *r = scratch_str.lookup(&zero);
        if (!r) return 0;
        fill_hdr(&r->h, KIND_SYSCALL_EXIT, cls, idx, ret, pt);
        copy_args(&r->h, st);
        if ((cls == CLS_CLONE || cls == CLS_CLONE3) && ret == 0) {
            /* the child's side: no stash of its own; sched_process_fork left ptid + flags */
            struct fork_info *fi = forks.lookup(&tid);
            if (fi) {
                r->h.aux1 = fi->ptid;
                r->h.args[0] = fi->flags;
                forks.delete(&tid);
            }
        }
        submitted(events.ringbuf_output(r, sizeof(struct hdr), 0), cat);
    }
    if (st) stashes.delete(&tid);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_fork) {
    u64 pt = bpf_get_current_pid_tgid();
    if (is_self(pt >> 32)) return 0;
    u32 tid = (u32)pt;
    struct stash *st = stashes.lookup(&tid);
    if (!st) return 0;  /* kernel threads, or clone not captured */
    u32 idx = st->nr;
    struct argspec *sp = specs.lookup(&idx);
    if (!sp || (sp->cls != CLS_CLONE && sp->cls != CLS_CLONE3)) return 0;
    struct fork_info fi = {};
    fi.ptid = tid;
    fi.flags = st->args[0];
    u32 child = args->child_pid;
    forks.update(&child, &fi);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exit) {
    u64 pt = bpf_get_current_pid_tgid();
    if (is_self(pt >> 32)) return 0;
    u32 zero = 0;
    struct rec_str *r = scratch_str.lookup(&zero);
    if (!r) return 0;
    fill_hdr(&r->h, KIND_PROCEXIT, CLS_PLAIN, 0, 0, pt);
    copy_args(&r->h, NULL);
    r->h.args[0] = args->group_dead;
    u32 tid = (u32)pt;
    stashes.delete(&tid);
    submitted(events.ringbuf_output(r, sizeof(struct hdr), 0), CAT_PROC);
    return 0;
}

"""


def bpf_text(ring_pages: int) -> str:
    """The C program with its sizes filled in (``ring_pages``: a power of two)."""
    subst = {
        "__STR_SZ__": STR_SZ, "__ARGV_SZ__": ARGV_SZ, "__ARGV_MAX__": ARGV_MAX,
        "__SOCKADDR_SZ__": SOCKADDR_SZ, "__NR_MAX__": NR_MAX, "__N_COUNTERS__": N_COUNTERS,
        "__PAGES__": ring_pages,
    }
    text = BPF_TEXT
    for key, value in subst.items():
        text = text.replace(key, str(value))
    return text
