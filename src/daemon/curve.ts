// The daemon's CURVE keys (params ops.curve): the ops RPC, telemetry and the GR00T service share
// one server key pair and one client allowlist.
import { derivePublicKey, readKeyFile, type ServerCurve } from '../io/zmq/index.js';
import type { NodeParams } from './params.js';

/** The CURVE setup of the ops params, or undefined when none is configured. Key files are read with their permissions checked. */
export async function serverCurve(params: NodeParams): Promise<ServerCurve | undefined> {
  const c = params.ops.curve;
  if (!c.secret_key_file) return undefined;
  const secretKey = await readKeyFile(c.secret_key_file, 'secret');
  const publicKey = c.public_key_file ? await readKeyFile(c.public_key_file, 'public') : derivePublicKey(secretKey);
  return { publicKey, secretKey, allowedClients: c.allowed_clients };
}
