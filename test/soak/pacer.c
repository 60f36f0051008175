/* pacer: make RATE audit records a second for SECONDS seconds when run under seclog (SECCOMP_RET_LOG).
 *
 *   pacer RATE SECONDS
 *
 * Every 10 ms it makes RATE/100 getppid() calls (one SECCOMP record each) and then sleeps to the next tick
 * (clock_nanosleep, TIMER_ABSTIME: one more record), so the pace does not drift with the machine's load. No
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
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (long tick = 0; tick < seconds * 100; tick++) {
    for (long i = 0; i < per_tick; i++) syscall(SYS_getppid);
    next.tv_nsec += 10 * 1000 * 1000;
    if (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
  return 0;
}
