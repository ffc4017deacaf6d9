"""The /proc scanner against a synthetic /proc tree (and malformed entries), and the real one."""

from __future__ import annotations

import os
import socket

from pyfalco_syscall.ebpf.procscan import FD_FILE, FD_IPV4_SERVSOCK, scan, socket_table


def _proc(root, pid, *, comm="bash", ppid=1, stat=None, fds=None, tids=None):
    d = root / str(pid)
    (d / "fd").mkdir(parents=True)
    for tid in tids or [pid]:
        t = d / "task" / str(tid)
        t.mkdir(parents=True)
        (t / "status").write_text(f"Name:\t{comm}\nUid:\t1000\t1001\t1001\t1001\n"
                                  f"Gid:\t100\t101\t101\t101\nNSpid:\t{tid}\n")
        (t / "stat").write_text(stat or f"{tid} ({comm} (x)) S {ppid} {pid} {pid} 34816 0 0\n")
    (d / "cmdline").write_bytes(b"-bash\0-l\0")
    (d / "loginuid").write_text("1000")
    (d / "cgroup").write_text("0::/user.slice\n")
    (d / "environ").write_bytes(b"HOME=/home/u\0")
    (d / "limits").write_text("Max open files            1024                 4096      files\n")
    os.symlink("/home/u", d / "cwd")
    os.symlink("/usr/bin/bash", d / "exe")
    for n, target in (fds or {}).items():
        os.symlink(target, d / "fd" / str(n))
    return d


def test_scan_synthetic_tree(tmp_path):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
        "       0 777 1 0000000000000000 100 0 0 10 0\n"
        "   1: garbage\n")
    _proc(tmp_path, 100, fds={0: "/dev/pts/0", 3: "socket:[777]", 4: "pipe:[55]",
                              5: "anon_inode:[eventpoll]", 6: "/tmp/gone (deleted)"},
          tids=[100, 101])
    _proc(tmp_path, 200, stat="garbage without parens")
    (tmp_path / "self").mkdir()
    res = scan(str(tmp_path))
    assert res.vanished == 1  # the malformed pid 200, counted, not fatal
    main, thread = sorted(res.procs, key=lambda p: p.tid)
    assert (main.tid, main.pid, main.ptid, main.comm) == (100, 100, 1, "bash")
    assert main.exe == "-bash" and main.args == ["-l"] and main.exepath == "/usr/bin/bash"
    assert (main.uid, main.gid, main.loginuid, main.cwd) == (1001, 101, 1000, "/home/u")
    assert main.env == ["HOME=/home/u"] and main.fdlimit == 1024
    assert main.cgroups == [("unified", "/user.slice")]
    fds = {f.fd: f for f in main.fds}
    assert fds[0].type == FD_FILE and fds[0].name == "/dev/pts/0"
    assert fds[3].type == FD_IPV4_SERVSOCK and fds[3].name == "127.0.0.1:8080"
    assert fds[4].type == "pipe" and fds[4].ino == 55
    assert fds[5].type == "eventpoll"
    assert fds[6].name == "/tmp/gone"
    assert thread.tid == 101 and thread.pid == 100 and thread.fds == []


def test_scan_real_proc_sees_a_listening_socket():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    table = socket_table()
    assert any(f.name == f"127.0.0.1:{port}" for f in table.values())
    res = scan(with_env=False)
    me = [p for p in res.procs if p.tid == os.getpid()]
    assert me and any(f.name == f"127.0.0.1:{port}" for f in me[0].fds)
    srv.close()
