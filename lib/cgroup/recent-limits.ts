/**
 * The limits CGroups were made with lately, as given, and what they came
 * to: read, checked against the host and the parent, with the memory
 * defaults (no swap, no huge pages). A judge gives every run the same
 * limits, and reading them again cost ~40 µs of JS at every start, on the
 * start's path (measured in place, in a loop of `Container.run`; a busy
 * loop of 100 µs added there made the median start 110–160 µs slower).
 *
 * Only limits made of plain data are kept: strings, finite numbers,
 * booleans, null and undefined, in plain objects, without `devices` or `io`
 * (what those name is looked up on the host's files, and a devices list
 * needs the capabilities the process has at the time: read afresh each
 * time). The key says the data exactly, and the limits read are a copy made
 * while the key was (a getter read twice could otherwise give the key one
 * value and the limits another). What is kept is frozen and shared.
 */
import type { CgroupParent } from './host';
import type { NormalizedLimits } from './limits';

/** Entries kept; the oldest goes first. */
const KEPT = 32;
/** Past this, a key is not worth keeping (limits are a few dozen characters). */
const KEY_MAX = 1024;
const DEPTH_MAX = 4;

const known = new Map<string, { parent: CgroupParent; current: NormalizedLimits }>();

const NOT_PLAIN = Symbol('not plain');

/**
 * `limits` as a key and a copy of plain data, or undefined when they are not
 * plain data (or name `devices` or `io`): those are read afresh every time.
 */
export function plainLimits(limits: unknown): { key: string; copy: unknown } | undefined {
  if (typeof limits !== 'object' || limits === null) return undefined;
  const parts: string[] = [];
  const copy = copyOf(limits, DEPTH_MAX, parts);
  if (copy === NOT_PLAIN) return undefined;
  // Told from the copy, not the given object: a getter read twice could say
  // undefined here and give a value to the copy.
  const rec = copy as Record<string, unknown>;
  if (rec.devices !== undefined || rec.io !== undefined) return undefined;
  const key = parts.join('');
  return key.length > KEY_MAX ? undefined : { key, copy };
}

function copyOf(v: unknown, depth: number, out: string[]): unknown {
  switch (typeof v) {
    case 'undefined':
      out.push('u');
      return v;
    case 'boolean':
      out.push(v ? 't' : 'f');
      return v;
    case 'number':
      if (!Number.isFinite(v) || Object.is(v, -0)) return NOT_PLAIN;
      out.push(`#${v};`);
      return v;
    case 'string':
      out.push(JSON.stringify(v));
      return v;
    case 'object': {
      if (v === null) {
        out.push('n');
        return v;
      }
      // Arrays are left out (the limits that take one, io and devices, are
      // not kept; map() skips an array's holes, a copy would not).
      if (depth === 0 || Array.isArray(v)) return NOT_PLAIN;
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) return NOT_PLAIN;
      const copy: Record<string, unknown> = {};
      const keys = Object.keys(v);
      // A property left out of Object.keys (not enumerable, or a symbol)
      // would be left out of the copy, where normalizeLimits() reads the
      // given object's own (a non-enumerable `memory` was dropped: no limit).
      if (Reflect.ownKeys(v).length !== keys.length) return NOT_PLAIN;
      out.push('{');
      for (const k of keys) {
        if (k === '__proto__') return NOT_PLAIN;
        out.push(JSON.stringify(k), ':');
        const c = copyOf((v as Record<string, unknown>)[k], depth - 1, out);
        if (c === NOT_PLAIN) return NOT_PLAIN;
        copy[k] = c;
        out.push(',');
      }
      out.push('}');
      return copy;
    }
    default:
      return NOT_PLAIN; // functions, symbols, bigints
  }
}

/**
 * What limits with this key (the `parent` option's and plainLimits()')
 * came to, and under which parent; the caller checks that the option
 * still resolves to it (host.ts resetParents() makes new ones).
 */
export function knownLimits(key: string): { parent: CgroupParent; current: NormalizedLimits } | undefined {
  return known.get(key);
}

/** Keeps what limits with this key came to under `parent` (frozen: groups share it). */
export function keepLimits(key: string, parent: CgroupParent, current: NormalizedLimits): void {
  if (known.size >= KEPT) known.delete(known.keys().next().value!);
  known.set(key, { parent, current: deepFreeze(current) });
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
