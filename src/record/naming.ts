// Profile names of the embedded recorder, by the rule of DESIGN.md (and src/aggregate, so a profile gets the
// same name whether it was recorded in-process or through Kafka): `<recording>-<container>`, plus
// `-<replica>` with merge strategy `none`.
import type { ContainerRef, PodRef } from '../event/v1';
import type { RecordingSpec } from '../profile/recording';
import { matchesSelector } from '../profile/selector';

/** The replica part: the random suffix of a generated pod name, else derived from the pod uid (stable for fixed-name pods). */
export function replicaSuffix(container: ContainerRef, pod: PodRef | null): string {
  if (!pod) return container.id.slice(0, 12).toLowerCase();
  const m = /-([a-z0-9]{5})$/.exec(pod.name);
  if (m && pod.name.split('-').length > 2) return m[1]!;
  return pod.uid.replace(/-/g, '').slice(0, 8).toLowerCase();
}

export function containerNameOf(container: ContainerRef): string {
  return container.name ?? container.id.slice(0, 12);
}

export function profileName(rec: RecordingSpec, container: ContainerRef, pod: PodRef | null): string {
  const base = `${rec.name}-${containerNameOf(container)}`;
  return rec.mergeStrategy === 'none' ? `${base}-${replicaSuffix(container, pod)}` : base;
}

/** Whether `rec` records this container: its namespace, pod selector and container allow-list. */
export function recordingSelects(rec: RecordingSpec, container: ContainerRef, pod: PodRef | null): boolean {
  if (!pod) return false; // recordings select pods; a container outside any pod is not recorded
  if (rec.namespace !== null && rec.namespace !== pod.namespace) return false;
  if (rec.containers?.length && !rec.containers.includes(container.name ?? '')) return false;
  return matchesSelector(rec.podSelector, pod.labels);
}
