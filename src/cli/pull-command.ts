// `auditflow pull`: fetch a profile artifact (auditflow's or spoc's), verify its cosign signature, write the profile.

import * as fs from 'node:fs';
import { writeFileAtomic } from '../io/atomic';
import { ArtifactError, hostPlatform, parsePlatform } from '../oci/artifact';
import { RegistryError } from '../oci/client';
import { loadPublicKey, SignatureError } from '../oci/cosign';
import { pullProfile } from '../oci/registry-ops';
import { list, UsageError, type Command } from './command';
import { clientOptions, referenceArg, REGISTRY_HELP, REGISTRY_OPTIONS } from './oci-options';

export const pullCommand: Command = {
  name: 'pull',
  summary:
    'Pull a profile artifact (pushed by auditflow push or spoc push) and write the profile exactly as pushed.\n' +
    'Its cosign signature must verify against a --key, unless --insecure-skip-verify.',
  usage: 'pull [options] REGISTRY/REPO[:TAG|@sha256:DIGEST]',
  help: [
    '  --key FILE             trusted cosign public key (PEM); repeatable: any one of them may have signed',
    '  --insecure-skip-verify do not require a signature',
    '  --platform OS/ARCH[/VARIANT]  the platform to pull the profile for (default: this machine\'s, linux/amd64 here)',
    '  -o, --output FILE      write the profile there (default: stdout)',
    '  --json                 print what was pulled (digest, kind, layer, annotations) as JSON on stderr',
    REGISTRY_HELP,
  ].join('\n'),
  options: {
    key: { type: 'string', multiple: true },
    'insecure-skip-verify': { type: 'boolean' },
    platform: { type: 'string' },
    output: { type: 'string', short: 'o' },
    json: { type: 'boolean' },
    ...REGISTRY_OPTIONS,
  },
  async run(v, positionals) {
    const [target, ...extra] = positionals;
    const ref = referenceArg(target, 'REGISTRY/REPO[:TAG|@sha256:DIGEST]');
    if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
    const keyFiles = list(v.key);
    const skip = v['insecure-skip-verify'] === true;
    if (!keyFiles.length && !skip) throw new UsageError('give --key PUBLIC_KEY to verify the signature with, or --insecure-skip-verify');
    let keys;
    try {
      keys = keyFiles.map((f) => loadPublicKey(fs.readFileSync(f), f));
    } catch (e) {
      throw new UsageError((e as Error).message, { cause: e });
    }
    let platform;
    try {
      platform = v.platform !== undefined ? parsePlatform(v.platform as string) : hostPlatform();
    } catch (e) {
      throw new UsageError((e as Error).message, { cause: e });
    }
    try {
      const r = await pullProfile({ reference: target, platform, keys, requireSignature: !skip, client: clientOptions(v, ref.registry) });
      if (v.output !== undefined) await writeFileAtomic(v.output as string, r.content);
      else process.stdout.write(r.content);
      if (v.json) {
        process.stderr.write(
          JSON.stringify({ digest: r.digest, manifestDigest: r.manifestDigest, kind: r.kind, layer: r.layer, annotations: r.annotations, verified: r.verifiedBy !== undefined ? keyFiles[r.verifiedBy] : false }) + '\n',
        );
      }
      return 0;
    } catch (e) {
      if (e instanceof ArtifactError || e instanceof RegistryError || e instanceof SignatureError) {
        process.stderr.write(`auditflow pull: refused ${target}: ${e.message}\n`);
        return 1;
      }
      throw e;
    }
  },
};
