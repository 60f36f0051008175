// Process lineage learnt from the audit stream itself: which pid forked which.
//
// A container's short-lived processes (`ls`, `cat`, every command of a shell script) have usually exited by the
// time their records are read, so /proc/<pid>/cgroup cannot say where they ran. Their parent usually can (the
// shell lives on), and the kernel tells us the parent: a SYSCALL record of clone/clone3/fork/vfork carries the
// parent as `pid` and the child as `exit`, and every SYSCALL record carries `ppid`. With the audit rule of
// audit-rules.ts installed, every fork on the node leaves such a record, and a gone pid is attributed to its
// nearest ancestor that is still (or was recently) known — a process never changes container by forking.
//
// The child's first SECCOMP records can precede its parent's clone record in the log (the child may run before
// the parent returns from clone), so callers learn from a whole batch before they enrich it.
//
// Each link keeps the audit time of the record that showed it: at that moment the parent was alive and was the
// child's parent, so "which container was the parent in" is asked for that moment, not for the time of the
// child's record. The parent may have exited since and its pid been reused (by another container's init, say):
// asking for the child's record time would then name the new holder's container (task-table.ts).
import { LRUCache } from 'lru-cache';
import type { EventV1 } from '../event/v1';

export class ProcessLineage {
  private readonly parents: LRUCache<number, { ppid: number; atMs: number }>;
  readonly stats = { learnt: 0 };

  constructor(maxEntries = 65536) {
    this.parents = new LRUCache({ max: maxEntries });
  }

  get size(): number {
    return this.parents.size;
  }

  /** Remembers what the event (its record stamped `atMs`) says about parents; cheap for events that say nothing. */
  learn(ev: EventV1, atMs: number): void {
    if (ev.pid === null || ev.pid <= 0) return;
    // ppid is lifted into the event from a SYSCALL sibling; a SYSCALL record on its own keeps it in its fields
    const ppid = ev.ppid ?? (ev.type === 'SYSCALL' && ev.fields ? Number(ev.fields['ppid']) : NaN);
    if (Number.isInteger(ppid) && ppid > 0) this.set(ev.pid, ppid, atMs);
  }

  private set(child: number, parent: number, atMs: number): void {
    if (child === parent || parent <= 1) return;
    const known = this.parents.get(child);
    if (known?.ppid === parent) {
      // keep the earliest sighting of the link: nearest to the fork, when the parent was surely alive
      if (atMs < known.atMs) known.atMs = atMs;
      return;
    }
    this.parents.set(child, { ppid: parent, atMs });
    this.stats.learnt++;
  }

  /**
   * Parent, grandparent, … of `pid` as far as known (at most `max`, never looping), each with the audit time at
   * which it was seen to be the parent of the one before.
   */
  ancestors(pid: number, max = 16): { pid: number; atMs: number }[] {
    const out: { pid: number; atMs: number }[] = [];
    const seen = new Set<number>([pid]);
    let p = this.parents.get(pid);
    while (p !== undefined && out.length < max && !seen.has(p.ppid)) {
      out.push({ pid: p.ppid, atMs: p.atMs });
      seen.add(p.ppid);
      p = this.parents.get(p.ppid);
    }
    return out;
  }
}
