// Z85 (ZeroMQ RFC 32), the text form of CURVE keys: 32 key bytes <-> 40 characters. The ZAP
// handler gets a client's key as 32 raw bytes and compares it with configured Z85 keys, and config
// checks decode keys to catch a typo before libzmq turns it into a silent handshake failure.

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const VALUE = new Map<string, number>([...ALPHABET].map((c, i) => [c, i]));

/** Bytes (length a multiple of 4) to Z85 text. */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new Error(`z85: ${bytes.length} bytes is not a multiple of 4`);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let v = ((bytes[i]! << 24) >>> 0) + (bytes[i + 1]! << 16) + (bytes[i + 2]! << 8) + bytes[i + 3]!;
    let chunk = '';
    for (let j = 0; j < 5; j++) {
      chunk = ALPHABET[v % 85]! + chunk;
      v = Math.floor(v / 85);
    }
    out += chunk;
  }
  return out;
}

/** Z85 text (length a multiple of 5) to bytes; undefined when it is not valid Z85. */
export function z85Decode(text: string): Buffer | undefined {
  if (text.length % 5 !== 0) return undefined;
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let v = 0;
    for (let j = 0; j < 5; j++) {
      const d = VALUE.get(text[i + j]!);
      if (d === undefined) return undefined;
      v = v * 85 + d;
    }
    // Five characters can spell values past 2^32 - 1; those are not a valid encoding.
    if (v > 0xffffffff) return undefined;
    out.writeUInt32BE(v, (i / 5) * 4);
  }
  return out;
}
