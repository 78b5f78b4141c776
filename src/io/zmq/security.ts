// Who may talk to the daemon. The rule: a socket reachable from other machines must use CURVE
// (encryption + an allowlist of client keys enforced by the ZAP handler, see zap.ts); a loopback or
// ipc socket may run without it, since only local users reach it (ipc: whoever can open the
// socket file). Servers call checkBindSecurity before binding, so a daemon configured to listen
// on 0.0.0.0 without keys refuses to start and says what to configure.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdir, open, readFile, stat, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { curveKeyPair } from 'zeromq';
import { z85Decode, z85Encode } from './z85.js';

/** ZAP domain the servers use unless their config names another. */
export const DEFAULT_ZAP_DOMAIN = 'vlad';

/** A server's CURVE setup: its key pair and the public keys of the clients it accepts. */
export interface ServerCurve {
  /** Z85, 40 characters. Not needed by libzmq; checked against secretKey to catch a mixed-up pair. */
  publicKey: string;
  /** Z85, 40 characters. Never logged. */
  secretKey: string;
  /** Z85 public keys of the clients allowed in (enforced by the ZAP handler). */
  allowedClients: readonly string[];
  /** ZAP domain (default 'vlad'). Servers sharing a domain share the union of their allowlists. */
  zapDomain?: string;
}

/** A client's CURVE setup (OpsClient, TelemetrySubscriber). */
export interface ClientCurve {
  serverPublicKey: string;
  publicKey: string;
  secretKey: string;
}

export interface KeyPair {
  publicKey: string;
  secretKey: string;
}

export class SecurityConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecurityConfigError';
  }
}

const IPV4_LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * True for endpoints only this machine can reach: ipc://, inproc://, tcp://127.x.y.z:port,
 * tcp://[::1]:port, tcp://localhost:port. Everything else (0.0.0.0, *, another address, an
 * interface name, other transports) counts as reachable from outside.
 */
export function isLoopbackEndpoint(endpoint: string): boolean {
  const m = /^([a-z]+):\/\/(.+)$/.exec(endpoint);
  if (!m) return false;
  const [, transport, address] = m as unknown as [string, string, string];
  if (transport === 'ipc' || transport === 'inproc') return true;
  if (transport !== 'tcp') return false;
  const hostPort = /^(\[[^\]]+\]|[^:[\]]+):(\d+|\*)$/.exec(address);
  if (!hostPort) return false;
  const host = hostPort[1]!.toLowerCase();
  if (host === '[::1]' || host === 'localhost') return true;
  const v4 = IPV4_LOOPBACK.exec(host);
  return v4 !== null && v4.slice(1).every((o) => Number(o) <= 255);
}

function checkKey(key: unknown, field: string): void {
  if (typeof key !== 'string') throw new SecurityConfigError(`${field}: expected a Z85 CURVE key (40 characters), got ${typeof key}`);
  if (key.length !== 40) throw new SecurityConfigError(`${field}: expected a Z85 CURVE key of 40 characters, got ${key.length} characters`);
  if (!z85Decode(key)) throw new SecurityConfigError(`${field}: not a valid Z85 key (characters outside the Z85 alphabet or an out-of-range group)`);
}

/** The public key that belongs to a secret key (CURVE keys are X25519 keys). */
export function derivePublicKey(secretKey: string): string {
  checkKey(secretKey, 'secretKey');
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), z85Decode(secretKey)!]);
  const spki = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
  return z85Encode(spki.subarray(spki.length - 32));
}

function checkPair(publicKey: string, secretKey: string, what: string): void {
  checkKey(publicKey, `${what}.publicKey`);
  checkKey(secretKey, `${what}.secretKey`);
  if (derivePublicKey(secretKey) !== publicKey) throw new SecurityConfigError(`${what}: publicKey does not belong to secretKey (mixed-up key files?)`);
}

/** Throws a SecurityConfigError naming the bad field; never echoes a secret key. */
export function validateServerCurve(curve: ServerCurve): void {
  checkPair(curve.publicKey, curve.secretKey, 'curve');
  if (!Array.isArray(curve.allowedClients) || curve.allowedClients.length === 0) {
    throw new SecurityConfigError('curve.allowedClients: empty; no client could connect (add the public keys of the operators\' clients)');
  }
  curve.allowedClients.forEach((k, i) => checkKey(k, `curve.allowedClients[${i}]`));
  const domain = curve.zapDomain ?? DEFAULT_ZAP_DOMAIN;
  if (typeof domain !== 'string' || domain.length === 0 || domain.length > 254) throw new SecurityConfigError('curve.zapDomain: expected a non-empty string');
}

export function validateClientCurve(curve: ClientCurve): void {
  checkKey(curve.serverPublicKey, 'curve.serverPublicKey');
  checkPair(curve.publicKey, curve.secretKey, 'curve');
}

/**
 * Call before binding a server socket: refuses an endpoint reachable from other machines unless
 * CURVE is configured, and validates the CURVE config when there is one.
 */
export function checkBindSecurity(endpoint: string, curve: ServerCurve | undefined): void {
  if (curve) { validateServerCurve(curve); return; }
  if (isLoopbackEndpoint(endpoint)) return;
  throw new SecurityConfigError(
    `refusing to bind ${endpoint} without CURVE: it is reachable from other machines. Bind a loopback endpoint ` +
    '(tcp://127.0.0.1:PORT or ipc://PATH), or configure CURVE: the server key pair (publicKey, secretKey) and ' +
    'allowedClients (the public keys of the clients allowed in)',
  );
}

/** Socket options for a CURVE server. zapEnforceDomain: with no ZAP handler, refuse (fail closed). */
export function serverCurveOptions(curve: ServerCurve): { curveServer: true; curveSecretKey: string; curvePublicKey: string; zapDomain: string; zapEnforceDomain: true } {
  return { curveServer: true, curveSecretKey: curve.secretKey, curvePublicKey: curve.publicKey, zapDomain: curve.zapDomain ?? DEFAULT_ZAP_DOMAIN, zapEnforceDomain: true };
}

export function clientCurveOptions(curve: ClientCurve): { curveServerKey: string; curvePublicKey: string; curveSecretKey: string } {
  return { curveServerKey: curve.serverPublicKey, curvePublicKey: curve.publicKey, curveSecretKey: curve.secretKey };
}

/** A fresh CURVE key pair (libzmq's zmq_curve_keypair). */
export function generateKeyPair(): KeyPair {
  return curveKeyPair();
}

export interface WrittenKeyPair extends KeyPair {
  publicPath: string;
  secretPath: string;
}

/**
 * Generates a key pair and writes `<dir>/<name>.key` (secret, mode 0600) and `<dir>/<name>.pub`
 * (mode 0644). Refuses to overwrite an existing file: replacing a key locks out its holders.
 */
export async function writeKeyPair(dir: string, name: string): Promise<WrittenKeyPair> {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new SecurityConfigError(`key name '${name}': use letters, digits, '.', '_' or '-'`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pair = generateKeyPair();
  const secretPath = join(dir, `${name}.key`);
  const publicPath = join(dir, `${name}.pub`);
  for (const [path, key, mode] of [[secretPath, pair.secretKey, 0o600], [publicPath, pair.publicKey, 0o644]] as const) {
    let file;
    try {
      file = await open(path, 'wx', mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new SecurityConfigError(`${path} already exists; remove it first to replace the key`);
      throw err;
    }
    try {
      await file.writeFile(`${key}\n`);
    } finally {
      await file.close();
    }
    await chmod(path, mode); // the umask may have narrowed the public file's mode
  }
  return { ...pair, publicPath, secretPath };
}

/**
 * Reads one Z85 key from a file. A `.pub` file is a public key; any other file is treated as a
 * secret key and refused when group or others have any access to it (like ssh does).
 */
export async function readKeyFile(path: string, kind: 'secret' | 'public' = path.endsWith('.pub') ? 'public' : 'secret'): Promise<string> {
  if (kind === 'secret' && process.platform !== 'win32') {
    const mode = (await stat(path)).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new SecurityConfigError(`${path}: secret key file has mode 0${mode.toString(8)}, open to group or others; a CURVE secret key must be private to its owner (chmod 600 ${path})`);
    }
  }
  const key = (await readFile(path, 'utf8')).trim();
  checkKey(key, path); // names the file and what is wrong, never the content
  return key;
}

/** Reads `<dir>/<name>.key` and `<dir>/<name>.pub` and checks that they belong together. */
export async function readKeyPair(dir: string, name: string): Promise<KeyPair> {
  const secretKey = await readKeyFile(join(dir, `${name}.key`), 'secret');
  const publicKey = await readKeyFile(join(dir, `${name}.pub`), 'public');
  checkPair(publicKey, secretKey, join(dir, name));
  return { publicKey, secretKey };
}
