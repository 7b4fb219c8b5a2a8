/**
 * Which Landlock domain a container gets (lib/landlock.ts), by the kernel's
 * ABI and the container's options, and what probe() says; the modes match
 * csrc/init/landlock_scope.h. The domains themselves are tested for real in
 * test/integration/cross-container.test.ts (ABI 7 here, ABI 2 in the VM).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LandlockMode, landlockMode, landlockReport } from '../../lib/landlock';
import { packageRoot } from '../../lib/native';

const CAP_SYS_ADMIN = 1n << 21n;
const CAP_NET_ADMIN = 1n << 12n;

describe('landlockMode()', function () {
  it('should match the modes of csrc/init/landlock_scope.h', function () {
    const h = readFileSync(join(packageRoot(), 'csrc', 'init', 'landlock_scope.h'), 'utf8');
    expect(/IK_LANDLOCK_SCOPE = (\d+)/.exec(h)?.[1]).to.equal(String(LandlockMode.Scope));
    expect(/IK_LANDLOCK_REFER = (\d+)/.exec(h)?.[1]).to.equal(String(LandlockMode.Refer));
  });

  it('should scope every container from ABI 6, whatever its options', function () {
    for (const abi of [6, 7, 9]) {
      expect(landlockMode(undefined, 0n, abi)).to.equal(LandlockMode.Scope);
      expect(landlockMode('unconfined', CAP_SYS_ADMIN, abi)).to.equal(LandlockMode.Scope);
    }
  });

  it('should use the REFER domain on ABI 2-5 only where the payload cannot mount', function () {
    for (const abi of [2, 3, 4, 5]) {
      expect(landlockMode(undefined, 0n, abi)).to.equal(LandlockMode.Refer);
      expect(landlockMode(undefined, CAP_NET_ADMIN, abi)).to.equal(LandlockMode.Refer);
      expect(landlockMode(undefined, CAP_SYS_ADMIN | CAP_NET_ADMIN, abi)).to.equal(undefined);
      expect(landlockMode('unconfined', 0n, abi)).to.equal(undefined);
    }
  });

  it('should give none on ABI 1 or without Landlock', function () {
    for (const abi of [1, -38, -95]) expect(landlockMode(undefined, 0n, abi)).to.equal(undefined);
  });

  it('should say in probe() what each kernel confines, or why nothing', function () {
    expect(landlockReport(7)).to.deep.include({ ok: true, abi: 7 });
    expect(landlockReport(7).reason).to.match(/ptrace or signal .* abstract Unix socket/);
    expect(landlockReport(2)).to.deep.include({ ok: true, abi: 2 });
    expect(landlockReport(2).reason).to.match(/ptrace .*from Linux 6\.12.*CAP_SYS_ADMIN/);
    expect(landlockReport(1)).to.deep.include({ ok: false, abi: 1 });
    expect(landlockReport(-38).reason).to.equal('not built into this kernel (CONFIG_SECURITY_LANDLOCK)');
    expect(landlockReport(-95).reason).to.equal('built in but not enabled at boot (add landlock to the lsm= kernel parameter)');
  });
});
