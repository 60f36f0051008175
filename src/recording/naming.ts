// Profile names, as SPO names recorded profiles, for the embedded recorder and the aggregator alike (a profile
// gets the same name whether it was recorded in-process or through Kafka): `<recording>-<container>`, plus
// `-<replica>` with merge strategy `none`.
import type { ContainerRef, PodRef } from '../event/v1';
import type { RecordingSpec } from '../profile/recording';

/** The replica part: the random suffix of a generated pod name, else derived from the pod uid (stable for fixed-name pods). */
export function replicaSuffix(container: ContainerRef, pod: PodRef | null): string {
  if (!pod) return container.id.slice(0, 12).toLowerCase();
  const m = /-([a-z0-9]{5})$/.exec(pod.name);
  // a pod made from generateName ends in 5 random [a-z0-9]; a fixed-name pod gets a stable uid-derived suffix
  if (m && pod.name.split('-').length > 2) return m[1]!;
  return pod.uid.replace(/-/g, '').slice(0, 8).toLowerCase();
}

export function containerNameOf(container: ContainerRef): string {
  return container.name ?? container.id.slice(0, 12);
}

/** The name of the profile a container of `rec` contributes to. */
export function profileName(rec: RecordingSpec, container: ContainerRef, pod: PodRef | null): string {
  const base = `${rec.name}-${containerNameOf(container)}`;
  return rec.mergeStrategy === 'none' ? `${base}-${replicaSuffix(container, pod)}` : base;
}

/** The key of the profile group a container contributes to: one per profile of one recording. */
export function groupKey(rec: RecordingSpec, container: ContainerRef, pod: PodRef | null): string {
  return `${rec.kind}/${rec.name}\0${profileName(rec, container, pod)}`;
}
