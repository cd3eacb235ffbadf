/**
 * The characters the JSON scanners look for, as bytes of UTF-8 (and, the same values, UTF-16 code
 * units of a string): shared by aaps-verify's stream splitter and input sniffing, and the
 * duplicate-key scan (which a party also reads its policy, roster and config files with).
 */
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const NEWLINE = 0x0a;
export const OPEN_BRACE = 0x7b;
/** The UTF-8 byte-order mark. */
export const BOM: readonly number[] = [0xef, 0xbb, 0xbf];

/** JSON whitespace: space, line feed, carriage return, tab. */
export function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === NEWLINE || c === 0x0d || c === 0x09;
}

/** Whether `bytes` start with a UTF-8 byte-order mark. */
export function hasBom(bytes: Uint8Array): boolean {
  return bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2];
}
