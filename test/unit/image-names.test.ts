/** Image names as Docker spells them: what the store looks a name up as. */
import { expect } from 'chai';
import { nameCandidates, normalizeTag } from '../../lib/image/store';
import { digestHex } from '../../lib/image/paths';
import { IsolateError } from '../../lib';

describe('image names and digests', function () {
  it("should add ':latest' only where there is no tag or digest", function () {
    expect(normalizeTag('busybox')).to.equal('busybox:latest');
    expect(normalizeTag('busybox:1.36')).to.equal('busybox:1.36');
    expect(normalizeTag('localhost:5000/app')).to.equal('localhost:5000/app:latest');
    expect(normalizeTag('app@sha256:' + 'a'.repeat(64))).to.equal('app@sha256:' + 'a'.repeat(64));
  });

  it('should try the Docker Hub spellings of a name, both ways', function () {
    expect(nameCandidates('busybox')).to.deep.equal(['busybox', 'busybox:latest', 'docker.io/library/busybox:latest']);
    expect(nameCandidates('me/app:2')).to.deep.equal(['me/app:2', 'docker.io/me/app:2']);
    expect(nameCandidates('docker.io/library/busybox:latest')).to.deep.equal(['docker.io/library/busybox:latest', 'busybox:latest', 'library/busybox:latest']);
    expect(nameCandidates('example.com/x')).to.deep.equal(['example.com/x', 'example.com/x:latest']);
  });

  it('should turn only well-formed sha256 digests into path parts', function () {
    expect(digestHex('sha256:' + 'ab'.repeat(32), 'blob')).to.equal('ab'.repeat(32));
    for (const bad of ['sha256:../../etc', 'sha256:' + 'AB'.repeat(32), 'sha512:' + 'a'.repeat(128), '', 42, null]) {
      expect(() => digestHex(bad, 'blob'), String(bad)).to.throw(IsolateError, /is not a sha256 digest/);
    }
  });
});
