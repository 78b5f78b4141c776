export {
  TeleopReceiver, TeleopPublisher, encodeTeleopCommand, encodeTeleopRelease, decodeTeleopCommand, TELEOP_PROTOCOL_VERSION,
  type TeleopCommand, type TeleopStats, type TeleopReceiverOptions, type DecodeResult,
} from './teleop.js';
export {
  OPS_PROTOCOL_VERSION, OPS_ERROR_CODES, OpsError,
  type OpsErrorCode, type OpsRequest, type OpsReply, type OpsRequestId,
} from './ops-protocol.js';
export {
  OpsServer, DEFAULT_OPS_ENDPOINT, DEFAULT_MAX_FRAME_BYTES,
  type OpsMethod, type OpsMethods, type OpsServerOptions, type OpsStats,
} from './ops.js';
export { OpsClient, OpsCallError, DEFAULT_CALL_TIMEOUT_MS, type OpsCallErrorCode, type OpsClientOptions } from './ops-client.js';
export {
  TelemetryPublisher, DEFAULT_TELEMETRY_ENDPOINT, MAX_TOPIC_LENGTH,
  type TelemetryMessage, type TelemetryPublisherOptions, type TelemetryPublisherStats,
} from './telemetry.js';
export { TelemetrySubscriber, type TelemetrySubscriberOptions, type TelemetrySubscriberStats } from './telemetry-subscriber.js';
export {
  isLoopbackEndpoint, checkBindSecurity, validateServerCurve, validateClientCurve, derivePublicKey,
  generateKeyPair, writeKeyPair, readKeyFile, readKeyPair, SecurityConfigError, DEFAULT_ZAP_DOMAIN,
  type ServerCurve, type ClientCurve, type KeyPair, type WrittenKeyPair,
} from './security.js';
export { registerZapAllowlist, ZAP_ENDPOINT, type ZapRegistration, type ZapDomainStats } from './zap.js';
export { z85Encode, z85Decode } from './z85.js';
export { Gr00tServer, defaultGr00tMapping, checkGr00tMapping, DEFAULT_GR00T_ENDPOINT, GR00T_LANGUAGE_KEY, type Gr00tMapping, type Gr00tServerOptions } from './gr00t.js';
