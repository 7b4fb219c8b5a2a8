/**
 * `isolate-kit image import|export|ls|rm|gc`: the image store from the
 * command line. Library errors print as `isolate-kit: <message>` with exit
 * status 1 (125 is run's: "isolate-kit failed to run the command").
 */
import { isIsolateError } from '../errors';
import { parseDuration } from '../units';
import type { Image } from '../image/image';
import { ImageStore } from '../image/store';
import { hasFlag, lastValue, parseArgs, UsageError, type ParsedArgs } from './args';
import { EXIT } from './exit';
import { IMAGE_USAGE } from './help';

const SPECS = [
  { name: 'store', value: 'DIR' },
  { name: 'tag', value: 'NAME' },
  { name: 'format', value: 'oci|docker' },
  { name: 'dir' },
  { name: 'grace', value: 'DURATION' },
  { name: 'json' },
  { name: 'help', short: 'h' },
];

/** Which options each subcommand takes (besides --store and --help). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  import: ['tag', 'json'],
  export: ['format', 'dir'],
  ls: ['json'],
  rm: [],
  gc: ['json', 'grace'],
};

export function storeFrom(parsed: ParsedArgs): ImageStore {
  const root = lastValue(parsed, 'store');
  return root ? new ImageStore({ root: root.value }) : ImageStore.default();
}

function shortId(id: string): string {
  return id.slice(7, 19);
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

function describe(img: Image): object {
  return { id: img.id, tags: img.tags, layers: img.layers.map((l) => l.diffId), size: img.size };
}

/** `isolate-kit image SUBCOMMAND ARGS`; resolves with the exit status. */
export async function imageCommand(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    process.stdout.write(IMAGE_USAGE);
    return sub === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (!Object.hasOwn(ALLOWED, sub)) throw new UsageError(`unknown image command ${JSON.stringify(sub)}`, 'image');
  const parsed = parseArgs(rest, SPECS, { stopAtOperand: false, topic: 'image' });
  if (hasFlag(parsed, 'help')) {
    process.stdout.write(IMAGE_USAGE);
    return EXIT.OK;
  }
  for (const o of parsed.options) {
    if (o.name !== 'store' && !ALLOWED[sub]!.includes(o.name)) throw new UsageError(`image ${sub} takes no --${o.name}`, 'image');
  }
  const ops = parsed.operands;
  const want = (n: number, what: string) => {
    if (ops.length !== n) throw new UsageError(`image ${sub} takes ${what}`, 'image');
  };
  try {
    const store = storeFrom(parsed);
    const json = hasFlag(parsed, 'json');
    switch (sub) {
      case 'import': {
        want(1, 'one PATH (an OCI layout directory or tar, or a docker save tar)');
        const tag = lastValue(parsed, 'tag')?.value;
        const images = await store.importImage(ops[0]!, tag === undefined ? {} : { tag });
        if (json) process.stdout.write(`${JSON.stringify(images.map(describe))}\n`);
        else for (const img of images) process.stdout.write(`imported ${shortId(img.id)} ${img.tags.join(' ')}\n`);
        return EXIT.OK;
      }
      case 'export': {
        want(2, 'REF and DEST');
        const format = lastValue(parsed, 'format')?.value ?? 'oci';
        if (format !== 'oci' && format !== 'docker') throw new UsageError(`--format must be oci or docker, got ${JSON.stringify(format)}`, 'image');
        await store.exportImage(ops[0]!, ops[1]!, { format, tar: !hasFlag(parsed, 'dir') });
        return EXIT.OK;
      }
      case 'ls': {
        want(0, 'no arguments');
        const images = store.images();
        if (json) {
          process.stdout.write(`${JSON.stringify(images.map(describe))}\n`);
        } else {
          process.stdout.write('IMAGE ID      NAMES  LAYERS  SIZE\n');
          for (const img of images) process.stdout.write(`${shortId(img.id)}  ${img.tags.join(',') || '<none>'}  ${img.layers.length}  ${mib(img.size)}\n`);
        }
        return EXIT.OK;
      }
      case 'rm': {
        if (ops.length === 0) throw new UsageError('image rm takes one or more REFs', 'image');
        for (const ref of ops) await store.removeImage(ref);
        return EXIT.OK;
      }
      case 'gc': {
        want(0, 'no arguments');
        const grace = lastValue(parsed, 'grace');
        const r = await store.gc(grace ? { graceMs: parseDuration('--grace', grace.value, true) } : {});
        if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else process.stdout.write(`removed ${r.layers.length} layer(s), ${r.blobs.length} blob(s), ${mib(r.bytes)}\n`);
        return EXIT.OK;
      }
    }
  } catch (err) {
    if (!isIsolateError(err)) throw err;
    process.stderr.write(`isolate-kit: ${err.message}\n`);
    return EXIT.FAILURE;
  }
  return EXIT.USAGE;
}
