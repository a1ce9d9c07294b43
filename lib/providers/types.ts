/**
 * What a probe saw: the HTTP status, the response headers (lower-case) and at most a few KiB of the body.
 * Classification overrides receive it; they never see the key.
 */
export interface ProbeAnswer {
  /** HTTP status code. */
  status: number
  /** Response headers, names lower-cased, repeated headers joined with `, `. */
  headers: Readonly<Record<string, string>>
  /** The body as text, cut at the read cap. */
  text: string
  /** The body parsed as JSON when it was complete, valid JSON; otherwise `undefined`. */
  json: unknown
  /** `true` when the body was longer than the read cap and was cut. */
  truncated: boolean
}

/** A provider-specific refinement of a probe answer. */
export interface ProbeRefinement {
  /** The cause this answer means. */
  cause: 'valid' | 'rejected' | 'forbidden' | 'limited' | 'unreachable'
  /** A stable reason code (see docs/causes-and-reasons.md), e.g. `quota`, `missing-scope`. */
  reason?: string
}

/**
 * A provider keyguard does not ship, or a variant of one it does. Everything here is data except
 * `valid` and `classify`, which look at a probe answer (never at the key).
 *
 * @example
 * const acme: ProviderSpec = {
 *   id: 'acme',
 *   label: 'Acme AI',
 *   env: 'ACME_API_KEY',
 *   baseUrl: 'https://api.acme.example',
 *   probe: { path: '/v1/models' },
 *   dashboard: 'https://console.acme.example/keys'
 * }
 */
export interface ProviderSpec {
  /** Short id used in `keys: ['acme']`, logs and problem documents. Lower-case letters, digits and `-`. */
  id: string
  /** Human name used in messages, e.g. `Fireworks AI`. */
  label: string
  /** The environment variable that holds the key, e.g. `FIREWORKS_API_KEY`. Its `_FILE` twin is read too. */
  env: string
  /**
   * The root the probe path is appended to: an origin, optionally with a path prefix (for a gateway).
   * `https:` only, except loopback hosts.
   */
  baseUrl: string
  /**
   * How the key is sent.
   * @default { header: 'authorization', scheme: 'Bearer' }
   */
  auth?: { header: string, scheme?: string }
  /** The no-cost authenticated request that proves the key works. */
  probe: {
    /** @default 'GET' */
    method?: 'GET' | 'POST'
    /** Path (and query) appended to `baseUrl`, starting with `/`. */
    path: string
    /** Extra request headers (never the key; `auth` adds it). */
    headers?: Record<string, string>
    /** A JSON body for a POST probe. */
    body?: unknown
  }
  /**
   * Whether a 2xx answer has the shape a working key gets. A 200 of another shape (a captive portal,
   * a WAF page) is `unreachable`, never `valid`.
   * @default any JSON object or array
   */
  valid?: (answer: ProbeAnswer) => boolean
  /** Provider-specific meaning of an answer, consulted before the generic status rules. */
  classify?: (answer: ProbeAnswer) => ProbeRefinement | undefined
  /** Offline knowledge of the key's shape. */
  key?: {
    /** The full pattern of a well-formed key. A mismatch is a warning, never a refusal: the probe decides. */
    pattern?: RegExp
    /** Prefixes no other provider uses; a key with one of them in another provider's variable is refused. */
    prefixes?: string[]
    /** @default 16 */
    minLength?: number
    /** @default 1024 */
    maxLength?: number
    /**
     * Prefixes of this provider's admin keys, which manage an organisation and cannot call models: such a
     * key in this provider's slot is refused offline. A spec that guards an admin key on purpose leaves it out.
     */
    adminPrefixes?: string[]
  }
  /** Where the operator creates or checks a key; used in fix texts. */
  dashboard?: string
  /**
   * Set when the provider has no shared endpoint (Azure OpenAI: one per resource): every key must give
   * `baseUrl`, and this text, shown in the options error, says what it looks like.
   */
  requiresBaseUrl?: string
}
