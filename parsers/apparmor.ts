// AppArmor decisions: `apparmor="DENIED|ALLOWED|AUDIT|STATUS|…"` inside AVC (1400) or USER_AVC payloads
// (dbus), or the APPARMOR_* record types (1501–1507) of older kernels, where the type carries the verdict.

import type { Fields } from './fields';
import type { AppArmorInfo } from './types';

export function apparmorInfo(f: Fields, type: string): AppArmorInfo | undefined {
  let verdict = f.get('apparmor');
  if (verdict === undefined) {
    if (!type.startsWith('APPARMOR')) return undefined;
    verdict = type === 'APPARMOR' ? 'AUDIT' : type.slice('APPARMOR_'.length);
  }
  return {
    apparmor: verdict,
    operation: f.str('operation'),
    profile: f.str('profile'),
    name: f.str('name'),
    requestedMask: f.str('requested_mask'),
    deniedMask: f.str('denied_mask'),
  };
}
