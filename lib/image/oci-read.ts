/**
 * Reads image archives: an OCI image layout (a directory, or a tar of one),
 * or a `docker save` tar (the classic layout with manifest.json and
 * `<id>/layer.tar`, and Docker 25's, which is an OCI layout plus
 * manifest.json). Everything in them is untrusted: every blob an image
 * needs must be there with the size its descriptor says; JSON blobs are
 * checked against their digests as they are read, layer blobs as they are
 * streamed (open()); a digest becomes a path only after matching
 * `sha256:<64 hex>`; member names that are absolute or climb out with '..'
 * are refused. Failures are ERR_BAD_IMAGE (malformed, hostile) or
 * ERR_UNSUPPORTED (well-formed but not something we run: zstd layers,
 * artifacts that are not images, other platforms), naming the file or
 * digest.
 *
 * The archive's files are read through archive-members.ts, which indexes
 * a tar rather than extracting it.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IsolateError, fromSystemError, invalidOption } from '../errors';
import { GZIP_MAGIC, ZSTD_MAGIC, archiveMembers, bad, dirMembers, memberName, startsWith, unsupported, type Member, type Members } from './archive-members';
import type { Digest, ImageArchive, SourceImage, SourceLayer } from './contracts';
import { digestHex } from './paths';

export const MEDIA_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const MEDIA_OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MEDIA_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MEDIA_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MEDIA_DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
export const MEDIA_DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

const INDEX_TYPES = new Set([MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST]);
const MANIFEST_TYPES = new Set([MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST]);
const CONFIG_TYPES = new Set([MEDIA_OCI_CONFIG, MEDIA_DOCKER_CONFIG]);

/**
 * The layer media types we can unpack, and their OCI equivalents (same
 * bytes, so the same digest: what a writer of an OCI layout puts instead of
 * a docker one). Non-distributable ("foreign") layers are ordinary tars;
 * their only difference is that registries may not ship them, and a blob
 * missing from the archive is refused like any other.
 */
export const LAYER_TYPES: ReadonlyMap<string, { compression: 'none' | 'gzip'; oci: string }> = new Map([
  [MEDIA_OCI_LAYER, { compression: 'none', oci: MEDIA_OCI_LAYER }],
  [MEDIA_OCI_LAYER_GZIP, { compression: 'gzip', oci: MEDIA_OCI_LAYER_GZIP }],
  [MEDIA_DOCKER_LAYER, { compression: 'none', oci: MEDIA_OCI_LAYER }],
  [MEDIA_DOCKER_LAYER_GZIP, { compression: 'gzip', oci: MEDIA_OCI_LAYER_GZIP }],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar', { compression: 'none', oci: MEDIA_OCI_LAYER }],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', { compression: 'gzip', oci: MEDIA_OCI_LAYER_GZIP }],
  ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', { compression: 'gzip', oci: MEDIA_OCI_LAYER_GZIP }],
] as const);

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
/** containerd's (and Docker 25's) full image name; there ref.name is only the tag. */
const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name';

/** Index, manifest and config blobs are read into memory; real ones are a few KiB. */
const MAX_JSON = 16 << 20;
/** Entries of an index or of manifest.json read at most (real ones list a few). */
const MAX_ENTRIES = 1024;
/** Nested indexes followed at most (they could point at each other). */
const MAX_INDEX_DEPTH = 4;

function sha256(data: Buffer): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

// ---- JSON and descriptors ----

async function needMember(members: Members, name: string, what: string): Promise<Member> {
  const m = await members.get(name);
  if (!m) throw bad(members.label, `${what} is missing`);
  return m;
}

function parseJson(archive: string, bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw bad(archive, `${what} is not valid JSON: ${(err as Error).message}`, err);
  }
}

async function readJsonMember(members: Members, m: Member, what: string): Promise<{ bytes: Buffer; value: unknown }> {
  if (m.size > MAX_JSON) throw bad(members.label, `${what} is ${m.size} bytes; more than ${MAX_JSON} is not a plausible JSON document here`);
  const bytes = await m.read();
  return { bytes, value: parseJson(members.label, bytes, what) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations: Record<string, string>;
  platform: { os?: unknown; architecture?: unknown; variant?: unknown } | undefined;
}

/** A content descriptor, checked: media type, a well-formed sha256 digest, a byte count. */
function descriptor(archive: string, v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw bad(archive, `${what} is not a descriptor object`);
  if (typeof v.mediaType !== 'string' || v.mediaType === '') throw bad(archive, `${what} has no mediaType`);
  digestHex(v.digest, `${archive}: ${what}.digest`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw bad(archive, `${what}.size ${JSON.stringify(v.size)} is not a byte count`);
  const annotations: Record<string, string> = {};
  if (v.annotations !== undefined) {
    if (!isObject(v.annotations)) throw bad(archive, `${what}.annotations is not an object`);
    for (const [k, val] of Object.entries(v.annotations)) {
      if (typeof val !== 'string') throw bad(archive, `${what}.annotations[${JSON.stringify(k)}] is not a string`);
      annotations[k] = val;
    }
  }
  return { mediaType: v.mediaType, digest: v.digest as Digest, size: v.size, annotations, platform: isObject(v.platform) ? v.platform : undefined };
}

/** The blob a descriptor points at: present, of the size it says. */
async function blobMember(members: Members, d: Descriptor, what: string): Promise<Member> {
  const hex = digestHex(d.digest, `${members.label}: ${what}.digest`);
  const m = await members.get(`blobs/sha256/${hex}`);
  if (!m) throw bad(members.label, `${what}: blob ${d.digest} is missing (no blobs/sha256/${hex})`);
  if (m.size !== d.size) throw bad(members.label, `${what}: blob ${d.digest} is ${m.size} bytes, but its descriptor says ${d.size}`);
  return m;
}

/** A JSON blob, read and checked against its digest. */
/**
 * JSON blobs read so far, per archive, by digest: an index may list one
 * nested index or manifest thousands of times, and each read is up to
 * MAX_JSON bytes hashed and parsed (a 32 MB archive cost over an hour of
 * CPU before). A digest names one content, checked on the first read.
 */
const jsonBlobs = new WeakMap<Members, Map<Digest, Promise<{ bytes: Buffer; value: unknown }>>>();

function readJsonBlob(members: Members, d: Descriptor, what: string): Promise<{ bytes: Buffer; value: unknown }> {
  let seen = jsonBlobs.get(members);
  if (!seen) jsonBlobs.set(members, (seen = new Map()));
  let got = seen.get(d.digest);
  if (!got) seen.set(d.digest, (got = readJsonBlobOnce(members, d, what)));
  return got;
}

async function readJsonBlobOnce(members: Members, d: Descriptor, what: string): Promise<{ bytes: Buffer; value: unknown }> {
  const m = await blobMember(members, d, what);
  const { bytes, value } = await readJsonMember(members, m, `${what} (blob ${d.digest})`);
  const actual = sha256(bytes);
  if (actual !== d.digest) throw bad(members.label, `${what}: blob ${d.digest} does not match its digest (its bytes hash to ${actual})`);
  return { bytes, value };
}

/**
 * Streams `src` on, failing (ERR_BAD_IMAGE) at its end unless it was
 * exactly `size` bytes hashing to `digest`: a consumer never takes a
 * tampered layer for a good one, even one that does not check.
 */
function verifying(archive: string, src: Readable, digest: Digest, size: number, what: string): Readable {
  const hash = createHash('sha256');
  let n = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      n += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      const actual = `sha256:${hash.digest('hex')}`;
      if (n !== size) cb(bad(archive, `${what}: blob ${digest} ended after ${n} of ${size} bytes`));
      else if (actual !== digest) cb(bad(archive, `${what}: blob ${digest} does not match its digest (its bytes hash to ${actual})`));
      else cb();
    },
  });
  // pipeline() forwards a read error to `check` and destroys `src` when the consumer stops early.
  pipeline(src, check).catch(() => {});
  return check;
}

/** rootfs.diff_ids of an image config, checked: one well-formed digest per layer. */
function diffIds(archive: string, config: unknown, layers: number, what: string): Digest[] {
  if (!isObject(config)) throw bad(archive, `${what} is not a JSON object`);
  if (typeof config.os === 'string' && config.os !== 'linux') throw unsupported(archive, `${what}: the image is for ${config.os}, not linux`);
  const rootfs = config.rootfs;
  const ids = isObject(rootfs) ? rootfs.diff_ids : undefined;
  if (!Array.isArray(ids)) throw bad(archive, `${what} has no rootfs.diff_ids`);
  ids.forEach((id, i) => digestHex(id, `${archive}: ${what} rootfs.diff_ids[${i}]`));
  if (ids.length !== layers) throw bad(archive, `${what} lists ${ids.length} rootfs.diff_ids, but the image has ${layers} layer(s)`);
  return ids as Digest[];
}

// ---- OCI image layout ----

/** Node's arch as OCI (GOARCH) names it. */
function hostArch(): string {
  const a = process.arch;
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

function platformName(d: Descriptor): string {
  const p = d.platform;
  if (!p) return '(no platform)';
  return [p.os, p.architecture, p.variant].filter((x) => typeof x === 'string' && x !== '').join('/');
}

/**
 * From an index (or docker manifest list), the manifest to run here: the
 * one for linux on this machine's architecture (amd64 on x86-64), or the
 * only image manifest there is. Attestations (platform unknown/unknown, as
 * BuildKit writes them) are not candidates.
 */
function pickManifest(archive: string, list: Descriptor[], what: string): Descriptor {
  const images = list.filter((d) => !(d.platform?.os === 'unknown' && d.platform?.architecture === 'unknown'));
  const match = images.filter((d) => d.platform?.os === 'linux' && d.platform?.architecture === hostArch());
  if (match.length >= 1) return match[0]!;
  if (images.length === 1) return images[0]!;
  throw unsupported(archive, `${what}: no manifest for linux/${hostArch()} among ${images.map(platformName).join(', ') || 'none'}`);
}

function parseIndex(archive: string, value: unknown, what: string): Descriptor[] {
  if (!isObject(value)) throw bad(archive, `${what} is not a JSON object`);
  if (value.schemaVersion !== 2) throw bad(archive, `${what}: schemaVersion ${JSON.stringify(value.schemaVersion)} is not 2`);
  if (!Array.isArray(value.manifests)) throw bad(archive, `${what} has no manifests array`);
  if (value.manifests.length > MAX_ENTRIES) throw bad(archive, `${what} lists ${value.manifests.length} manifests; at most ${MAX_ENTRIES} are read`);
  return value.manifests.map((m, i) => descriptor(archive, m, `${what} manifests[${i}]`));
}

/** Follows nested indexes from `d` to an image manifest's descriptor. */
async function resolveManifest(members: Members, d: Descriptor, what: string, depth: number): Promise<{ d: Descriptor; what: string }> {
  if (MANIFEST_TYPES.has(d.mediaType)) return { d, what };
  if (!INDEX_TYPES.has(d.mediaType)) throw unsupported(members.label, `${what} (${d.digest}): media type ${d.mediaType} is not an image manifest or index`);
  if (depth >= MAX_INDEX_DEPTH) throw bad(members.label, `${what}: indexes nested deeper than ${MAX_INDEX_DEPTH}`);
  const { value } = await readJsonBlob(members, d, what);
  const inner = `index ${d.digest}`;
  checkSelfType(members.label, value, d, inner);
  const picked = pickManifest(members.label, parseIndex(members.label, value, inner), inner);
  return resolveManifest(members, picked, `${inner} → ${picked.digest}`, depth + 1);
}

/** A manifest or index that states its own media type must agree with the descriptor that led to it. */
function checkSelfType(archive: string, value: unknown, d: Descriptor, what: string): void {
  if (isObject(value) && value.mediaType !== undefined && value.mediaType !== d.mediaType) {
    throw bad(archive, `${what} says it is ${JSON.stringify(value.mediaType)}, but its descriptor says ${d.mediaType}`);
  }
}

/** A layer descriptor as a SourceLayer: a supported media type, the blob present with the right size. */
async function ociLayer(members: Members, d: Descriptor, what: string): Promise<SourceLayer> {
  if (!LAYER_TYPES.has(d.mediaType)) {
    const why = /zstd/.test(d.mediaType) ? 'zstd-compressed layers are not supported' : `media type ${d.mediaType} is not a layer we can unpack`;
    throw unsupported(members.label, `${what} (${d.digest}): ${why}`);
  }
  const m = await blobMember(members, d, what);
  return { digest: d.digest, mediaType: d.mediaType, size: d.size, open: () => verifying(members.label, m.open(), d.digest, d.size, what) };
}

async function ociImage(members: Members, d: Descriptor, what: string): Promise<SourceImage> {
  const label = members.label;
  const { bytes: manifest, value } = await readJsonBlob(members, d, what);
  const mWhat = `manifest ${d.digest}`;
  if (!isObject(value)) throw bad(label, `${mWhat} is not a JSON object`);
  checkSelfType(label, value, d, mWhat);
  if (value.schemaVersion !== 2) throw bad(label, `${mWhat}: schemaVersion ${JSON.stringify(value.schemaVersion)} is not 2`);
  if (typeof value.artifactType === 'string') throw unsupported(label, `${mWhat} is an artifact (${value.artifactType}), not a container image`);
  const configD = descriptor(label, value.config, `${mWhat} config`);
  if (!CONFIG_TYPES.has(configD.mediaType)) throw unsupported(label, `${mWhat}: config media type ${configD.mediaType} is not a container image's`);
  if (!Array.isArray(value.layers)) throw bad(label, `${mWhat} has no layers array`);
  const layerDs = value.layers.map((l, i) => descriptor(label, l, `${mWhat} layers[${i}]`));
  const { bytes: config, value: configValue } = await readJsonBlob(members, configD, `${mWhat} config`);
  diffIds(label, configValue, layerDs.length, `config ${configD.digest}`);
  const layers: SourceLayer[] = [];
  for (const [i, l] of layerDs.entries()) layers.push(await ociLayer(members, l, `${mWhat} layers[${i}]`));
  return { tags: [], config, configDigest: configD.digest, manifest, manifestDigest: d.digest, layers };
}

/** The name an index entry gives its image: containerd's full name, else the OCI ref name, kept as written. */
function refName(d: Descriptor): string | undefined {
  return d.annotations[ANNOTATION_CONTAINERD_NAME] || d.annotations[ANNOTATION_REF_NAME] || undefined;
}

async function readOci(members: Members): Promise<SourceImage[]> {
  const label = members.label;
  const { value: layout } = await readJsonMember(members, await needMember(members, 'oci-layout', 'oci-layout'), 'oci-layout');
  const version = isObject(layout) ? layout.imageLayoutVersion : undefined;
  if (typeof version !== 'string') throw bad(label, 'oci-layout has no imageLayoutVersion');
  if (!/^1\.\d+\.\d+$/.test(version)) throw unsupported(label, `oci-layout: image layout version ${version} is not supported (1.x is)`);
  const { value: index } = await readJsonMember(members, await needMember(members, 'index.json', 'index.json'), 'index.json');
  const byManifest = new Map<Digest, SourceImage>();
  for (const [i, top] of parseIndex(label, index, 'index.json').entries()) {
    const { d, what } = await resolveManifest(members, top, `index.json manifests[${i}]`, 0);
    let img = byManifest.get(d.digest);
    if (!img) {
      img = await ociImage(members, d, what);
      byManifest.set(d.digest, img);
    }
    const name = refName(top);
    if (name !== undefined && !img.tags.includes(name)) img.tags.push(name);
  }
  return [...byManifest.values()];
}

// ---- docker save ----

interface DockerEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function parseDockerManifest(archive: string, value: unknown): DockerEntry[] {
  if (!Array.isArray(value)) throw bad(archive, 'manifest.json is not a JSON array');
  if (value.length > MAX_ENTRIES) throw bad(archive, `manifest.json lists ${value.length} images; at most ${MAX_ENTRIES} are read`);
  return value.map((e, i) => {
    const what = `manifest.json [${i}]`;
    if (!isObject(e)) throw bad(archive, `${what} is not an object`);
    if (typeof e.Config !== 'string') throw bad(archive, `${what} has no Config`);
    const tags = e.RepoTags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw bad(archive, `${what}.RepoTags is not a list of names`);
    if (!Array.isArray(e.Layers) || !e.Layers.every((l) => typeof l === 'string')) throw bad(archive, `${what}.Layers is not a list of file names`);
    return { Config: e.Config, RepoTags: tags as string[], Layers: e.Layers as string[] };
  });
}

/** The digest a blob's name states: blobs/sha256/<hex> (Docker 25) or <hex>.json (a classic config). */
function digestInName(name: string, json: boolean): Digest | undefined {
  const m = (json ? /^(?:blobs\/sha256\/([0-9a-f]{64})|([0-9a-f]{64})\.json)$/ : /^blobs\/sha256\/([0-9a-f]{64})$/).exec(name);
  return m ? `sha256:${m[1] ?? m[2]}` : undefined;
}

/** Names `repositories` gives the image whose top layer sits in directory `topDir` (classic archives without RepoTags). */
function tagsFromRepositories(repositories: unknown, topDir: string): string[] {
  const out: string[] = [];
  if (!isObject(repositories)) return out;
  for (const [repo, tags] of Object.entries(repositories)) {
    if (!isObject(tags)) continue;
    for (const [tag, id] of Object.entries(tags)) if (id === topDir) out.push(`${repo}:${tag}`);
  }
  return out;
}

/**
 * A docker save layer. Classic archives store them uncompressed, so the
 * blob digest is the config's diff_id: we take that and check it as the
 * bytes stream (docker load checks the same). A layer named by its digest
 * (blobs/sha256/<hex>) is checked against that; a gzip one under another
 * name is hashed here, as nothing else states its digest.
 */
async function dockerLayer(members: Members, rawName: string, diffId: Digest, what: string): Promise<SourceLayer> {
  const label = members.label;
  const name = memberName(label, rawName, what);
  const m = await members.get(name);
  if (!m) throw bad(label, `${what}: ${name} is missing`);
  const head = await m.head(8);
  if (startsWith(head, ZSTD_MAGIC)) throw unsupported(label, `${what} (${name}): zstd-compressed layers are not supported`);
  const gzip = startsWith(head, GZIP_MAGIC);
  let digest = digestInName(name, false) ?? (gzip ? undefined : diffId);
  if (digest === undefined) {
    const hash = createHash('sha256');
    for await (const chunk of m.open()) hash.update(chunk as Buffer);
    digest = `sha256:${hash.digest('hex')}`;
  }
  const d = digest;
  return { digest: d, mediaType: gzip ? MEDIA_DOCKER_LAYER_GZIP : MEDIA_DOCKER_LAYER, size: m.size, open: () => verifying(label, m.open(), d, m.size, `${what} (${name})`) };
}

async function readDockerManifest(members: Members): Promise<DockerEntry[]> {
  const { value } = await readJsonMember(members, await needMember(members, 'manifest.json', 'manifest.json'), 'manifest.json');
  return parseDockerManifest(members.label, value);
}

async function readDocker(members: Members): Promise<SourceImage[]> {
  const label = members.label;
  const entries = await readDockerManifest(members);
  const repoMember = await members.get('repositories');
  const repositories = repoMember ? (await readJsonMember(members, repoMember, 'repositories')).value : undefined;
  const out: SourceImage[] = [];
  // Each config read once, however many entries name it (see jsonBlobs).
  const configs = new Map<string, { bytes: Buffer; value: unknown }>();
  const seenImages = new Map<string, SourceImage>();
  for (const [i, e] of entries.entries()) {
    const what = `manifest.json [${i}]`;
    const configName = memberName(label, e.Config, `${what}.Config`);
    let read = configs.get(configName);
    if (!read) {
      const cm = await members.get(configName);
      if (!cm) throw bad(label, `${what}.Config: ${configName} is missing`);
      configs.set(configName, (read = await readJsonMember(members, cm, `config ${configName}`)));
    }
    const { bytes: config, value: configValue } = read;
    // The same image named again: one image, more names.
    const key = [configName, ...e.Layers].join('\0');
    const same = seenImages.get(key);
    if (same) {
      const top = e.Layers.length ? posix.dirname(memberName(label, e.Layers[e.Layers.length - 1], `${what}.Layers`)) : '';
      for (const t of e.RepoTags.length ? e.RepoTags : tagsFromRepositories(repositories, top)) if (!same.tags.includes(t)) same.tags.push(t);
      continue;
    }
    const configDigest = sha256(config);
    const named = digestInName(configName, true);
    if (named && named !== configDigest) throw bad(label, `config ${configName} does not match its name (its bytes hash to ${configDigest})`);
    const ids = diffIds(label, configValue, e.Layers.length, `config ${configName}`);
    const layers: SourceLayer[] = [];
    for (const [j, l] of e.Layers.entries()) layers.push(await dockerLayer(members, l, ids[j]!, `${what}.Layers[${j}]`));
    const top = e.Layers.length ? posix.dirname(memberName(label, e.Layers[e.Layers.length - 1], `${what}.Layers`)) : '';
    const tags = e.RepoTags.length ? [...e.RepoTags] : tagsFromRepositories(repositories, top);
    const img: SourceImage = { tags, config, configDigest, manifest: null, manifestDigest: null, layers };
    seenImages.set(key, img);
    out.push(img);
  }
  return out;
}

/**
 * Docker 25 writes an OCI layout and, for docker load, manifest.json. The
 * layout is read (it has the media types and manifests); the names come
 * from manifest.json's RepoTags, full references like 'busybox:latest',
 * where index.json may only say 'latest'.
 */
async function applyRepoTags(members: Members, images: SourceImage[]): Promise<void> {
  const entries = await readDockerManifest(members);
  for (const [i, e] of entries.entries()) {
    if (!e.RepoTags.length) continue;
    const name = memberName(members.label, e.Config, `manifest.json [${i}].Config`);
    let digest = digestInName(name, true);
    if (!digest) {
      const m = await members.get(name);
      if (!m) throw bad(members.label, `manifest.json [${i}].Config: ${name} is missing`);
      digest = sha256((await readJsonMember(members, m, `config ${name}`)).bytes);
    }
    for (const img of images) if (img.configDigest === digest) img.tags = [...e.RepoTags];
  }
}

// ---- the entry point ----

/**
 * The images in an OCI image layout (directory or tar) or a `docker save`
 * tar (also gzip-compressed), checked as described at the top of this file.
 * Call close() when done with the layers' streams.
 */
export async function readImageArchive(path: string, options: { scratch?: string } = {}): Promise<ImageArchive> {
  if (typeof path !== 'string' || path === '') throw invalidOption('path', 'the path of an image archive or OCI layout', path);
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw fromSystemError('ERR_INVALID_OPTION', `Cannot read the image archive ${path}`, err, { option: 'path', path });
  }
  if (!st.isDirectory() && !st.isFile()) throw new IsolateError('ERR_INVALID_OPTION', `${path} is neither a directory (OCI layout) nor a file (tar)`, { option: 'path', path });
  const members = st.isDirectory() ? await dirMembers(path) : await archiveMembers(path, options.scratch);
  try {
    const has = async (n: string) => (await members.get(n)) !== undefined;
    const [oci, index, docker] = [await has('oci-layout'), await has('index.json'), await has('manifest.json')];
    let images: SourceImage[];
    if (oci || index) {
      images = await readOci(members);
      if (docker) await applyRepoTags(members, images);
    } else if (docker) {
      images = await readDocker(members);
    } else {
      throw bad(path, 'neither an OCI image layout (oci-layout, index.json) nor a docker save archive (manifest.json)');
    }
    if (images.length === 0) throw bad(path, 'holds no image');
    return { images, close: () => members.close() };
  } catch (err) {
    await members.close();
    throw err;
  }
}
