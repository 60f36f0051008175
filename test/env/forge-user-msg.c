/* forge-user-msg: sends one user-space audit message (default AUDIT_USER_AVC, 1107) through a
 * NETLINK_AUDIT socket, the way any process with CAP_AUDIT_WRITE can.
 *   forge-user-msg [-t TYPE] TEXT
 * The text is sent as is (C escapes are not interpreted), NUL-terminated.
 * Built -nostdlib -static (raw syscalls, x86_64/aarch64) so it is a few KiB and runs in a busybox rootfs.
 * Exit 0 when the kernel acked the message, else 1.
 */
#include <linux/audit.h>
#include <linux/netlink.h>
#include <sys/syscall.h>

typedef unsigned long ul;
static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
#if defined(__x86_64__)
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  ret = x0;
#else
#error unsupported arch
#endif
  return ret;
}

static ul slen(const char *s) { ul n = 0; while (s[n]) n++; return n; }
static void put(const char *s) { sys6(SYS_write, 2, (long)s, (long)slen(s), 0, 0, 0); }

static char buf[NLMSG_SPACE(9000)];
static char ack[1024];

static int run(int argc, char **argv) {
  int type = AUDIT_USER_AVC, i = 1;
  if (argc > 3 && argv[1][0] == '-' && argv[1][1] == 't') {
    type = 0;
    for (const char *p = argv[2]; *p; p++) type = type * 10 + (*p - '0');
    i = 3;
  }
  if (i >= argc) { put("usage: forge-user-msg [-t TYPE] TEXT\n"); return 2; }
  const char *text = argv[i];
  ul n = slen(text) + 1;
  if (n > 8900) n = 8900;
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  h->nlmsg_len = NLMSG_LENGTH(n);
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  h->nlmsg_seq = 1;
  h->nlmsg_pid = 0;
  char *d = (char *)NLMSG_DATA(h);
  for (ul k = 0; k + 1 < n; k++) d[k] = text[k];
  d[n - 1] = 0;
  long fd = sys6(SYS_socket, 16 /* AF_NETLINK */, 3 /* SOCK_RAW */, NETLINK_AUDIT, 0, 0, 0);
  if (fd < 0) { put("socket(NETLINK_AUDIT) failed\n"); return 1; }
  struct sockaddr_nl addr = {0};
  addr.nl_family = 16;
  if (sys6(SYS_sendto, fd, (long)buf, h->nlmsg_len, 0, (long)&addr, sizeof addr) < 0) { put("sendto failed\n"); return 1; }
  long r = sys6(SYS_recvfrom, fd, (long)ack, sizeof ack, 0, 0, 0);
  if (r < (long)NLMSG_LENGTH(sizeof(int))) { put("no ack\n"); return 1; }
  struct nlmsghdr *a = (struct nlmsghdr *)ack;
  if (a->nlmsg_type == NLMSG_ERROR && *(int *)NLMSG_DATA(a) != 0) { put("kernel refused the message\n"); return 1; }
  return 0;
}

__attribute__((used)) static void cstart(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  sys6(SYS_exit_group, run(argc, argv), 0, 0, 0, 0, 0);
}
#if defined(__x86_64__)
__asm__(".globl _start\n_start:\n xor %rbp,%rbp\n mov %rsp,%rdi\n and $-16,%rsp\n call cstart\n hlt\n");
#elif defined(__aarch64__)
__asm__(".globl _start\n_start:\n mov x0, sp\n and sp, x0, #-16\n bl cstart\n");
#endif
