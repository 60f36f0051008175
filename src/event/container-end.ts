// A container's end, as the runtime (CRI) reports it: what closes a recording session, in the embedded
// recorder and (as an end marker) through Kafka. Here, below both, so that neither reaches into the other.

import type { ContainerRef, PodRef } from './v1';

export interface ContainerEnd {
  container: ContainerRef;
  pod: PodRef | null;
  /** RFC 3339 time the runtime reported the container exited (or the pod gone). */
  at: string;
  reason: 'exited' | 'pod-removed' | 'stop';
}
