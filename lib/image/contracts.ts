/**
 * The types the image modules share (see README.md in this directory).
 * Keep them stable: tar-read.ts, tar-write.ts, oci.ts and the store are
 * written against them.
 */
import type { Readable } from 'node:stream';

/** `sha256:<64 lowercase hex>`. */
export type Digest = string;

/** Caps on what one layer tar may hold; exceeding one is ERR_BAD_IMAGE naming the entry. */
export interface ExtractLimits {
  /** Bytes of one regular file. */
  maxEntrySize: number;
  /** Bytes of all regular files together (uncompressed). */
  maxLayerSize: number;
  /** Entries in the tar. */
  maxEntries: number;
}

export interface Progress {
  /** Bytes of the input (as given: compressed or not) consumed so far. */
  bytesDone: number;
  /** The input's size when known (a file), else null. */
  bytesTotal: number | null;
}

export interface ExtractOptions {
  limits?: Partial<ExtractLimits>;
  onProgress?: (p: Progress) => void;
  /** Size of the input, for progress (the caller knows it for files). */
  bytesTotal?: number;
  /** Create character and block devices other than whiteouts (root only). @default false: ERR_BAD_IMAGE */
  allowDevices?: boolean;
  signal?: AbortSignal;
}

export interface ExtractResult {
  /** sha256 of the uncompressed tar. */
  diffId: Digest;
  /** sha256 of the input bytes as given. */
  digest: Digest;
  /** Bytes of the input as given. */
  size: number;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
  compression: 'gzip' | 'none';
  entries: number;
}

export interface PackResult {
  /** sha256 of the tar written (uncompressed). */
  diffId: Digest;
  /** Bytes written. */
  size: number;
}

/** One layer of an image found in an archive being imported. */
export interface SourceLayer {
  /** Digest of the blob as it is in the archive (for docker save: of the layer.tar). */
  digest: Digest;
  /** OCI media type (docker save: 'application/vnd.docker.image.rootfs.diff.tar'). */
  mediaType: string;
  /** Bytes of the blob. */
  size: number;
  /** The blob's bytes, verified against `digest` by whoever reads them. */
  open(): Readable;
}

/** One image found in an archive being imported. */
export interface SourceImage {
  /** Names it carries: 'busybox:latest', 'example.com/x:1' (OCI: org.opencontainers.image.ref.name; docker: RepoTags). */
  tags: string[];
  /** The image config JSON, as stored (its digest is the image ID). */
  config: Buffer;
  configDigest: Digest;
  /** The manifest JSON when the archive has one (OCI), else null. */
  manifest: Buffer | null;
  manifestDigest: Digest | null;
  /** Base first. */
  layers: SourceLayer[];
}

export interface ImageArchive {
  images: SourceImage[];
  /** Releases what reading holds (temp files, fds). */
  close(): Promise<void>;
}

/** One image to write to an archive. */
export interface ExportImageSpec {
  tags: string[];
  config: Buffer;
  /** Base first. `path`: the blob file in the store; `digest` its sha256; `diffId` of its uncompressed tar. */
  layers: { digest: Digest; diffId: Digest; mediaType: string; size: number; path: string }[];
}

export interface WriteArchiveOptions {
  /** 'oci': an OCI image layout (index.json, oci-layout, blobs/sha256); 'docker': a `docker save` archive (manifest.json, repositories, <id>/layer.tar). */
  format: 'oci' | 'docker';
  /** Write one tar file at `dest` (true) or a directory (false; 'oci' only). */
  tar: boolean;
}
