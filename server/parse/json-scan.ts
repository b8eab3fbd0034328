/**
 * A structural scan of JSON as its bytes arrive, building nothing: nesting depth, the number of
 * values, and the length of one array named by its path (images.data on POST /extract, images
 * in Connect JSON) are checked before JSON.parse builds anything. Measured before: 20 million
 * empty strings (60 MB) ran the heap out of memory after 34 s, every entry decoded before the
 * 256-image limit was looked at. The scan stops at the first value over a limit, so such a body
 * is refused after its first kilobytes; strings are skipped with indexOf, so a body of a few
 * large base64 images costs next to nothing. Syntax is JSON.parse's job: the scan only refuses
 * brackets that do not match, which it cannot count through. Where the strings of the counted
 * array are (`spans`) is noted on the way, so that POST /extract's base64 can be read from the
 * body's bytes without JSON.parse copying it (legacy/json.ts).
 *
 * Written here rather than taken from npm: the streaming JSON parsers there (stream-json,
 * @streamparser/json, clarinet) build every value they emit, character by character in
 * JavaScript, which is what must not happen to a 30 MB base64 string, and their path filters
 * would still need this much code around them.
 */
import { ServiceError } from '../errors.js';

export interface JsonBudget {
  /** Nesting of arrays and objects. */
  maxDepth: number;
  /** Array elements and object members in the whole document (the root counts one). */
  maxValues: number;
  /** An array with a length limit of its own: its path of object keys from the root ('*' = any element). */
  counted?: { path: readonly string[]; max: number; tooMany: () => ServiceError };
}

/** A string directly inside the counted array: the byte offsets between its quotes. */
export interface StringSpan {
  start: number;
  end: number;
  /** It holds a backslash: its bytes are not its value. */
  escaped: boolean;
}

interface Frame {
  array: boolean;
  /** Keys from the root; null when one of them could not be read (escaped, very long). */
  path: string[] | null;
  /** Objects: the key of the member being read, and whether a key comes next. */
  key: string | null;
  expectKey: boolean;
  items: number;
  counted: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
// Keys longer than this are never the ones a budget names; they are not kept.
const MAX_KEY = 64;

export class JsonScanner {
  private readonly stack: Frame[] = [];
  private values = 0;
  private inString = false;
  private escaped = false;
  private inToken = false;
  /** While a key is read: its text so far, or null once it cannot match any path. */
  private key: string | null = null;
  private readingKey = false;
  private offset = 0;
  /** The counted array's string being read, if one is. */
  private span: StringSpan | undefined;
  /** The counted array's strings, in the order they came (at most its limit). */
  readonly spans: StringSpan[] = [];

  constructor(private readonly budget: JsonBudget) {}

  write(chunk: Uint8Array): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        let quote = chunk.indexOf(QUOTE, i);
        if (quote < 0) quote = n;
        let backslash = chunk.indexOf(BACKSLASH, i);
        if (backslash < 0 || backslash > quote) backslash = n;
        const stop = Math.min(quote, backslash);
        if (this.readingKey) this.appendKey(chunk, i, stop);
        if (stop === n) break;
        if (stop === backslash) {
          // An escaped key is not matched against paths (JSON.parse would decode it): it stays null.
          this.key = null;
          this.escaped = true;
          if (this.span) this.span.escaped = true;
        } else {
          this.inString = false;
          if (this.span) {
            this.span.end = this.offset + stop;
            this.spans.push(this.span);
            this.span = undefined;
          }
          if (this.readingKey) {
            this.readingKey = false;
            this.stack[this.stack.length - 1].key = this.key;
          }
        }
        i = stop + 1;
        continue;
      }
      const c = chunk[i];
      switch (c) {
        case 0x20: case 0x09: case 0x0a: case 0x0d:
          this.inToken = false;
          break;
        case QUOTE: {
          this.inToken = false;
          const top = this.stack[this.stack.length - 1];
          if (top && !top.array && top.expectKey) {
            this.readingKey = true;
            this.key = '';
          } else {
            this.value();
            if (top?.counted) this.span = { start: this.offset + i + 1, end: -1, escaped: false };
          }
          this.inString = true;
          break;
        }
        case 0x7b: case 0x5b: // { [
          this.inToken = false;
          this.value();
          this.push(c === 0x5b);
          break;
        case 0x7d: case 0x5d: { // } ]
          this.inToken = false;
          const top = this.stack.pop();
          if (!top || top.array !== (c === 0x5d)) {
            throw new ServiceError('invalid', `request body is not valid JSON: unexpected "${String.fromCharCode(c)}" at byte ${this.offset + i}`);
          }
          break;
        }
        case 0x3a: // :
          this.inToken = false;
          if (this.stack.length) this.stack[this.stack.length - 1].expectKey = false;
          break;
        case 0x2c: { // ,
          this.inToken = false;
          const top = this.stack[this.stack.length - 1];
          if (top && !top.array) top.expectKey = true;
          break;
        }
        default:
          // A number or a literal (true, false, null): one value however long.
          if (!this.inToken) {
            this.inToken = true;
            this.value();
          }
      }
      i++;
    }
    this.offset += n;
  }

  private appendKey(chunk: Uint8Array, from: number, to: number): void {
    if (this.key === null) return;
    if (this.key.length + (to - from) > MAX_KEY) {
      this.key = null;
      return;
    }
    this.key += Buffer.from(chunk.buffer, chunk.byteOffset + from, to - from).toString('utf8');
  }

  private value(): void {
    if (++this.values > this.budget.maxValues) {
      throw new ServiceError('limit', `request JSON has more than ${this.budget.maxValues} values`);
    }
    const top = this.stack[this.stack.length - 1];
    if (!top?.array) return;
    top.items++;
    if (top.counted && top.items > this.budget.counted!.max) throw this.budget.counted!.tooMany();
  }

  private push(array: boolean): void {
    if (this.stack.length >= this.budget.maxDepth) {
      throw new ServiceError('invalid', `request JSON is nested more than ${this.budget.maxDepth} levels deep`);
    }
    const parent = this.stack[this.stack.length - 1];
    let path: string[] | null = [];
    if (parent) {
      const step = parent.array ? '*' : parent.key;
      path = parent.path && step !== null ? [...parent.path, step] : null;
    }
    const counted = this.budget.counted;
    const isCounted = array && path !== null && counted !== undefined
      && path.length === counted.path.length && path.every((k, j) => k === counted.path[j]);
    this.stack.push({ array, path, key: null, expectKey: !array, items: 0, counted: isCounted });
  }
}
