// The webhook's own PKI, made in-process so that auditflow needs no cert-manager: a CA (the caBundle the
// apiserver trusts) and a serving certificate it signs for the webhook Service's DNS names. ECDSA P-256
// keys (node:crypto), certificates written with the small DER writer in der.ts and signed ecdsa-with-SHA256;
// node:crypto's X509Certificate reads them back (expiry, verification).

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import * as der from './der';

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
};

export interface KeyPairPem {
  cert: string;
  key: string;
}

export interface CertSpec {
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  /** A CA certificate (basicConstraints CA, keyCertSign) or a TLS server certificate. */
  ca: boolean;
  /** Server certificates: DNS names and IP addresses (subjectAltName; CN is not used by TLS clients). */
  hosts?: string[];
}

function name(cn: string): der.Der {
  return der.sequence(
    der.set(der.sequence(der.oid(OID.organization), der.utf8String('auditflow'))),
    der.set(der.sequence(der.oid(OID.commonName), der.utf8String(cn))),
  );
}

function extension(id: string, critical: boolean, value: der.Der): der.Der {
  return critical ? der.sequence(der.oid(id), der.boolean(true), der.octetString(value)) : der.sequence(der.oid(id), der.octetString(value));
}

/** KeyUsage as a DER BIT STRING: bit 0 is the most significant bit of the first byte; trailing zero bits are dropped. */
function keyUsage(bits: number[]): der.Der {
  let byte = 0;
  for (const b of bits) byte |= 0x80 >> b;
  let unused = 0;
  while (unused < 7 && !(byte & (1 << unused))) unused++;
  return der.tlv(0x03, Buffer.from([unused, byte]));
}

function generalName(host: string): der.Der {
  const fam = isIP(host);
  if (fam === 4) return der.implicitPrimitive(7, Buffer.from(host.split('.').map(Number)));
  if (fam === 6) return der.implicitPrimitive(7, ipv6Bytes(host));
  if (!/^[A-Za-z0-9*]([-A-Za-z0-9.]*[A-Za-z0-9])?$/.test(host) || host.length > 253) throw new Error(`"${host}" is neither a DNS name nor an IP address`);
  return der.implicitPrimitive(2, Buffer.from(host, 'ascii'));
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  for (let i = 0; i < groups.length; i++) out.writeUInt16BE(parseInt(groups[i]!, 16), i * 2);
  return out;
}

/** RFC 5280 §4.2.1.2 method 1 in spirit: a hash of the public key (here of the whole SubjectPublicKeyInfo). */
function keyId(pub: KeyObject): Buffer {
  return createHash('sha1')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest();
}

/** Signs `spec` for `subjectKey` with `issuer` (itself when undefined: a self-signed CA). */
export function makeCertificate(spec: CertSpec, subjectKey: KeyObject, issuer?: { cert: X509Certificate; key: KeyObject }): string {
  const subjectPub = createPublicKey(subjectKey);
  const signerKey = issuer?.key ?? subjectKey;
  const exts: der.Der[] = [];
  if (spec.ca) {
    exts.push(extension(OID.basicConstraints, true, der.sequence(der.boolean(true))));
    exts.push(extension(OID.keyUsage, true, keyUsage([0, 5, 6]))); // digitalSignature, keyCertSign, cRLSign
  } else {
    exts.push(extension(OID.basicConstraints, true, der.sequence()));
    exts.push(extension(OID.keyUsage, true, keyUsage([0]))); // digitalSignature (ECDHE-ECDSA)
    exts.push(extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth))));
    const hosts = spec.hosts ?? [];
    if (!hosts.length) throw new Error('a server certificate needs at least one host name');
    exts.push(extension(OID.subjectAltName, false, der.sequence(...hosts.map(generalName))));
  }
  exts.push(extension(OID.subjectKeyIdentifier, false, der.octetString(keyId(subjectPub))));
  exts.push(extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicitPrimitive(0, keyId(createPublicKey(signerKey))))));
  const sigAlg = der.sequence(der.oid(OID.ecdsaWithSha256));
  // The issuer's Name is copied from its certificate rather than rebuilt, so that it matches byte for byte.
  const issuerDn = issuer ? subjectNameOf(issuer.cert.raw) : name(spec.commonName);
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // positive, at most 20 octets (RFC 5280 §4.1.2.2)
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)), // v3
    der.unsignedInteger(serial),
    sigAlg,
    issuerDn,
    der.sequence(der.time(spec.notBefore), der.time(spec.notAfter)),
    name(spec.commonName),
    subjectPub.export({ type: 'spki', format: 'der' }),
    der.explicit(3, der.sequence(...exts)),
  );
  const signature = sign('sha256', tbs, { key: signerKey, dsaEncoding: 'der' });
  const cert = der.sequence(tbs, sigAlg, der.bitString(signature));
  return toPem('CERTIFICATE', cert);
}

/** Reads a TLV at `off`: [tag, content start, end]. */
function readTlv(b: Buffer, off: number): [number, number, number] {
  const tag = b[off]!;
  let len = b[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  return [tag, start, start + len];
}

/** The DER subject Name of a DER certificate (tbsCertificate's sixth field). */
function subjectNameOf(certDer: Buffer): Buffer {
  const [, certStart] = readTlv(certDer, 0);
  const [, tbsStart] = readTlv(certDer, certStart);
  let off = tbsStart;
  // version [0], serial, signature, issuer, validity, subject
  for (let i = 0; i < 5; i++) off = readTlv(certDer, off)[2];
  const [, , end] = readTlv(certDer, off);
  return certDer.subarray(off, end);
}

function toPem(label: string, body: Buffer): string {
  const b64 = body.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

const newKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const keyPem = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' }) as string;

/** A new self-signed CA valid from a minute ago (clock skew) for `validityMs`. */
export function newCa(commonName: string, validityMs: number, now = new Date()): KeyPairPem {
  const key = newKey();
  const cert = makeCertificate({ commonName, ca: true, notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + validityMs) }, key);
  return { cert, key: keyPem(key) };
}

/** A new serving certificate for `hosts`, signed by `ca`, never outliving it. */
export function newServingCert(ca: KeyPairPem, hosts: string[], validityMs: number, now = new Date()): KeyPairPem {
  const key = newKey();
  const caCert = new X509Certificate(ca.cert);
  const notAfter = new Date(Math.min(now.getTime() + validityMs, Date.parse(caCert.validTo)));
  const cert = makeCertificate({ commonName: hosts[0]!, ca: false, hosts, notBefore: new Date(now.getTime() - 60_000), notAfter }, key, { cert: caCert, key: createPrivateKey(ca.key) });
  return { cert, key: keyPem(key) };
}

/** Each certificate of a PEM bundle. */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g)?.map((c) => (c.endsWith('\n') ? c : c + '\n')) ?? [];
}
