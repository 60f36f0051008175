// What a container runtime's own code does under the container's filter. runc installs the filter in its
// (Go) init process and then execs the workload; in between, the Go runtime may run a few syscalls that one
// recording does not always see (scheduler, GC, async preemption). A profile missing one of them fails at
// random on start, which is why SPO stacks recorded profiles on a runc base profile. Measured on runc
// 1.1.5 over 40 runs here: close, epoll_ctl, execve, fstatfs, getdents64, getpid, openat, write in every
// run; futex and rt_sigreturn in some; the rest are what the Go runtime may do at any moment.

export const RUNC_BASE_SYSCALLS: readonly string[] = [
  'clone', 'close', 'epoll_ctl', 'epoll_pwait', 'execve', 'exit', 'fcntl', 'fstatfs', 'futex', 'getdents64',
  'getpid', 'gettid', 'madvise', 'mmap', 'munmap', 'nanosleep', 'openat', 'read', 'rt_sigprocmask',
  'rt_sigreturn', 'sched_yield', 'sigaltstack', 'tgkill', 'write',
];

/** comm of runc's init process in audit records, before the workload's execve. */
export const RUNC_INIT_COMM = 'runc:[2:INIT]';

export type RuntimeBase = 'auto' | 'runc' | 'none';
