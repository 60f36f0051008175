// What a recording is made of: distinct seccomp (arch, syscall) and SELinux (source type, target type,
// class, permission) tuples, each with when and by what it was seen. One definition for the embedded
// recorder, the Kafka wire format and the aggregator's sessions.

export interface SeccompKey {
  arch: string | null;
  /** null when the syscall table of `arch` has no name for `nr` */
  syscall: string | null;
  nr: number;
}

export interface AvcKey {
  stype: string;
  ttype: string;
  tclass: string;
  perm: string;
}

export interface Sighting {
  firstSeen: string;
  lastSeen: string;
  /** The executable of the earliest sighting. */
  exe: string | null;
}

/** A tuple with a cumulative count from one source (a node's run, or the embedded recorder). */
export interface SeccompObservation extends SeccompKey, Sighting {
  count: number;
  /** Some sighting was by the container runtime's init (runc:[2:INIT]) before it exec'd the workload. */
  runtimeInit?: true;
}

export interface AvcObservation extends AvcKey, Sighting {
  count: number;
}

export const seccompKey = (t: SeccompKey): string => `${t.arch ?? ''}:${t.nr}`;
export const avcKey = (t: AvcKey): string => `${t.stype}:${t.ttype}:${t.tclass}:${t.perm}`;
