import type { Render } from './phrases.js'
import { between, http, lower, peer, seen, suggest, verifyLater } from './phrases.js'

/** Wording of the reasons that say how the probe went: limited, unreachable, valid, unchecked, pending. */
export const PROBE_REASONS: Readonly<Record<string, Render>> = Object.freeze<Readonly<Record<string, Render>>>({
  // limited
  'rate-limited': (s, _f, v) => [
    `${s.label} rate-limited the probe of ${s.where} ${seen(s, v)}; the key authenticated.`,
    'Nothing to fix now; if it persists, lower the request rate or raise the account\'s limits'
  ],
  quota: (s, _f, v) => [
    `${s.label} accepted ${s.where} but the account is out of quota ${seen(s, v)}.`,
    `Add credit or raise the quota at ${s.dashboard ?? `the ${s.label} console`}; waiting will not clear it`
  ],
  billing: (s, _f, v) => [
    `${s.label} accepted ${s.where} but the account cannot pay ${seen(s, v)} (payment required, or suspended ` +
      'for billing).',
    `Settle billing at ${s.dashboard ?? `the ${s.label} console`}`
  ],
  'spend-cap': (s, _f, v) => [
    `${s.label} accepted ${s.where} but the account reached its spend limit ${seen(s, v)}.`,
    `Raise the spend limit at ${s.dashboard ?? `the ${s.label} console`}`
  ],
  capacity: (s, _f, v) => [
    `${s.label} accepted ${s.where} but has no capacity for it now ${seen(s, v)}.`,
    'Nothing to fix in the key; retry later or change the service tier'
  ],
  'no-balance': (s, _f, v) => [
    `${s.label} accepted ${s.where} but the balance is empty ${seen(s, v)}.`,
    `Top up at ${s.dashboard ?? `the ${s.label} console`}`
  ],
  'no-credit': (s, _f, v) => [
    `${s.label} accepted ${s.where} but its credit limit is used up ${seen(s, v)}.`,
    `Raise the key's limit or add credit at ${s.dashboard ?? `the ${s.label} console`}`
  ],
  // unreachable
  timeout: (s, f) => [
    `The probe of ${s.where} at ${peer(s, f)} did not finish within ${f.timeoutMs ?? '?'} ms.`,
    verifyLater(s)
  ],
  refused: (s, f) => [
    `The probe of ${s.where} could not connect to ${peer(s, f)}: connection refused.`,
    s.baseUrl === undefined ? verifyLater(s) : `${verifyLater(s)}; check the host and port of baseUrl (${s.baseUrl})`
  ],
  reset: (s, f) => [`The connection to ${peer(s, f)} was reset while probing ${s.where}.`, verifyLater(s)],
  closed: (s, f) => [
    `${peer(s, f)} closed the connection before a complete answer while probing ${s.where}.`,
    // Only a baseUrl the user set can be http: (every shipped provider's is https:).
    f.origin?.startsWith('http:') === true
      ? 'Check baseUrl: a port that speaks HTTPS closes plain http:// requests like this, so use https://. ' +
        `Otherwise: ${verifyLater(s)}`
      : verifyLater(s)
  ],
  dns: (s, f) => [
    `The host of ${peer(s, f)} could not be resolved (${f.errno ?? 'DNS'}) while probing ${s.where}.`,
    s.baseUrl === undefined
      ? `Check this host's DNS resolver and network; ${lower(verifyLater(s))}`
      : `Check the host name in baseUrl (${s.baseUrl}) and this host's DNS; ${lower(verifyLater(s))}`
  ],
  network: (s, f) => [
    `The network path to ${peer(s, f)} failed (${f.errno ?? 'error'}) while probing ${s.where}.`,
    verifyLater(s)
  ],
  'tls-self-signed': (s, f) => [
    `The TLS certificate of ${peer(s, f)} is self-signed or signed by an unknown authority ` +
      `(${f.errno ?? 'TLS'}); ${s.where} was not sent.`,
    'If a corporate proxy inspects TLS, add its CA with NODE_EXTRA_CA_CERTS; never disable certificate checks'
  ],
  'tls-expired': (s, f) => [
    `The TLS certificate of ${peer(s, f)} has expired (${f.errno ?? 'TLS'}); ${s.where} was not sent.`,
    'Check this host\'s clock; if it is right, the endpoint\'s certificate is broken'
  ],
  'tls-not-yet-valid': (s, f) => [
    `The TLS certificate of ${peer(s, f)} is not valid yet (${f.errno ?? 'TLS'}); ${s.where} was not sent.`,
    'Check this host\'s clock (NTP); a clock in the past makes new certificates look invalid'
  ],
  'tls-hostname': (s, f) => [
    `The TLS certificate of ${peer(s, f)} is for another host name (${f.errno ?? 'TLS'}); ${s.where} was not ` +
      'sent.',
    s.baseUrl === undefined
      ? `A proxy or a DNS entry may point the host elsewhere: check this host's DNS and ${between(s)}`
      : `Check the host in baseUrl (${s.baseUrl}); a proxy or a DNS entry may point it elsewhere`
  ],
  'tls-protocol': (s, f) => [
    `TLS to ${peer(s, f)} failed (${f.errno ?? 'TLS'}) while probing ${s.where}: the port does not speak HTTPS.`,
    s.baseUrl === undefined
      ? `Something that does not speak HTTPS answered: check ${between(s)}`
      : `Check baseUrl (${s.baseUrl}): https:// to a plain-HTTP port, or the wrong port`
  ],
  'tls-error': (s, f) => [
    `TLS to ${peer(s, f)} failed (${f.errno ?? 'TLS'}); ${s.where} was not verified.`,
    'Check the endpoint\'s certificate and any TLS-inspecting proxy (NODE_EXTRA_CA_CERTS)'
  ],
  protocol: (s, f) => [
    `${peer(s, f)} did not answer in valid HTTP (${f.errno ?? 'parse error'}) while probing ${s.where}.`,
    s.baseUrl === undefined
      ? `Check ${between(s)}: something else answered`
      : `Check baseUrl (${s.baseUrl}): the port may belong to another service, or http:// may point at an HTTPS port`
  ],
  proxy: (s, f) => [
    `The proxy refused the tunnel to ${peer(s, f)}${f.errno === undefined ? '' : ` (${f.errno})`} while probing ` +
      `${s.where}.`,
    'Check HTTPS_PROXY / HTTP_PROXY (and their credentials) and NO_PROXY'
  ],
  redirect: (s, f, v) => [
    `${peer(s, f)} answered the probe of ${s.where} with a redirect (${http(v)}) to ` +
      `${f.target ?? 'another location'}; it was not followed, so the key was not sent there.`,
    s.baseUrl === undefined
      ? `Check ${between(s)} (a captive portal redirects like this)`
      : `Set baseUrl (${s.baseUrl}) to the final address`
  ],
  'not-found': (s, f, v) => [
    `${peer(s, f)} has no probe endpoint at the configured path (${http(v)}); ${s.where} was not judged.`,
    s.baseUrl === undefined
      ? `Check ${between(s)}; if nothing is in between, report it to fastify-keyguard (the probe route may have moved)`
      : `Check baseUrl (${s.baseUrl}): it is the root the provider's paths start from (e.g. ${s.label}'s default), ` +
        'without /v1'
  ],
  'server-error': (s, f, v) => [
    `${peer(s, f)} answered the probe of ${s.where} with a server error (${http(v)}).`,
    verifyLater(s)
  ],
  cdn: (s, f, v) => [
    `A CDN or firewall page answered for ${peer(s, f)} (${http(v)}) while probing ${s.where}; the provider ` +
      'itself did not judge the key.',
    verifyLater(s)
  ],
  'unexpected-answer': (s, f, v) => [
    `${peer(s, f)} answered the probe of ${s.where} with ${http(v)} but not the expected answer ` +
      `(${f.contentType ?? 'no content type'}): a captive portal or a proxy page` +
      `${s.baseUrl === undefined ? '' : ', or a wrong baseUrl'}?`,
    s.baseUrl === undefined ? `Check ${between(s)}` : `Check baseUrl (${s.baseUrl}) and ${between(s)}`
  ],
  'unexpected-status': (s, f, v) => [
    `${peer(s, f)} answered the probe of ${s.where} with an unexpected ${http(v)}.`,
    s.baseUrl === undefined ? verifyLater(s) : `${verifyLater(s)}; check baseUrl (${s.baseUrl})`
  ],
  'provider-code': (s) => [
    `The classify() or valid() of the ${s.label} ProviderSpec failed while judging ${s.where} (details are in ` +
      'the log); the key was not judged.',
    'Fix the ProviderSpec: classify() returns undefined or { cause, reason? } with a cause of valid, rejected, ' +
      'forbidden, limited or unreachable, and neither function may throw'
  ],
  internal: (s) => [
    `keyguard could not finish checking the ${s.label} key in ${s.where} (an internal error; details are in the ` +
      'log).',
    'Report it with the log line to fastify-keyguard; the key was not judged'
  ],
  aborted: (s) => [`The probe of ${s.where} at ${s.label} was cancelled (the server is closing).`, 'None needed'],
  // valid, unchecked, pending
  ok: (s, _f, v) => [`${s.label} accepted ${s.where} ${seen(s, v)}.`, 'None needed'],
  'fire-pass': (s, _f, v) => [
    `${s.label} accepted ${s.where} as a Fire Pass key ${seen(s, v)}: valid for chat on router models, refused ` +
      'on list routes.',
    'None needed'
  ],
  'restricted-key': (s, _f, v) => [
    `${s.label} accepted ${s.where} as a restricted key ${seen(s, v)}: it may use data-plane routes (upsert, ` +
      'query) but not the control-plane route that lists indexes.',
    'None needed; grant control-plane access only if the application manages indexes'
  ],
  'scoped-key': (s, _f, v) => [
    `${s.label} accepted ${s.where} as a key limited to some endpoints ${seen(s, v)} (it lacks the user_read ` +
      'permission the probe route needs).',
    'None needed, unless the application reads account data'
  ],
  'probe-disabled': (s) => [`${s.where} passed the offline checks; the live probe is off for it.`, 'None needed'],
  'not-configured': (s, f) => [
    `${s.env} is not set; the key is optional, so routes that need it answer 503.${suggest(f)}`,
    `Set ${s.env} to enable the routes that use ${s.label}`
  ],
  pending: (s) => [`${s.where} has not been checked yet.`, 'Wait for the first check']
})
