/* seclog: run a command under a seccomp filter that makes the kernel write real audit records.
 *
 *   seclog [--errno NR | --kill NR | --trap NR] [--] CMD [ARG...]
 *
 * Every syscall returns SECCOMP_RET_LOG (one type=SECCOMP record each, code=0x7ffc0000), except NR
 * which returns EPERM (code=0x50001), kills the process (code=0x80000000 + ANOM_ABEND) or traps.
 * SECCOMP_FILTER_FLAG_LOG makes the kernel log those non-LOG actions too. No libseccomp, so it also
 * builds as a 32-bit static binary (-m32 -static) for real arch=40000003 compat records.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  unsigned int action = SECCOMP_RET_LOG, nr = (unsigned int)-1;
  int i = 1;
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--")) { i++; break; }
    if (i + 1 < argc && !strcmp(argv[i], "--errno")) action = SECCOMP_RET_ERRNO | EPERM;
    else if (i + 1 < argc && !strcmp(argv[i], "--kill")) action = SECCOMP_RET_KILL_PROCESS;
    else if (i + 1 < argc && !strcmp(argv[i], "--trap")) action = SECCOMP_RET_TRAP;
    else break;
    nr = (unsigned int)strtoul(argv[++i], NULL, 0);
  }
  if (i >= argc) {
    fprintf(stderr, "usage: seclog [--errno NR | --kill NR | --trap NR] [--] CMD [ARG...]\n");
    return 2;
  }
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, action),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_LOG),
  };
  struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { perror("seclog: prctl(NO_NEW_PRIVS)"); return 125; }
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG, &prog)) {
    perror("seclog: seccomp(SET_MODE_FILTER, FLAG_LOG)");
    return 125;
  }
  execvp(argv[i], argv + i);
  perror("seclog: execvp");
  return 127;
}
