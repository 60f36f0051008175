// Per-node status objects and the profile-wide state computed from them. Each node's agent writes only its
// own SecurityProfileNodeStatus; every agent recomputes the profile's status from all of them, so the
// writes converge on the same value whichever agent writes last.

import { createHash } from 'node:crypto';
import type { ProfileState } from '../k8s/api';

const MAX_NAME = 253;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const hash = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

/** `<profile>-<node>`, or a truncated prefix plus a hash of both when that exceeds 253 characters. */
export function nodeStatusName(profile: string, node: string): string {
  const full = `${profile}-${node}`;
  if (full.length <= MAX_NAME) return full;
  const prefix = full.slice(0, MAX_NAME - 17).replace(/[-.]+$/, '');
  return `${prefix}-${hash(full, 16)}`;
}

/** `s` when it is a valid label value, else a valid one derived from it (prefix + hash). */
export function labelValue(s: string): string {
  if (s.length <= 63 && LABEL_VALUE.test(s)) return s;
  const prefix = s.slice(0, 52).replace(/[^A-Za-z0-9]+$/, '').replace(/^[^A-Za-z0-9]+/, '');
  return prefix ? `${prefix}-${hash(s, 10)}` : hash(s, 10);
}

/**
 * The profile-wide state from the nodes' states: any Error wins, then Terminating; Installed when every
 * node installed it; Unsupported when no node can; Partial when the rest cannot (e.g. SELinux on some
 * nodes only); otherwise it is still on its way (InProgress once one node has it, else Pending).
 */
export function aggregateState(states: ProfileState[]): ProfileState {
  if (states.length === 0) return 'Pending';
  const has = (s: ProfileState) => states.includes(s);
  if (has('Error')) return 'Error';
  if (has('Terminating')) return 'Terminating';
  if (states.every((s) => s === 'Installed')) return 'Installed';
  if (states.every((s) => s === 'Unsupported')) return 'Unsupported';
  if (states.every((s) => s === 'Installed' || s === 'Unsupported')) return 'Partial';
  return has('Installed') ? 'InProgress' : 'Pending';
}
