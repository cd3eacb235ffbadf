/**
 * Proactive content negotiation by `Accept` (RFC 9110 §12.5.1): which of the media types a route
 * offers the client prefers, or none when it accepts none of them.
 *
 * Each offered type takes the quality of the most specific range that matches it (`type/subtype`
 * over `type/*` over the wildcard of all types, a range with parameters over one without); a type no range matches,
 * or one whose range says `q=0`, is not acceptable. Of the acceptable ones the highest quality
 * wins; then the one matched by the more specific range; then the range the client listed first;
 * then the order the route offers them in. No `Accept` (or one with no element this reads) accepts
 * anything, so the route's first offer wins. Elements that are not media ranges, or whose `q` is
 * not an RFC 9110 qvalue, are skipped. `charset` is no part of a match: JSON is UTF-8 by
 * definition (RFC 8259) and CBOR has no charset. Pure. Media types are read by the one parser
 * both servers use (`@aaps/agents` media-type.ts).
 */
import { parseMediaType, splitOutsideQuotes } from '@aaps/agents';

export interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  /** Parameters other than `q` and `charset`, names lower-cased. */
  readonly params: ReadonlyMap<string, string>;
  /** 0 to 1000 (thousandths: a qvalue has at most three decimals). */
  readonly quality: number;
  /** Its position in the header. */
  readonly order: number;
}

const QVALUE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;

/** Whether an element's `;`-part is its weight (`q=`, any case). */
function isWeight(part: string): boolean {
  const eq = part.indexOf('=');
  return eq > 0 && part.slice(0, eq).trim().toLowerCase() === 'q';
}

/**
 * One element of an `Accept` value, or `undefined` when it is not a media range with a valid
 * weight. The media range is read as any media type is (agents `parseMediaType`); what follows
 * the weight is no media-type parameter (RFC 9110 has no accept-ext) and is not read.
 */
function parseRange(element: string, order: number): MediaRange | undefined {
  const parts = splitOutsideQuotes(element, ';');
  const at = parts.findIndex((p, i) => i > 0 && isWeight(p));
  const media = parseMediaType(at < 0 ? element : parts.slice(0, at).join(';'));
  if (media === undefined || (media.type === '*' && media.subtype !== '*')) return undefined;
  let quality = 1000;
  if (at >= 0) {
    const weight = parts[at] as string;
    const value = weight.slice(weight.indexOf('=') + 1).trim();
    if (!QVALUE.test(value)) return undefined;
    quality = Math.round(Number(value) * 1000);
  }
  const params = new Map(media.params.filter((p) => p.name !== 'charset').map((p) => [p.name, p.value]));
  return { type: media.type, subtype: media.subtype, params, quality, order };
}

/** Every media range `accept` holds, in order; empty when it holds none this can read. */
export function parseAccept(accept: string): MediaRange[] {
  const out: MediaRange[] = [];
  for (const element of splitOutsideQuotes(accept, ',')) {
    if (element.trim() === '') continue;
    const range = parseRange(element, out.length);
    if (range !== undefined) out.push(range);
  }
  return out;
}

/** How specific `range` is, or -1 when it does not match `offered`. */
function specificity(range: MediaRange, offered: MediaRange): number {
  if (range.type === '*') return 0;
  if (range.type !== offered.type) return -1;
  if (range.subtype === '*') return 1;
  if (range.subtype !== offered.subtype) return -1;
  for (const [name, value] of range.params) if (offered.params.get(name) !== value) return -1;
  return range.params.size > 0 ? 3 : 2;
}

interface Ranked {
  readonly index: number;
  readonly quality: number;
  readonly specificity: number;
  readonly order: number;
}

/**
 * The offered media type `accept` (the request's `Accept` value, `undefined` when absent) ranks
 * first, or `undefined` when it accepts none of them (a 406 is then the route's to answer).
 * `offered` are plain media types, parameters allowed, in the route's order of preference.
 */
export function negotiate(accept: string | undefined, offered: readonly string[]): string | undefined {
  const ranges = accept === undefined ? [] : parseAccept(accept);
  if (ranges.length === 0) return offered[0];
  let best: Ranked | undefined;
  offered.forEach((type, index) => {
    const self = parseRange(type, 0);
    if (self === undefined) return;
    let match: Ranked | undefined;
    for (const r of ranges) {
      const s = specificity(r, self);
      if (s < 0) continue;
      // The most specific range decides; of equally specific ones, the best weight.
      if (
        match === undefined ||
        s > match.specificity ||
        (s === match.specificity && r.quality > match.quality)
      )
        match = { index, quality: r.quality, specificity: s, order: r.order };
    }
    if (match === undefined || match.quality === 0) return;
    if (
      best === undefined ||
      match.quality > best.quality ||
      (match.quality === best.quality &&
        (match.specificity > best.specificity ||
          (match.specificity === best.specificity && match.order < best.order)))
    )
      best = match;
  });
  return best === undefined ? undefined : offered[best.index];
}
