// Every way the OTA path says no. A refusal changes nothing: the running model keeps running, the
// store's state is untouched, and the reason names the check that failed.
export const REFUSAL_CODES = [
  'unsigned', 'bad_signature', 'threshold', 'expired', 'hw_profile', 'version', 'io_mismatch',
  'manifest', 'hash', 'length', 'too_large', 'offset', 'unknown_upload', 'incomplete',
  'self_test', 'warm_up', 'too_slow', 'non_finite', 'busy', 'not_installed', 'disabled',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

export class OtaRefusal extends Error {
  constructor(readonly code: RefusalCode, message: string, readonly detail: Record<string, unknown> = {}) {
    super(message);
    this.name = 'OtaRefusal';
  }
}
