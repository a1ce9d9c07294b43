import { test } from 'tap'
import { parseHttpDate, parseRetryAfter, RETRY_AFTER, RETRY_AFTER_CAP, retryAfterValue } from '../lib/core/retry-after.js'

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0)
const CAP = 600_000
const at = (iso: string): number => Date.parse(iso)

for (const tz of ['UTC', 'America/New_York']) {
  test(`faults #38: Retry-After parsing under TZ=${tz}`, async (t) => {
    const saved = process.env.TZ
    process.env.TZ = tz
    t.teardown(() => { if (saved === undefined) delete process.env.TZ; else process.env.TZ = saved })
    t.equal(new Date(0).getTimezoneOffset() !== 0, tz !== 'UTC', 'Node re-read TZ')

    t.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), at('1994-11-06T08:49:37Z'), 'IMF-fixdate')
    t.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW), at('1994-11-06T08:49:37Z'), 'RFC 850')
    t.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), at('1994-11-06T08:49:37Z'), 'asctime is GMT, not local time')
    t.equal(parseHttpDate('Thu Nov 26 12:00:30 2026'), NOW + 30_000, 'asctime with a two-digit day')
    // RFC 9110: a two-digit year is this century unless that puts it more than 50 years ahead.
    t.equal(parseHttpDate('Monday, 01-Jan-70 00:00:00 GMT', NOW), at('2070-01-01T00:00:00Z'))
    t.equal(parseHttpDate('Monday, 01-Jan-77 00:00:00 GMT', NOW), at('1977-01-01T00:00:00Z'))
    t.equal(parseHttpDate('Wednesday, 26-Nov-26 12:00:00 GMT'), NOW, 'defaults to the current clock')
    for (const bad of ['Sun, 31 Feb 2026 00:00:00 GMT', 'Sun, 00 Nov 1994 08:49:37 GMT', 'Sun, 06 Foo 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 24:00:00 GMT', 'Sun, 06 Nov 1994 08:60:00 GMT', 'Sun, 06 Nov 1994 08:49:61 GMT', 'Sun, 06 Nov 1994 08:49:37 PST', '2026-11-26T12:00:00Z', '120']) {
      t.equal(parseHttpDate(bad), undefined, `not a date: ${bad}`)
    }

    t.equal(parseRetryAfter('120', undefined, NOW, CAP), 120_000, 'delta-seconds')
    t.equal(parseRetryAfter('0', undefined, NOW, CAP), 0)
    t.equal(parseRetryAfter('86400', undefined, NOW, CAP), CAP, 'capped')
    t.equal(parseRetryAfter('Thu, 26 Nov 2026 12:00:30 GMT', undefined, NOW, CAP), 30_000, 'IMF date against the local clock')
    t.equal(parseRetryAfter('Thursday, 26-Nov-26 12:00:30 GMT', undefined, NOW, CAP), 30_000, 'RFC 850 date')
    t.equal(parseRetryAfter('Thu Nov 26 12:00:30 2026', undefined, NOW, CAP), 30_000, 'asctime date')
    t.equal(parseRetryAfter('Thu, 26 Nov 2026 12:00:30 GMT', 'Thu, 26 Nov 2026 12:00:20 GMT', NOW + 3_600_000, CAP), 10_000, 'against the answer\'s Date, whatever the local clock says')
    t.equal(parseRetryAfter('Thu, 26 Nov 2026 12:00:30 GMT', 'garbage', NOW, CAP), 30_000, 'a bad Date header falls back to the local clock')
    t.equal(parseRetryAfter('Thu, 01 Jan 2015 00:00:00 GMT', undefined, NOW, CAP), 0, 'a past date means now')
    t.equal(parseRetryAfter('Fri, 26 Nov 2027 12:00:00 GMT', undefined, NOW, CAP), CAP, 'a far date is capped')
    for (const junk of ['1.5', '0x10', '1e3', '-3', 'Infinity', '', ' 120 ', '120, 60', 'soon']) {
      t.equal(parseRetryAfter(junk, undefined, NOW, CAP), undefined, `junk ${JSON.stringify(junk)} falls back to backoff`)
    }
    t.equal(parseRetryAfter(undefined, undefined, NOW, CAP), undefined, 'absent')
  })
}

test('one cap for every Retry-After keyguard honours or sends: 300 s', async (t) => {
  t.equal(RETRY_AFTER_CAP, RETRY_AFTER.max * 1000)
  t.equal(parseRetryAfter('86400', undefined, NOW), RETRY_AFTER_CAP, 'parsing caps at it by default')
  t.equal(retryAfterValue(undefined), RETRY_AFTER.none, 'no check scheduled: a minute')
  t.equal(retryAfterValue(-5_000), 1, 'an overdue check is still a second away')
  t.equal(retryAfterValue(0), 1)
  t.equal(retryAfterValue(1), 1, 'rounded up')
  t.equal(retryAfterValue(1_000), 1)
  t.equal(retryAfterValue(1_001), 2)
  t.equal(retryAfterValue(299_999), 300)
  t.equal(retryAfterValue(86_400_000), RETRY_AFTER.max, 'capped')
  t.equal(retryAfterValue(parseRetryAfter('999999', undefined, NOW) as number), RETRY_AFTER.max, 'parse, then send: the same cap')
})
