// The hand mutations `npm run mutate` applies, one at a time. Each is keyed by a code snippet that
// must occur exactly once in its file (never a line number: files move and split); when it no longer
// does, the mutant is reported stale and is re-pointed here. `equivalent` explains a mutant that
// survives because no behaviour can tell it from the original.

export interface Mutant {
  id: string
  file: string
  /** What the mutation does, for the table. */
  what: string
  find: string
  replace: string
  /** The test files that concern the mutated code. */
  tests: readonly string[]
  /** Why the mutant survives: no observable behaviour tells it from the original. */
  equivalent?: string
}

const CAUSES = 'lib/core/causes.ts'
const CLASSIFY = 'lib/core/classify.ts'
const INSPECT = 'lib/core/inspect.ts'
const CONVERSION = 'lib/fastify/conversion.ts'
const GATE = 'lib/fastify/gate.ts'
const WATCH = 'lib/upstream/watch.ts'
const SDK = 'lib/upstream/sdk.ts'
const TARGETS = 'lib/upstream/targets.ts'

const causes = ['test/verdict.test.ts', 'test/boot.test.ts', 'test/health.test.ts', 'test/mutants.test.ts']
const classify = ['test/verdict.test.ts', 'test/probe.test.ts']
const inspection = ['test/inspect.test.ts', 'test/mutants.test.ts']
const formats = ['test/inspect.test.ts', 'test/keys.test.ts', 'test/mutants.test.ts']
const conversion = ['test/upstream.test.ts', 'test/problem.test.ts', 'test/unavailable.test.ts', 'test/mutants.test.ts']
const gate = ['test/gate.test.ts', 'test/unavailable.test.ts', 'test/mutants.test.ts']
const recognition = ['test/recognise.test.ts', 'test/sdk/strip.test.ts', 'test/upstream.test.ts', 'test/mutants.test.ts']

/** A cause's row of the table with another status. */
const row = (cause: string, from: string, to: string, equivalent?: string): Mutant => ({
  ...(equivalent === undefined ? {} : { equivalent }),
  id: `cause-${cause}-${to}`,
  file: CAUSES,
  what: `CAUSES.${cause}.status ${from} → ${to}`,
  find: `  ${cause}: { status: '${from}'`,
  replace: `  ${cause}: { status: '${to}'`,
  tests: causes
})

export const MUTANTS: readonly Mutant[] = [
  // The cause table: statuses, and so the boot and readiness effects.
  row('missing', 'fail', 'warn'),
  row('malformed', 'fail', 'warn'),
  row('rejected', 'fail', 'warn'),
  row('forbidden', 'fail', 'warn'),
  row('limited', 'warn', 'fail'),
  row('unreachable', 'warn', 'fail'),
  row('valid', 'pass', 'warn'),
  row('pending', 'fail', 'pass', 'no code reads this row: the Guard builds the initial pending result with status ' +
    "'fail' itself, and no check yields a pending verdict (a custom classify may not: classify-refined-any)"),
  {
    id: 'status-unreachable-degrade',
    file: CAUSES,
    what: 'statusOf: onUnreachable degrade gives warn',
    find: "return onUnreachable === 'warn' ? 'warn' : 'fail'",
    replace: "return onUnreachable === 'refuse' ? 'fail' : 'warn'",
    tests: causes
  },
  {
    id: 'status-unknown-passes',
    file: CAUSES,
    what: 'statusOf: an unknown cause passes (fail open)',
    find: "return isCause(cause) ? CAUSES[cause].status : 'fail'",
    replace: "return isCause(cause) ? CAUSES[cause].status : 'pass'",
    tests: causes
  },
  {
    id: 'boot-refuse-one-policy',
    file: 'lib/fastify/plugin.ts',
    what: 'boot: unreachable refuses under onInvalid, not onUnreachable',
    find: "check.cause === 'unreachable' ? options.onUnreachable === 'refuse' : options.onInvalid === 'refuse'",
    replace: "options.onInvalid === 'refuse'",
    tests: ['test/boot.test.ts', 'test/unavailable.test.ts']
  },
  {
    id: 'ready-warn-503',
    file: 'lib/fastify/health.ts',
    what: 'readiness: warn answers 503',
    find: "status = report.status === 'fail' ? 503 : 200",
    replace: "status = report.status !== 'pass' ? 503 : 200",
    tests: ['test/health.test.ts']
  },
  {
    id: 'aggregate-fail-overridden',
    file: 'lib/core/report.ts',
    what: 'aggregate: a later warn overrides a fail',
    find: "if (s === 'fail') return 'fail'",
    replace: "if (s === 'fail') status = 'fail'",
    tests: ['test/health.test.ts', 'test/boot.test.ts', 'test/mutants.test.ts']
  },
  // The probe answer's classification.
  {
    id: 'classify-401',
    file: CLASSIFY,
    what: 'classify: 401 is unreachable, not rejected',
    find: "if (httpStatus === 401) return { cause: 'rejected'",
    replace: "if (httpStatus === 401) return { cause: 'unreachable'",
    tests: classify
  },
  {
    id: 'classify-403-cdn',
    file: CLASSIFY,
    what: 'classify: a CDN 403 is forbidden',
    find: '  if (httpStatus === 403) {\n    return fromCdn(answer)\n',
    replace: '  if (httpStatus === 403) {\n    return false\n',
    tests: classify
  },
  {
    id: 'classify-2xx-shape',
    file: CLASSIFY,
    what: 'classify: any 2xx is valid, whatever its shape',
    find: "? answer.json !== null && typeof answer.json === 'object'",
    replace: '? true',
    tests: classify
  },
  {
    id: 'classify-refined-any',
    file: CLASSIFY,
    what: 'classify: a custom classify may return any cause (pending, missing…)',
    find: 'if (!isCause(cause) || !REFINED.includes(cause)) {',
    replace: 'if (!isCause(cause)) {',
    tests: ['test/verdict.test.ts', 'test/probe.test.ts', 'test/hardening.test.ts', 'test/mutants.test.ts']
  },
  {
    id: 'transient-timeout',
    file: CLASSIFY,
    what: 'transient: a timeout is retried',
    find: "return ['refused', 'reset', 'closed', 'dns', 'network', 'server-error', 'cdn'].includes",
    replace: "return ['timeout', 'refused', 'reset', 'closed', 'dns', 'network', 'server-error', 'cdn'].includes",
    tests: classify
  },
  // The inspection rules: each rule's condition.
  {
    id: 'inspect-blank-malformed',
    file: INSPECT,
    what: 'a blank value is malformed, not missing',
    find: "reason === 'empty' || reason === 'blank' ? 'missing'",
    replace: "reason === 'empty' ? 'missing'",
    tests: inspection
  },
  {
    id: 'inspect-tab-control',
    file: INSPECT,
    what: 'a tab counts as a control character',
    find: '(code) => code !== 0x09 && isControl(code)',
    replace: '(code) => isControl(code)',
    tests: inspection
  },
  {
    id: 'inspect-invisible',
    file: INSPECT,
    what: 'the invisible-character rule is gone',
    find: "if (invisible !== undefined) return fail('invisible'",
    replace: "if (false) return fail('invisible'",
    tests: inspection
  },
  {
    id: 'inspect-too-long-boundary',
    file: INSPECT,
    what: 'too-long: > max → >= max',
    find: 'if (chars.length > max)',
    replace: 'if (chars.length >= max)',
    tests: inspection
  },
  {
    id: 'inspect-quoted-both-ends',
    file: INSPECT,
    what: 'quoted: only a value quoted at both ends',
    find: "if (/^[\"'`]|[\"'`]$/.test(value))",
    replace: "if (/^[\"'`].*[\"'`]$/.test(value))",
    tests: inspection
  },
  {
    id: 'inspect-assignment-padding',
    file: INSPECT,
    what: 'assignment: base64 padding counts as NAME=value',
    find: '[A-Za-z0-9_]*=(?!=|$)/.test(value)',
    replace: '[A-Za-z0-9_]*=/.test(value)',
    tests: formats
  },
  {
    id: 'inspect-generated-ignored',
    file: INSPECT,
    what: 'word rules judge generated keys too',
    find: 'if (!generated(value, own)) {',
    replace: 'if (true) {',
    tests: formats
  },
  {
    id: 'inspect-generated-one-class',
    file: INSPECT,
    what: 'generated: one character class is enough',
    find: 'if (classes < 2 || entropy(body) < GENERATED_ENTROPY) return false',
    replace: 'if (classes < 1 || entropy(body) < GENERATED_ENTROPY) return false',
    tests: formats
  },
  {
    id: 'inspect-generated-no-words',
    file: INSPECT,
    what: 'generated: one placeholder word disqualifies',
    find: 'return words < 2',
    replace: 'return words < 1',
    tests: formats
  },
  {
    id: 'inspect-inner-tab',
    file: INSPECT,
    what: 'inner whitespace: a tab is not whitespace',
    find: '(code) => code === 0x20 || code === 0x09)',
    replace: '(code) => code === 0x20)',
    tests: inspection
  },
  {
    id: 'inspect-non-ascii-latin1',
    file: INSPECT,
    what: 'non-ASCII: Latin-1 letters pass',
    find: '(code) => code > 0x7e)',
    replace: '(code) => code > 0xff)',
    tests: inspection
  },
  {
    id: 'inspect-own-prefix-first',
    file: INSPECT,
    what: 'wrong-provider: the own prefix no longer wins (sk-ant- vs sk-)',
    find: 'if ((own.key?.prefixes ?? []).some((prefix) => value.startsWith(prefix))) return undefined',
    replace: 'if (false) return undefined',
    tests: formats
  },
  {
    id: 'inspect-openai-marker',
    file: INSPECT,
    what: 'wrong-provider: the T3BlbkFJ marker is ignored',
    find: "if (own.id !== 'openai' && value.includes('T3BlbkFJ'))",
    replace: "if (false && value.includes('T3BlbkFJ'))",
    tests: inspection
  },
  {
    id: 'inspect-admin',
    file: INSPECT,
    what: 'the admin-key rule is gone',
    find: "if (adminPrefix(value, own) !== undefined) return fail('admin-key'",
    replace: "if (false) return fail('admin-key'",
    tests: formats
  },
  {
    id: 'inspect-base64-once',
    file: INSPECT,
    what: 'base64: one decoding round only',
    find: 'for (let round = 0; round < 2; round++)',
    replace: 'for (let round = 0; round < 1; round++)',
    tests: inspection
  },
  {
    id: 'inspect-shape-note',
    file: INSPECT,
    what: 'no shape note for a key off its pattern',
    find: "if (own.key?.pattern !== undefined && !own.key.pattern.test(value)) notes.push('shape')",
    replace: "if (false) notes.push('shape')",
    tests: inspection
  },
  // The conversion: recognition in onError, the status decision in onSend, the route gate.
  {
    id: 'reply-predicate-truthy',
    file: CONVERSION,
    what: 'recognise predicate: any truthy answer converts',
    find: 'if (verdict === true) return { status: 401 }',
    replace: 'if (verdict) return { status: 401 }',
    tests: conversion
  },
  {
    id: 'reply-predicate-name',
    file: CONVERSION,
    what: 'recognise predicate: a key name is ignored',
    find: "return typeof verdict === 'string' ? { status: 401, key: verdict } : undefined",
    replace: 'return undefined',
    tests: conversion
  },
  {
    id: 'reply-own-error',
    file: CONVERSION,
    what: 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED is not recognised',
    find: "const own = (error as { code?: unknown }).code === 'FST_KEYGUARD_UPSTREAM_UNAUTHORIZED'",
    replace: 'const own = false',
    tests: conversion
  },
  {
    id: 'reply-unavailable-always',
    file: CONVERSION,
    what: 'unavailable faults convert without problem.unavailable',
    find: 'if (found === undefined && conversion.unavailable === true && marked[kHit] === undefined) {',
    replace: 'if (found === undefined && marked[kHit] === undefined) {',
    tests: ['test/unavailable.test.ts', 'test/upstream.test.ts']
  },
  {
    id: 'reply-fault-any-key',
    file: CONVERSION,
    what: 'a fault converts without a guarded key',
    find: 'if (fault !== undefined && key !== undefined) {',
    replace: 'if (fault !== undefined) {',
    tests: ['test/unavailable.test.ts', 'test/mutants.test.ts']
  },
  {
    id: 'reply-rejected-outranks',
    file: CONVERSION,
    what: 'a 401 no longer outranks an earlier unavailable answer',
    find: "if (found !== undefined && (marked[kHit] === undefined || marked[kHit].kind === 'unavailable')) {",
    replace: 'if (found !== undefined && marked[kHit] === undefined) {',
    tests: ['test/unavailable.test.ts', 'test/upstream.test.ts', 'test/mutants.test.ts']
  },
  {
    id: 'reply-no-suspect',
    file: CONVERSION,
    what: 'a recognised 401 raises no suspicion',
    find: '      marked[kHit] = hit\n      if (key !== undefined) guard.suspect(key)',
    replace: '      marked[kHit] = hit',
    tests: conversion
  },
  {
    id: 'reply-expected-status',
    file: CONVERSION,
    what: "expected status: always the conversion's",
    find: "        : hit.kind === 'unavailable' ? unavailableStatus(hit) : conversion.status",
    replace: '        : conversion.status',
    tests: conversion
  },
  {
    id: 'send-convert-always',
    file: CONVERSION,
    what: "onSend: the application's own status mapping is overridden",
    find: 'if (!converts) return done(null, payload)',
    replace: 'if (false) return done(null, payload)',
    tests: conversion
  },
  {
    id: 'send-no-upstream-status',
    file: CONVERSION,
    what: "onSend: the upstream's own status passed through is not converted",
    find: '|| status === hit.status ||',
    replace: '||',
    tests: conversion
  },
  {
    id: 'send-401-unavailable',
    file: CONVERSION,
    what: 'onSend: an app 401 after an unavailable answer converts',
    find: "(status === 401 && hit.kind !== 'unavailable')",
    replace: '(status === 401)',
    tests: ['test/unavailable.test.ts', 'test/mutants.test.ts']
  },
  {
    id: 'retry-after-any-status',
    file: CONVERSION,
    what: 'Retry-After on every problem, not only 503',
    find: 'if (doc.status !== 503) return undefined',
    replace: 'if (false) return undefined',
    tests: ['test/problem.test.ts', 'test/unavailable.test.ts', 'test/mutants.test.ts']
  },
  {
    id: 'gate-open',
    file: GATE,
    what: 'gate: a blocked key lets the route run',
    find: 'if (blocked === undefined) return done()',
    replace: 'if (true) return done()',
    tests: gate
  },
  {
    id: 'blocking-warn',
    file: 'lib/core/guard.ts',
    what: 'guard.blocking: a warn key blocks too',
    find: "result === undefined || result.status === 'fail' ||",
    replace: "result === undefined || result.status !== 'pass' ||",
    tests: gate
  },
  {
    id: 'blocking-not-configured',
    file: 'lib/core/guard.ts',
    what: 'guard.blocking: an optional key left unset does not block',
    find: " || result.reason === 'not-configured') return name",
    replace: ') return name',
    tests: gate
  },
  // lib/upstream's recognition of an upstream's rejection.
  {
    id: 'recognise-any-4xx',
    file: SDK,
    what: 'recognise(): any 4xx is a rejection',
    find: 'return answer?.status === 401 ? described',
    replace: "return typeof answer?.status === 'number' && answer.status >= 400 ? described",
    tests: recognition
  },
  {
    id: 'upstream-recognise-401',
    file: WATCH,
    what: 'Upstream.recognise: a plain 401 is not recognised',
    find: 'if (status === 401) return described<Recognised>({ status }, answer)',
    replace: 'if (status === 418) return described<Recognised>({ status }, answer)',
    tests: recognition
  },
  {
    id: 'rejects-5xx',
    file: TARGETS,
    what: "rejects: a 5xx may be a provider's invalid-key answer",
    find: 'if (status < 400 || status >= 500 || target.provider.classify === undefined) return false',
    replace: 'if (status < 400 || target.provider.classify === undefined) return false',
    tests: recognition
  },
  {
    id: 'rejects-any-cause',
    file: TARGETS,
    what: 'rejects: any classify verdict counts, not only rejected',
    find: "classify(answer)?.cause === 'rejected'",
    replace: 'classify(answer)?.cause !== undefined',
    tests: recognition
  },
  {
    id: 'interceptor-401',
    file: WATCH,
    what: 'interceptor: a 401 answer is not seen',
    find: 'if (status === 401) this.#hit(target',
    replace: 'if (status === 418) this.#hit(target',
    tests: recognition
  },
  {
    id: 'shape-stainless-headers',
    file: SDK,
    what: 'any error with a numeric status is an SDK answer (http-errors too)',
    find: "if (typeof err.status === 'number' && typeof (err.headers as { get?: unknown } | undefined)?.get === 'function') {",
    replace: "if (typeof err.status === 'number') {",
    tests: recognition
  },
  {
    id: 'shape-fireworks',
    file: SDK,
    what: "@fireworksai/sdk's Unauthorized is not recognised",
    find: "if (err.name === 'Unauthorized' && 'data$' in err) return { status: 401 }",
    replace: 'if (false) return { status: 401 }',
    tests: recognition
  },
  {
    id: 'shape-hub-fields',
    file: SDK,
    what: "any error with statusCode and url is @huggingface/hub's",
    find: "if (hub && typeof err.statusCode === 'number' && typeof err.url === 'string') {",
    replace: "if (typeof err.statusCode === 'number' && typeof err.url === 'string') {",
    tests: recognition
  },
  {
    id: 'mismatch-ignored',
    file: WATCH,
    what: 'another credential sent: the key is suspected anyway',
    find: 'if (sent !== undefined && this.#guard.sends(target.name, sent) === false) {',
    replace: 'if (false) {',
    tests: ['test/upstream.test.ts', 'test/issues/10-wrong-credential.test.ts']
  }
]
