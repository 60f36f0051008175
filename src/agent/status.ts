// Per-node status objects and the profile-wide state computed from them. Each node's agent writes only its
// own SecurityProfileNodeStatus; every agent recomputes the profile's status from all of them, so the
// writes converge on the same value whichever agent writes last.

import { createHash } from 'node:crypto';
import type { ProfileState } from '../k8s/api';

const MAX_NAME = 253;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const hash = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

/** `s` when it fits in a 253-character object name, else a truncated prefix plus a hash of all of it. */
function fitName(full: string): string {
  if (full.length <= MAX_NAME) return full;
  const prefix = full.slice(0, MAX_NAME - 17).replace(/[-.]+$/, '');
  return `${prefix}-${hash(full, 16)}`;
}

/** As SPO names them: `<kind in lower case>-<profile>-<node>` (hashed when longer than 253 characters). */
export function nodeStatusName(kind: string, profile: string, node: string): string {
  return fitName(`${kind.toLowerCase()}-${profile}-${node}`);
}

/** SPO's profile-id label value: `<Kind>-<name>`, as a valid label value (prefix + hash when too long). */
export function profileId(kind: string, profile: string): string {
  return labelValue(`${kind}-${profile}`);
}

/** `s` when it is a valid label value, else a valid one derived from it (prefix + hash). */
export function labelValue(s: string): string {
  if (s.length <= 63 && LABEL_VALUE.test(s)) return s;
  const prefix = s.slice(0, 52).replace(/[^A-Za-z0-9]+$/, '').replace(/^[^A-Za-z0-9]+/, '');
  return prefix ? `${prefix}-${hash(s, 10)}` : hash(s, 10);
}

// SPO's LowerOfTwoStates order (api/secprofnodestatus/v1): the lowest state any node is in is the profile's.
const ORDER: readonly ProfileState[] = ['Error', 'Terminating', 'Partial', 'Disabled', 'Pending', 'InProgress', 'Installed'];

/** SPO's LowerOfTwoStates. */
export function lowerOfTwoStates(a: ProfileState, b: ProfileState): ProfileState {
  return ORDER.indexOf(b) < ORDER.indexOf(a) ? b : a;
}

/**
 * The profile-wide state from the nodes' states, as SPO rolls it up: the lowest common state, starting from
 * Installed (Error < Terminating < Partial < Disabled < Pending < InProgress < Installed). No node yet: Pending.
 */
export function aggregateState(states: ProfileState[]): ProfileState {
  if (states.length === 0) return 'Pending';
  return states.reduce(lowerOfTwoStates, 'Installed');
}
