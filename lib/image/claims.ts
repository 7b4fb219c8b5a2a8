/**
 * Claims: what an import in progress uses, written as empty files in the
 * store's tmp/ (named after their owner, so gc() sweeps a dead one's).
 *
 * Why: between finding a layer or blob in the store and recording the
 * image that refers to it, an import holds it by no record. Two things
 * may take it away meanwhile: a failed import that made it (it removes
 * what it added) and gc(). Both look at the claims, under the store's
 * lock, and leave a claimed layer or blob alone; an import claims under
 * the same lock, in the step that finds or adds the layer or blob, so no
 * removal can fall between the two.
 */
import { readdirSync } from 'node:fs';

export type ClaimKind = 'layer' | 'blob';

/** The tmp/ name's tail for a claim on `hex` (a diff_id's or a blob digest's hex). */
export function claimSuffix(kind: ClaimKind, hex: string): string {
  return `claim-${kind}-${hex}`;
}

const CLAIM_RE = /-claim-(layer|blob)-([0-9a-f]{64})$/;

/** Every claim in `tmpDir` (of any owner: gc() sweeps dead owners' first). */
export function readClaims(tmpDir: string): Record<ClaimKind, Set<string>> {
  const out: Record<ClaimKind, Set<string>> = { layer: new Set(), blob: new Set() };
  for (const n of readdirSync(tmpDir)) {
    const m = CLAIM_RE.exec(n);
    if (m) out[m[1] as ClaimKind].add(m[2]!);
  }
  return out;
}
