/**
 * Text the `aaps` client commands print that someone else chose: a proposal's target, a sealed
 * field's path, a gateway's error message. Printed raw, a control sequence in it could retitle the
 * terminal, erase the line above or reorder what the person reads (bidirectional overrides), and a
 * person could approve or open something other than what they believe they saw. The escape is
 * @aaps/evidence's `printableText`, the one a repeated JSON key is named through.
 */
import { printableText } from '@aaps/evidence';

/** `text` with every control or bidirectional formatting character written as `\uXXXX`: one safe line. */
export const printable: (text: string) => string = printableText;

/**
 * `value` as one line of JSON that is safe on a terminal: the same JSON (it parses to the same
 * value), with the characters JSON.stringify leaves raw (DEL, C1, bidirectional marks) escaped.
 * (It escapes C0 itself and, with no indent, writes no whitespace: `printable` finds none there.)
 */
export function jsonLine(value: unknown): string {
  return printable(JSON.stringify(value) ?? 'undefined');
}
