/**
 * Every `Retry-After` keyguard honours (a probe's answer) or sends (a gated route, an upstream's passed on),
 * in seconds: one cap for all of them; `none` is sent when no check is scheduled.
 */
export const RETRY_AFTER = Object.freeze({ min: 1, max: 300, none: 60 })
/** The same cap in ms, for parsing. */
export const RETRY_AFTER_CAP = RETRY_AFTER.max * 1000

/**
 * A wait in ms as a `Retry-After` value: whole seconds rounded up, within `[min, max]` (a check that is
 * due now is still a second away); `none` when there is no wait to state (no check scheduled).
 */
export function retryAfterValue (ms: number | undefined): number {
  if (ms === undefined) return RETRY_AFTER.none
  return Math.min(RETRY_AFTER.max, Math.max(RETRY_AFTER.min, Math.ceil(ms / 1000)))
}

const MONTHS = Object.freeze(['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'])

// RFC 9110 §5.6.7: IMF-fixdate, obsolete RFC 850 and asctime forms, all in GMT.
const IMF = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/
const RFC850 = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/
const ASCTIME = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/

function utc (year: number, month: string, day: number, h: string, m: string, s: string): number | undefined {
  const mon = MONTHS.indexOf(month.toLowerCase())
  const [hh, mm, ss] = [Number(h), Number(m), Number(s)]
  if (mon < 0 || hh > 23 || mm > 59 || ss > 60) return undefined
  const at = Date.UTC(year, mon, day, hh, mm, ss)
  // Date.UTC rolls 31 Feb over into March; a date that does not exist is not a date.
  return new Date(at).getUTCDate() === day ? at : undefined
}

/**
 * Parses an HTTP-date strictly, in any of the three forms a recipient must accept, always as GMT
 * (V8's `Date.parse` reads asctime in local time and accepts much that is not a date).
 */
export function parseHttpDate (value: string, now: number = Date.now()): number | undefined {
  let m = IMF.exec(value)
  if (m) return utc(Number(m[3]), m[2] as string, Number(m[1]), m[4] as string, m[5] as string, m[6] as string)
  m = RFC850.exec(value)
  if (m) {
    const thisYear = new Date(now).getUTCFullYear()
    let year = thisYear - (thisYear % 100) + Number(m[3])
    // RFC 9110: a two-digit year more than 50 years ahead is the most recent past year with those digits.
    if (year > thisYear + 50) year -= 100
    return utc(year, m[2] as string, Number(m[1]), m[4] as string, m[5] as string, m[6] as string)
  }
  m = ASCTIME.exec(value)
  if (m) {
    return utc(Number(m[6]), m[1] as string, Number((m[2] as string).trim()), m[3] as string, m[4] as string,
      m[5] as string)
  }
  return undefined
}

/**
 * `Retry-After` in milliseconds: delay-seconds (`^\d+$` only: no `1.5`, `0x10`, `1e3` or `-3`) or an
 * HTTP-date, measured against the response's own `Date` header when it has one (so a skewed local
 * clock does not matter), clamped to `[0, cap]`. Anything else is `undefined`: fall back to backoff.
 */
export function parseRetryAfter (
  value: string | undefined, date: string | undefined, now: number, cap: number = RETRY_AFTER_CAP
): number | undefined {
  if (value === undefined) return undefined
  if (/^\d+$/.test(value)) return Math.min(Number(value) * 1000, cap)
  const at = parseHttpDate(value, now)
  if (at === undefined) return undefined
  const base = date === undefined ? undefined : parseHttpDate(date, now)
  return Math.min(Math.max(at - (base ?? now), 0), cap)
}
