import { createHash } from 'node:crypto'
import { test } from 'tap'
import { fingerprint as exported } from '../index.js'
import { fingerprint, scrub, SecretForms } from '../lib/core/redact.js'

const KEY = 'fw_' + 'A'.repeat(28) + 'a1b2'

test('fingerprint: prefix, an ellipsis and the last four characters, as provider dashboards show them', async (t) => {
  t.equal(exported, fingerprint)
  t.equal(fingerprint(KEY, ['fw_', 'fpk_']), 'fw_…a1b2')
  t.equal(fingerprint('fpk_' + 'B'.repeat(26) + 'zz99', ['fw_', 'fpk_']), 'fpk_…zz99')
  t.equal(fingerprint(KEY), '…a1b2', 'no prefixes given')
  t.equal(fingerprint('Q'.repeat(36) + 'WXYZ', ['fw_']), '…WXYZ', 'a key without the provider prefix')
  t.equal(fingerprint('x'.repeat(24)), '…xxxx', '24 characters is long enough')
})

test('fingerprint: keys shorter than 24 characters get a hash tag, never a share of the key', async (t) => {
  const short = 'fw_' + 'S'.repeat(16) + 'tail'
  const tag = fingerprint(short, ['fw_'])
  t.equal(tag, 'sha256:' + createHash('sha256').update(short).digest('hex').slice(0, 8))
  t.match(tag, /^sha256:[0-9a-f]{8}$/)
  t.notOk(tag.includes('tail'))
  t.not(fingerprint(short + 'x'), fingerprint(short), 'different keys, different tags')
  t.equal(fingerprint(short), tag, 'stable')
})

test('scrub: every occurrence of a secret and its common encodings becomes [REDACTED]', async (t) => {
  // undici fetch() echoes header values (faults.md #3) and URLs with credentials (#16) in its messages.
  t.equal(scrub(`Headers.append: "Bearer ${KEY}" is an invalid header value. (${KEY})`, [KEY]), 'Headers.append: "Bearer [REDACTED]" is an invalid header value. ([REDACTED])')
  const odd = 'k3y+with/slashes="and"\\quotes'
  t.equal(scrub(`http://user:${encodeURIComponent(odd)}@127.0.0.1/`, [odd]), 'http://user:[REDACTED]@127.0.0.1/', 'URL-encoded')
  t.equal(scrub(JSON.stringify({ key: odd }), [odd]), '{"key":"[REDACTED]"}', 'JSON-escaped')
  t.equal(scrub(`authorization: Basic ${Buffer.from(KEY).toString('base64')}`, [KEY]), 'authorization: Basic [REDACTED]', 'base64')
  t.equal(scrub('nothing secret here', [KEY]), 'nothing secret here')
  t.equal(scrub(`no secrets: ${KEY}`, []), `no secrets: ${KEY}`)
})

test('scrub: short secrets are scrubbed too (a custom provider may have 6-character keys)', async (t) => {
  t.equal(scrub('the key is secret1', ['secret1']), 'the key is [REDACTED]')
  t.equal(scrub('the key is secret12', ['secret12']), 'the key is [REDACTED]')
  t.equal(scrub('the key is secret12', ['']), 'the key is secret12', 'an empty secret is nothing')
})

test('scrub: several secrets, one containing another, leave nothing behind', async (t) => {
  const old = 'fw_' + 'O'.repeat(20)
  const successor = old + 'NEWTAIL99'
  t.equal(scrub(`old ${old}, new ${successor}`, [old, successor]), 'old [REDACTED], new [REDACTED]')
  t.equal(scrub(`old ${old}, new ${successor}`, new Set([successor, old])), 'old [REDACTED], new [REDACTED]')
  t.equal(scrub(`${KEY}${KEY}`, [KEY, KEY]), '[REDACTED][REDACTED]')
})

test('a SecretForms cache remembers the forms of the last 64 secrets only, and still scrubs older ones', async (t) => {
  const cache = new SecretForms()
  const many = Array.from({ length: 70 }, (_, i) => `fw_${String(i).padStart(2, '0')}${'S'.repeat(30)}`)
  for (const secret of many) t.equal(scrub(`x ${secret} y`, [secret], cache), 'x [REDACTED] y')
  t.equal(cache.size, 64)
  t.equal(scrub(`again ${many[0] as string}`, many, cache), 'again [REDACTED]', 'a forgotten secret is computed anew')
  cache.clear()
  t.equal(cache.size, 0)
})

test('echoes: a short text (scanned against the whole forms) gets the answer its pieces give (fast-check)', async (t) => {
  const { default: fc } = await import('fast-check')
  const { echoes } = await import('../lib/core/redact.js')
  // A text beyond 128 characters is checked piece by piece; \u0001 is in no form of a printable secret, so
  // the padding adds no match of its own.
  const pad = '\u0001'.repeat(200)
  const secret = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+/=:%"'), minLength: 1, maxLength: 60 })
  const cache = new SecretForms()
  fc.assert(fc.property(secret, fc.string({ maxLength: 100 }), fc.nat(), fc.nat(), (key, noise, at, cut) => {
    const forms = [key, encodeURIComponent(key), Buffer.from(key).toString('base64'), Buffer.from('x' + key).toString('base64url')]
    const form = forms[at % forms.length] as string
    const start = cut % Math.max(1, form.length)
    const text = (noise.slice(0, 40) + form.slice(start, start + 12) + noise.slice(40)).slice(0, 128)
    return echoes(text, [key], cache) === echoes(pad + text, [key], cache)
  }), { numRuns: 2000 })
  t.ok(echoes('req_' + Buffer.from('fw_SecretKeyFor8Test').toString('base64').slice(4, 16), ['fw_SecretKeyFor8Test']), 'a base64 piece')
  t.notOk(echoes('req_0123456789abcdef', ['fw_SecretKeyFor8Test']))
  t.ok(echoes('id-abc', ['abc']), 'a whole form shorter than a piece')
})

test('the base64 forms: standard, and URL-safe without padding, at each alignment (fast-check against the alphabet swap)', async (t) => {
  const { default: fc } = await import('fast-check')
  const { scrub } = await import('../lib/core/redact.js')
  fc.assert(fc.property(fc.string({ minLength: 8, maxLength: 80 }), (key) => {
    const standard = Buffer.from(key).toString('base64')
    const urlSafe = standard.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')
    return !scrub(`a ${standard} b ${urlSafe} c`, [key]).includes(urlSafe.slice(0, -4))
  }), { numRuns: 500 })
  t.pass()
})

test('a key base64-encoded after any prefix (`Basic base64(user:key)`) is found and scrubbed at each alignment (fast-check)', async (t) => {
  const { default: fc } = await import('fast-check')
  const { echoes, scrub } = await import('../lib/core/redact.js')
  const cache = new SecretForms()
  // 12 characters or more: each alignment's form keeps at least 8 after its first and last 4 are cut.
  fc.assert(fc.property(fc.string({ minLength: 12, maxLength: 60 }), fc.string({ maxLength: 10 }), fc.boolean(),
    (key, prefix, url) => {
      const text = Buffer.from(prefix + key).toString(url ? 'base64url' : 'base64')
      return echoes(text, [key], cache) && scrub(text, [key], cache) !== text
    }), { numRuns: 1000 })
  t.pass()
})
