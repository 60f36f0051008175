// `auditflow push`: publish profiles as an OCI artifact in spoc's layout, optionally cosign-signed.

import * as fs from 'node:fs';
import { ArtifactError, parsePlatform, type Platform } from '../oci/artifact';
import { RegistryError } from '../oci/client';
import { loadPrivateKey, SignatureError } from '../oci/cosign';
import { pushProfiles } from '../oci/registry-ops';
import { list, UsageError, type Command } from './command';
import { clientOptions, referenceArg, REGISTRY_HELP, REGISTRY_OPTIONS } from './oci-options';

export const pushCommand: Command = {
  name: 'push',
  summary:
    'Push SeccompProfile/SelinuxProfile/AppArmorProfile resources or an OCI seccomp JSON profile to an OCI registry,\n' +
    'as SPO\'s spoc does (same manifest, media types and annotations), optionally signed in cosign\'s format.\n' +
    'Prints the pushed reference with its digest (and the signature tag).',
  usage: 'push [options] REGISTRY/REPO[:TAG] [FILE]',
  help: [
    '  --platform OS/ARCH[/VARIANT]=FILE  a profile for one platform (repeatable); FILE alone is for every platform',
    '  --index                one manifest per platform under an OCI image index (default: spoc\'s single manifest',
    '                         with one layer per platform)',
    '  --annotation KEY=VALUE manifest annotation (repeatable)',
    '  --sign-key FILE        sign with this ECDSA P-256 private key (unencrypted PKCS#8/SEC1 PEM), cosign .sig scheme',
    '  --json                 print the result as JSON',
    REGISTRY_HELP,
  ].join('\n'),
  options: {
    platform: { type: 'string', multiple: true },
    index: { type: 'boolean' },
    annotation: { type: 'string', multiple: true },
    'sign-key': { type: 'string' },
    json: { type: 'boolean' },
    ...REGISTRY_OPTIONS,
  },
  async run(v, positionals) {
    const [target, file, ...extra] = positionals;
    const ref = referenceArg(target, 'REGISTRY/REPO[:TAG]');
    if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    const files: { content: Buffer; platform?: Platform; name: string }[] = [];
    const read = (f: string) => {
      try {
        return fs.readFileSync(f);
      } catch (e) {
        throw new UsageError(`${f}: ${(e as Error).message}`, { cause: e });
      }
    };
    if (file !== undefined) files.push({ content: read(file), name: file });
    for (const p of list(v.platform)) {
      const eq = p.indexOf('=');
      if (eq < 0) throw new UsageError(`--platform ${p}: expected OS/ARCH=FILE`);
      let platform: Platform;
      try {
        platform = parsePlatform(p.slice(0, eq));
      } catch (e) {
        throw new UsageError((e as Error).message, { cause: e });
      }
      files.push({ content: read(p.slice(eq + 1)), platform, name: p.slice(eq + 1) });
    }
    if (!files.length) throw new UsageError('nothing to push: give FILE or --platform OS/ARCH=FILE');
    const annotations: Record<string, string> = {};
    for (const a of list(v.annotation)) {
      const eq = a.indexOf('=');
      if (eq <= 0) throw new UsageError(`--annotation ${a}: expected KEY=VALUE`);
      annotations[a.slice(0, eq)] = a.slice(eq + 1);
    }
    let signKey;
    if (v['sign-key'] !== undefined) {
      try {
        signKey = loadPrivateKey(read(v['sign-key'] as string), v['sign-key'] as string);
      } catch (e) {
        if (e instanceof SignatureError) throw new UsageError(e.message);
        throw e;
      }
    }
    try {
      const r = await pushProfiles({ reference: target, files, annotations, index: v.index === true, ...(signKey ? { signKey } : {}), client: clientOptions(v, ref.registry) });
      if (v.json) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        process.stdout.write(`pushed ${r.kind} ${target} -> ${r.reference}\n`);
        if (r.signature) process.stdout.write(`signed ${r.digest}: ${ref.registry}/${ref.repository}:${r.signature.tag}\n`);
      }
      return 0;
    } catch (e) {
      if (e instanceof ArtifactError || e instanceof RegistryError || e instanceof SignatureError) {
        process.stderr.write(`auditflow push: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};
