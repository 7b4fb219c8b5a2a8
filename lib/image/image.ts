/**
 * An Image: an OCI image config and its layers (base first) in an
 * ImageStore. Its config gives a container's defaults (Env, Entrypoint and
 * Cmd, WorkingDir, User); its layers, a LayerStack.
 */
import { LayerStack, type OverlayOptions } from '../layer-stack';
import type { Digest } from './contracts';
import type { Layer } from './layer';
import type { ImageStore } from './store';

/** The parts of an OCI image config (`config` object) a container uses. */
export interface ImageRunConfig {
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  User?: string;
  [key: string]: unknown;
}

/** An OCI image config (application/vnd.oci.image.config.v1+json), as much as we read. */
export interface OciImageConfig {
  architecture?: string;
  os?: string;
  created?: string;
  config?: ImageRunConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: unknown[];
  [key: string]: unknown;
}

/** What the store records of an image (images/<id>.json). */
export interface ImageRecord {
  /** The config's digest: the image ID. */
  id: Digest;
  /** The manifest it came with (OCI imports), else null. */
  manifest: { digest: Digest; mediaType: string; size: number } | null;
  /** Base first: each layer's blob as this image has it, and its diff_id. */
  layers: { diffId: Digest; digest: Digest; mediaType: string; size: number }[];
  created: string;
}

export class Image {
  /** @internal Made by the store. */
  constructor(
    readonly store: ImageStore,
    private readonly record: ImageRecord,
    /** The parsed config. */
    readonly config: OciImageConfig,
    /** Base first. */
    readonly layers: readonly Layer[],
    /** Names that point at it ('busybox:latest'). */
    readonly tags: readonly string[],
  ) {
    Object.freeze(this);
  }

  /** sha256 of its config: the image ID (as Docker shows it). */
  get id(): Digest {
    return this.record.id;
  }

  get manifestDigest(): Digest | null {
    return this.record.manifest?.digest ?? null;
  }

  /** Bytes of its layer blobs. */
  get size(): number {
    return this.record.layers.reduce((n, l) => n + l.size, 0);
  }

  /** The root a container of this image gets: its layers under a writable one. */
  stack(options: OverlayOptions = {}): LayerStack {
    return LayerStack.fromLayers(this.layers, options);
  }

  /** @internal */
  _record(): ImageRecord {
    return this.record;
  }

  toJSON(): { id: Digest; tags: readonly string[]; layers: Digest[]; size: number } {
    return { id: this.id, tags: this.tags, layers: this.layers.map((l) => l.diffId), size: this.size };
  }
}
