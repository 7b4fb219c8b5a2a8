/**
 * The arguments of extractLayer() other than the input stream, checked:
 * the options object (limits defaulted from DEFAULT_EXTRACT_LIMITS, unknown
 * keys refused as likely typos) and `dest`, an existing empty directory.
 * Kept apart from tar-read.ts so the extraction code only ever sees options
 * in their checked shape, and the messages here stay the ones callers get
 * (ERR_INVALID_OPTION naming the option).
 */
import { lstat, readdir } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { IsolateError, checkKeys, invalidOption, showValue } from '../errors';
import type { ExtractLimits, ExtractOptions } from './contracts';

const GiB = 1024 ** 3;

/**
 * What a layer may hold unless ExtractOptions.limits says otherwise: 8 GiB in
 * one entry, 32 GiB in all, 2 million entries. Generous for real images (the
 * largest common base images are a few GiB and ~100k files), small enough
 * that a hostile layer cannot fill a typical image store's disk.
 */
export const DEFAULT_EXTRACT_LIMITS: Readonly<ExtractLimits> = Object.freeze({
  maxEntrySize: 8 * GiB,
  maxLayerSize: 32 * GiB,
  maxEntries: 2_000_000,
});

const OPTION_KEYS = ['limits', 'onProgress', 'bytesTotal', 'allowDevices', 'signal'];
const LIMIT_KEYS = ['maxEntrySize', 'maxLayerSize', 'maxEntries'] as const;

/** ExtractOptions after checkOptions(): limits filled in, bytesTotal null when unknown. */
export interface Checked {
  limits: ExtractLimits;
  onProgress?: ExtractOptions['onProgress'];
  bytesTotal: number | null;
  allowDevices: boolean;
  signal?: AbortSignal;
}

/**
 * A `limits` option (Partial<ExtractLimits>) checked, with the defaults
 * filled in. The same for extractLayer() and packLayer(), so that a layer
 * commit() packs within its limits is one the import takes.
 */
export function checkLimits(where: string, value: unknown): ExtractLimits {
  const limits: ExtractLimits = { ...DEFAULT_EXTRACT_LIMITS };
  if (value === undefined) return limits;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidOption('limits', 'an object', value);
  const l = value as Record<string, unknown>;
  checkKeys(where, l, LIMIT_KEYS, 'limits.');
  for (const k of Object.keys(l)) {
    const key = k as (typeof LIMIT_KEYS)[number];
    const v = l[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalidOption(`limits.${k}`, 'a non-negative integer', v);
    limits[key] = v;
  }
  return limits;
}

/** The extractLayer options, checked and with defaults applied. */
export function checkOptions(opts: unknown): Checked {
  if (opts === undefined) opts = {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw new IsolateError('ERR_INVALID_OPTION', `Expected the extractLayer options to be an object, got ${showValue(opts)}`);
  }
  const o = opts as Record<string, unknown>;
  checkKeys('extractLayer', o, OPTION_KEYS);
  const limits = checkLimits('extractLayer', o.limits);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalidOption('onProgress', 'a function', o.onProgress);
  const total = o.bytesTotal;
  if (total !== undefined && (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 0)) {
    throw invalidOption('bytesTotal', 'a non-negative integer', total);
  }
  if (o.allowDevices !== undefined && typeof o.allowDevices !== 'boolean') throw invalidOption('allowDevices', 'a boolean', o.allowDevices);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidOption('signal', 'an AbortSignal', o.signal);
  return {
    limits,
    onProgress: o.onProgress as Checked['onProgress'],
    bytesTotal: (total as number | undefined) ?? null,
    allowDevices: o.allowDevices === true,
    signal: o.signal as AbortSignal | undefined,
  };
}

/** `dest` as an absolute path, once it is known to be an existing empty directory. */
export async function checkDest(dest: unknown): Promise<string> {
  if (typeof dest !== 'string' || dest === '') throw invalidOption('dest', 'the path of an existing empty directory', dest);
  const abs = resolvePath(dest);
  let isDir: boolean;
  try {
    isDir = (await lstat(abs)).isDirectory();
  } catch (err) {
    throw new IsolateError('ERR_INVALID_OPTION', `Layer destination ${abs} (dest) does not exist`, { option: 'dest', path: abs, cause: err });
  }
  if (!isDir) throw new IsolateError('ERR_INVALID_OPTION', `Layer destination ${abs} (dest) is not a directory`, { option: 'dest', path: abs });
  if ((await readdir(abs)).length > 0) {
    throw new IsolateError('ERR_INVALID_OPTION', `Layer destination ${abs} (dest) is not empty`, { option: 'dest', path: abs });
  }
  return abs;
}
