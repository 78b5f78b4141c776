// The event histories the stores keep in their state files (the OTA store's bundles, the adapter
// store and each adapter's lineage): newest last, bounded so a state file never grows without end.
export const EVENT_HISTORY = 100;

/** `history` with `event` appended, keeping the newest `keep` events. */
export function appendEvent<E>(history: readonly E[], event: E, keep = EVENT_HISTORY): E[] {
  return [...history, event].slice(-keep);
}
