/**
 * Text the `aaps` client commands print that someone else chose: a proposal's target, a sealed
 * field's path, a gateway's error message. Printed raw, a control sequence in it could retitle the
 * terminal, erase the line above or reorder what the person reads (bidirectional overrides), and a
 * person could approve or open something other than what they believe they saw.
 */

// C0 and C1 controls, DEL, the line and paragraph separators and the bidirectional formatting marks.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// What JSON.stringify leaves raw of UNSAFE (it escapes C0 itself).
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const asEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** `text` with every control or bidirectional formatting character written as `\uXXXX`: one safe line. */
export function printable(text: string): string {
  return text.replace(UNSAFE, asEscape);
}

/**
 * `value` as one line of JSON that is safe on a terminal: the same JSON (it parses to the same
 * value), with the characters JSON.stringify leaves raw (DEL, C1, bidirectional marks) escaped.
 */
export function jsonLine(value: unknown): string {
  return (JSON.stringify(value) ?? 'undefined').replace(UNSAFE_IN_JSON, asEscape);
}
