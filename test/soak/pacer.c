/* pacer: make RATE audit records a second for SECONDS seconds when run under seclog (SECCOMP_RET_LOG).
 *
 *   pacer RATE SECONDS
 *
 * Every 10 ms it makes RATE/100 getppid() calls (one SECCOMP record each) and then sleeps to the next tick
 * (clock_nanosleep, TIMER_ABSTIME: one more record), so the pace does not drift with the machine's load. It
 * stops after SECONDS of wall time even when the kernel held it back (auditd's backlog full: at 50k/s on a loaded
 * machine it gets about half), so a soak phase lasts what it says; the soak reports the rate achieved. No
 * output, no forks: every record of the run carries this one pid.
 */
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  long rate = atol(argv[1]);
  long seconds = atol(argv[2]);
  long per_tick = rate / 100;
  struct timespec next, now;
  clock_gettime(CLOCK_MONOTONIC, &next);
  time_t end = next.tv_sec + seconds;
  for (long tick = 0; tick < seconds * 100; tick++) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec >= end) break;
    for (long i = 0; i < per_tick; i++) syscall(SYS_getppid);
    next.tv_nsec += 10 * 1000 * 1000;
    if (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
  return 0;
}
