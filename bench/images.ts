/**
 * Layered roots and images: the 3-layer overlay root the interleaved rounds
 * start (a static busybox base and two small layers), and the throughput of
 * a 200 MiB layer through the image store: import (read once: unpack, keep
 * the blob, sha256 both ways) and export (the blob out as a tar), plus
 * packing a directory into a layer.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore, Layer, LayerStack } from '../lib';
import { packToFile } from '../lib/image/tar-write';
import { percentile } from './stats';

const BUSYBOX = '/bin/busybox';

export interface OverlayFixture {
  stack: LayerStack | undefined;
  /** Why there is no stack. */
  unavailable?: string;
  cleanup(): void;
}

/** Three layer directories: busybox with a `true` applet, then two layers of a few files. */
export function overlayFixture(): OverlayFixture {
  if (!existsSync(BUSYBOX)) return { stack: undefined, unavailable: `no ${BUSYBOX} (Debian: busybox-static)`, cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'isolate-kit-bench-layers-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const base = join(dir, 'base');
  mkdirSync(join(base, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(base, 'bin', 'busybox'));
  symlinkSync('busybox', join(base, 'bin', 'true'));
  const layers = [base];
  for (const name of ['app', 'patch']) {
    const d = join(dir, name);
    mkdirSync(join(d, 'etc'), { recursive: true });
    for (let i = 0; i < 8; i++) writeFileSync(join(d, 'etc', `${name}-${i}.conf`), `${name} ${i}\n`);
    layers.push(d);
  }
  return { stack: LayerStack.fromDirectories(layers), cleanup };
}

export interface ThroughputRow {
  label: string;
  /** Bytes moved per run (the tar's size). */
  bytes: number;
  runs: number;
  /** MB/s (10^6 bytes) of the median run. */
  medianMBps: number;
  minMBps: number;
  /** MB/s the issue asks for at least, if it names one. */
  target?: number;
}

export interface ImageIoReport {
  layerBytes: number;
  files: number;
  rows: ThroughputRow[];
}

export const TARGET_LAYER_MBPS = 150;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function row(label: string, bytes: number, secs: number[], target?: number): ThroughputRow {
  const rates = secs.map((s) => bytes / s / 1e6).sort((a, b) => a - b);
  const r: ThroughputRow = { label, bytes, runs: secs.length, medianMBps: percentile(rates, 50), minMBps: rates[0]! };
  if (target !== undefined) r.target = target;
  return r;
}

/** A 200 MiB layer (25 files of 8 MiB of random bytes) through the store, `runs` times each way. */
export async function measureImageIo(runs: number, log: (msg: string) => void): Promise<ImageIoReport> {
  const dir = mkdtempSync(join(tmpdir(), 'isolate-kit-bench-io-'));
  try {
    const src = join(dir, 'src');
    mkdirSync(src);
    const chunk = randomBytes(8 << 20);
    const files = 25;
    for (let i = 0; i < files; i++) {
      chunk.writeUInt32LE(i, 0); // no two files alike
      writeFileSync(join(src, `blob-${i}`), chunk);
    }
    const tar = join(dir, 'layer.tar');
    await packToFile(src, tar);
    const bytes = statSync(tar).size;
    log(`image io: a ${(bytes / (1 << 20)).toFixed(0)} MiB layer, ${runs} runs each`);
    const pack: number[] = [];
    const imp: number[] = [];
    const exp: number[] = [];
    for (let i = 0; i < runs; i++) {
      const root = join(dir, `store-${i}`);
      const store = new ImageStore({ root });
      pack.push(await timed(() => packToFile(src, join(dir, `packed-${i}.tar`))));
      rmSync(join(dir, `packed-${i}.tar`));
      let layer: Layer | undefined;
      imp.push(await timed(async () => (layer = await Layer.fromTar(tar, { store }))));
      const out = join(dir, `export-${i}.tar`);
      exp.push(await timed(() => layer!.exportTar(out)));
      rmSync(out);
      rmSync(root, { recursive: true, force: true });
    }
    return {
      layerBytes: bytes,
      files,
      rows: [
        row('import: `Layer.fromTar(file)` (unpack + blob + sha256 of both)', bytes, imp, TARGET_LAYER_MBPS),
        row('export: `layer.exportTar(file)`', bytes, exp, TARGET_LAYER_MBPS),
        row('pack a directory into a layer tar (`packLayer`: sha256, fixed order)', bytes, pack),
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
