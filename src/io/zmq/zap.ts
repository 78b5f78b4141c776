// The ZAP handler (ZeroMQ RFC 27) that enforces the CURVE client allowlists. libzmq asks whatever
// is bound at inproc://zeromq.zap.01 in the server socket's context to approve each CURVE
// handshake, and only one socket can bind there per context, so this is one shared handler in
// zeromq's global context (where every vlad socket lives), reference-counted: each CURVE server
// registers its allowlist under its ZAP domain and releases it on close; the last release closes
// the handler. Within a domain the allowlists are unioned (ops and telemetry of one daemon share
// the domain 'vlad' and, in practice, one list of operator keys); a server that needs a separate
// list names its own domain. Requests for an unknown domain or a non-CURVE mechanism get 400.
// Servers set zapEnforceDomain, so with no handler bound libzmq refuses clients (fails closed).
import { setTimeout as delay } from 'node:timers/promises';
import { Router } from 'zeromq';
import { rootLogger, type Logger } from '../../core/index.js';
import { z85Encode } from './z85.js';
import { checkBindSecurity, DEFAULT_ZAP_DOMAIN, type ServerCurve } from './security.js';

export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const BIND_RETRY_MS = 2000;

export interface ZapDomainStats {
  allowed: number;
  denied: number;
}

export interface ZapRegistration {
  readonly domain: string;
  /** Handshakes approved / refused in this registration's domain (all registrations together). */
  stats(): ZapDomainStats;
  /** Withdraws this allowlist; closes the handler when it was the last one. Idempotent. */
  release(): Promise<void>;
}

interface Entry {
  readonly keys: ReadonlySet<string>;
  readonly logger: Logger;
}

class ZapHandler {
  private readonly socket = new Router({ linger: 0, sendTimeout: 0 });
  readonly domains = new Map<string, Set<Entry>>();
  readonly counters = new Map<string, ZapDomainStats>();
  private loop: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  async start(): Promise<void> {
    // libzmq frees an inproc address in its reaper thread a little after close(), so a handler
    // started right after the previous one closed can meet EADDRINUSE for a moment: retry briefly.
    // (Not unbind() before close: in a stress loop of handshakes that aborted libzmq 4.3.5 with
    // "Assertion failed: _state == term_ack_sent ..." in pipe.cpp, about once per 500 cycles;
    // close() alone never did. The cause was not pinned down.)
    const deadline = Date.now() + BIND_RETRY_MS;
    for (;;) {
      try {
        await this.socket.bind(ZAP_ENDPOINT);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && Date.now() < deadline) {
          await delay(10);
          continue;
        }
        this.socket.close();
        throw new Error(`cannot start the ZAP handler at ${ZAP_ENDPOINT} (another ZAP handler in this process?): ${(err as Error).message}`);
      }
    }
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        // [routing id, empty, version, request id, domain, address, identity, mechanism, credentials...]
        if (frames.length < 4) continue; // nothing to address a reply to
        const [rid, delimiter, , requestId] = frames as [Buffer, Buffer, Buffer, Buffer];
        const [status, text, userId] = this.decide(frames);
        try {
          this.socket.send([rid, delimiter, '1.0', requestId, status, text, userId, '']).catch(() => {});
        } catch { /* socket closing */ }
      }
    } catch (err) {
      this.logger.warn({ err }, 'ZAP handler loop ended');
    }
  }

  private decide(frames: Buffer[]): [status: string, text: string, userId: string] {
    const [, , version, , domainBuf, addressBuf, , mechanismBuf, ...credentials] = frames;
    const domain = domainBuf?.toString() ?? '';
    const address = addressBuf?.toString() ?? '';
    const entries = this.domains.get(domain);
    const deny = (reason: string, extra: Record<string, unknown> = {}): [string, string, string] => {
      const c = this.counters.get(domain);
      if (c) c.denied++;
      const logger = entries?.values().next().value?.logger ?? this.logger;
      logger.warn({ domain, address, ...extra }, `ZAP: client refused: ${reason}`);
      return ['400', reason, ''];
    };
    if (version?.toString() !== '1.0') return deny(`unsupported ZAP version ${String(version)}`);
    if (!entries) return deny(`unknown ZAP domain '${domain}'`);
    if (mechanismBuf?.toString() !== 'CURVE' || credentials.length !== 1 || credentials[0]!.length !== 32) {
      return deny(`mechanism ${mechanismBuf?.toString() ?? '?'} is not CURVE`);
    }
    const clientKey = z85Encode(credentials[0]!); // a public key: fine to log
    for (const e of entries) {
      if (e.keys.has(clientKey)) {
        this.counters.get(domain)!.allowed++;
        e.logger.debug({ domain, address, clientKey }, 'ZAP: client allowed');
        return ['200', 'OK', clientKey];
      }
    }
    return deny('public key not in the allowlist', { clientKey });
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.loop;
  }
}

let handler: ZapHandler | undefined;
// Register and release run one at a time, so a release that closes the handler and a register
// that needs it never interleave around the bind.
let chain: Promise<unknown> = Promise.resolve();
function serialized<T>(fn: () => Promise<T>): Promise<T> {
  const p = chain.then(fn);
  chain = p.catch(() => {});
  return p;
}

/** Adds an allowlist (Z85 public keys) for `domain`, starting the shared handler if needed. */
export function registerZapAllowlist(domain: string, allowedClients: readonly string[], logger: Logger = rootLogger().child({ part: 'zap' })): Promise<ZapRegistration> {
  return serialized(async () => {
    if (!handler) {
      const h = new ZapHandler(logger);
      await h.start();
      handler = h;
    }
    const h = handler;
    const entry: Entry = { keys: new Set(allowedClients), logger };
    let set = h.domains.get(domain);
    if (!set) { set = new Set(); h.domains.set(domain, set); }
    set.add(entry);
    if (!h.counters.has(domain)) h.counters.set(domain, { allowed: 0, denied: 0 });
    let released = false;
    return {
      domain,
      stats: () => ({ ...(h.counters.get(domain) ?? { allowed: 0, denied: 0 }) }),
      release: () => serialized(async () => {
        if (released) return;
        released = true;
        const s = h.domains.get(domain);
        s?.delete(entry);
        if (s?.size === 0) h.domains.delete(domain);
        if (h.domains.size === 0 && handler === h) {
          handler = undefined;
          await h.close();
        }
      }),
    };
  });
}

/**
 * Binds a server socket the way every vlad server does: refused beyond loopback without CURVE,
 * the allowlist registered before the first client can handshake, and on a failed bind the socket
 * closed and the allowlist released. Returns the registration to release on close.
 */
export async function bindServerSocket(socket: { bind(endpoint: string): Promise<void>; close(): void }, endpoint: string, security: ServerCurve | undefined, what: string, logger: Logger): Promise<ZapRegistration | undefined> {
  checkBindSecurity(endpoint, security);
  let zap: ZapRegistration | undefined;
  try {
    if (security) zap = await registerZapAllowlist(security.zapDomain ?? DEFAULT_ZAP_DOMAIN, security.allowedClients, logger);
    await socket.bind(endpoint);
    return zap;
  } catch (err) {
    socket.close();
    await zap?.release();
    throw new Error(`${what}: cannot bind ${endpoint}: ${(err as Error).message}`);
  }
}
