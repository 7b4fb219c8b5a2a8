/**
 * Image archives: OCI image layouts (directory or tar) and `docker save`
 * tars. Reading is in oci-read.ts, writing in oci-write.ts; the formats and
 * the checks are described there and in docs/images.md.
 */
export { readImageArchive } from './oci-read';
export { writeImageArchive } from './oci-write';
