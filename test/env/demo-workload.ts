// The flagship's workload (test/e2e/flagship.test.ts on CRI, test/cluster/flagship.test.ts on the kubelet): file,
// process and socket work in the rig's busybox image, deterministic (no background jobs: a SIGCHLD arriving at
// another moment would change the syscalls).

/** The work itself; `tail` is what the shell does after printing "done" (keep it alive, or exit). */
export function demoWork(tail: string): string {
  return [
    'set -e',
    'busybox mkdir -p /scratch',
    'cd /scratch',
    'echo hello > f1',
    'cat f1 > f2',
    'busybox ls -l /scratch > /dev/null',
    'busybox wc -c f2 > /dev/null',
    'busybox mkdir d1',
    'busybox mv f2 d1/',
    'busybox rm -r d1',
    'echo a b c | busybox tr a-z A-Z | busybox wc -w > /dev/null',
    '(cd / && busybox ls > /dev/null)',
    'id > /dev/null',
    'busybox nc -w 1 127.0.0.1 1 < /dev/null > /dev/null 2>&1 || true',
    'echo done',
    tail,
  ].join('\n');
}
