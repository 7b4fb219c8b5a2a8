/**
 * parseSize / parseDuration: what they accept (to the byte and the
 * millisecond) and the exact IsolateError they throw for everything else.
 */
import { expect } from 'chai';
import { IsolateError, isIsolateError } from '../../lib/errors';
import { parseDuration, parseSize } from '../../lib/units';

const SIZE = 'a byte count (a non-negative integer, or a string like "64M" or "1.5G")';
const POSITIVE = 'a duration (milliseconds as a positive number, or a string like "2s" or "500ms")';
const NON_NEGATIVE = 'a duration (milliseconds as a non-negative number, or a string like "2s" or "500ms")';

/** Calls fn, expecting an ERR_INVALID_OPTION IsolateError; returns it. */
function rejects(fn: () => unknown, option: string, message: string): IsolateError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'should have thrown').to.be.instanceOf(IsolateError);
  const err = caught as IsolateError;
  expect(isIsolateError(err)).to.equal(true);
  expect(err.name).to.equal('IsolateError');
  expect(err.code).to.equal('ERR_INVALID_OPTION');
  expect(err.option).to.equal(option);
  expect(err.message).to.equal(message);
  return err;
}

describe('parseSize()', function () {
  const accepted: [unknown, number][] = [
    [0, 0],
    [1, 1],
    [4096, 4096],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    ['0', 0],
    ['512', 512],
    ['512b', 512],
    ['512B', 512],
    ['1k', 1024],
    ['1K', 1024],
    ['1kb', 1024],
    ['1KiB', 1024],
    ['64M', 64 * 1024 ** 2],
    ['64m', 64 * 1024 ** 2],
    ['64MB', 64 * 1024 ** 2],
    ['64MiB', 64 * 1024 ** 2],
    ['1.5G', 1.5 * 1024 ** 3],
    ['2g', 2 * 1024 ** 3],
    ['1GiB', 1024 ** 3],
    ['1T', 1024 ** 4],
    ['1tib', 1024 ** 4],
    [' 64 M ', 64 * 1024 ** 2],
    ['0.5k', 512],
    // fractions of a byte round to the nearest byte
    ['1.0001k', 1024],
  ];
  for (const [input, bytes] of accepted) {
    it(`should parse ${JSON.stringify(input)} as ${bytes} bytes`, function () {
      expect(parseSize('size', input)).to.equal(bytes);
    });
  }

  const rejected: [unknown, string][] = [
    [-1, '`-1` (number)'],
    [1.5, '`1.5` (number)'],
    [Number.MAX_SAFE_INTEGER + 1, '`9007199254740992` (number)'],
    ['', '`""` (string)'],
    ['   ', '`"   "` (string)'],
    ['M', '`"M"` (string)'],
    ['-1M', '`"-1M"` (string)'],
    ['1e3', '`"1e3"` (string)'],
    ['10x', '`"10x"` (string)'],
    ['10 MBs', '`"10 MBs"` (string)'],
    ['1,5G', '`"1,5G"` (string)'],
    ['.5G', '`".5G"` (string)'],
    ['0x10', '`"0x10"` (string)'],
    [null, '`null` (null)'],
    [undefined, '`undefined` (undefined)'],
    [true, '`true` (boolean)'],
    [[1], '`[1]` (array)'],
    [{ bytes: 1 }, '`{"bytes":1}` (object)'],
    [10n, '`10n` (bigint)'],
  ];
  for (const [input, shown] of rejected) {
    it(`should reject ${shown} with ERR_INVALID_OPTION naming the option`, function () {
      rejects(() => parseSize('mounts[0].size', input), 'mounts[0].size', `Expected the \`mounts[0].size\` option to be ${SIZE}, got ${shown}`);
    });
  }

  it('should say "too large" for sizes past Number.MAX_SAFE_INTEGER bytes', function () {
    rejects(
      () => parseSize('maxOutput', '9999999T'),
      'maxOutput',
      `Expected the \`maxOutput\` option to be ${SIZE}, got \`"9999999T"\` (string): too large`,
    );
  });

  it('should shorten very long values in the message', function () {
    const long = `${'9'.repeat(100)}Q`;
    const err = rejects(() => parseSize('maxOutput', long), 'maxOutput', `Expected the \`maxOutput\` option to be ${SIZE}, got \`"${'9'.repeat(56)}...\` (string)`);
    expect(err.message.length).to.be.lessThan(200);
  });

  it('should show NaN and Infinity as what they are', function () {
    // showValue() goes through JSON.stringify, which prints both as `null`.
    rejects(() => parseSize('maxOutput', NaN), 'maxOutput', `Expected the \`maxOutput\` option to be ${SIZE}, got \`NaN\` (number)`);
    rejects(() => parseSize('maxOutput', Infinity), 'maxOutput', `Expected the \`maxOutput\` option to be ${SIZE}, got \`Infinity\` (number)`);
  });
});

describe('parseDuration()', function () {
  const accepted: [unknown, number][] = [
    [1, 1],
    [0.5, 0.5],
    [1500, 1500],
    [2 ** 31 - 1, 2 ** 31 - 1],
    ['1', 1],
    ['250', 250],
    ['250ms', 250],
    ['2s', 2000],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['1.5m', 90_000],
    ['2min', 120_000],
    ['1h', 3_600_000],
    [' 2 s ', 2000],
    ['500 ms', 500],
  ];
  for (const [input, ms] of accepted) {
    it(`should parse ${JSON.stringify(input)} as ${ms} ms`, function () {
      expect(parseDuration('timeout', input)).to.equal(ms);
    });
  }

  const rejected: [unknown, string][] = [
    [0, '`0` (number)'],
    ['0', '`"0"` (string)'],
    ['0s', '`"0s"` (string)'],
    [-1, '`-1` (number)'],
    [-0.5, '`-0.5` (number)'],
    ['-1s', '`"-1s"` (string)'],
    ['abc', '`"abc"` (string)'],
    ['', '`""` (string)'],
    ['2 seconds', '`"2 seconds"` (string)'],
    ['2S', '`"2S"` (string)'],
    ['1d', '`"1d"` (string)'],
    ['1e3', '`"1e3"` (string)'],
    [null, '`null` (null)'],
    [undefined, '`undefined` (undefined)'],
    [true, '`true` (boolean)'],
    [[1000], '`[1000]` (array)'],
    [{ ms: 1 }, '`{"ms":1}` (object)'],
  ];
  for (const [input, shown] of rejected) {
    it(`should reject ${shown} with ERR_INVALID_OPTION naming the option`, function () {
      rejects(() => parseDuration('timeout', input), 'timeout', `Expected the \`timeout\` option to be ${POSITIVE}, got ${shown}`);
    });
  }

  // Past it Node runs a timer after 1 ms: a limit of weeks would end a run at once.
  it('should reject a duration past what a Node timer takes, saying the most', function () {
    const most = "a duration of at most 2147483647 ms (about 24.8 days: Node's timers go no further)";
    for (const [input, shown] of [[2 ** 31, '`2147483648` (number)'], ['600h', '`"600h"` (string)']] as const) {
      rejects(() => parseDuration('timeout', input), 'timeout', `Expected the \`timeout\` option to be ${most}, got ${shown}`);
    }
  });

  it('should accept 0 only with allowZero, and say "non-negative" then', function () {
    expect(parseDuration('grace', 0, true)).to.equal(0);
    expect(parseDuration('grace', '0s', true)).to.equal(0);
    rejects(() => parseDuration('grace', -1, true), 'grace', `Expected the \`grace\` option to be ${NON_NEGATIVE}, got \`-1\` (number)`);
  });

  it('should reject NaN and Infinity, showing them as what they are', function () {
    rejects(() => parseDuration('timeout', NaN), 'timeout', `Expected the \`timeout\` option to be ${POSITIVE}, got \`NaN\` (number)`);
    rejects(() => parseDuration('timeout', Infinity), 'timeout', `Expected the \`timeout\` option to be ${POSITIVE}, got \`Infinity\` (number)`);
  });
});
