import type { Render } from './phrases.js'
import { a, at, createKey, dest, fileFix, lower, paste, seen, suggest } from './phrases.js'

/** Wording of the reasons that judge the key itself: missing, malformed, rejected, forbidden. */
export const KEY_REASONS: Readonly<Record<string, Render>> = Object.freeze<Readonly<Record<string, Render>>>({
  // missing
  unset: (s, f) => [
    `${s.env} is not set.${suggest(f)}`,
    `Set ${s.env} (or ${s.env}_FILE to a file holding the key). ${createKey(s)} if you have none`
  ],
  empty: (s, f) => [
    `${s.where} is set but empty.${suggest(f)}`,
    `Put the key in ${s.where}; an empty value usually means a template or compose variable did not expand`
  ],
  blank: (s, f) => [`${s.where} holds only whitespace.${suggest(f)}`, `Put the key in ${s.where}`],
  'file-missing': (s, f) => [
    `${s.env}_FILE points at ${f.path ?? '?'}, which does not ` +
      `exist${f.errno === 'ELOOP' ? ' (symlink loop)' : ''}.`,
    `${fileFix(s, f)}. Relative paths are resolved against the working directory`
  ],
  'file-denied': (s, f) => [
    `${s.env}_FILE points at ${f.path ?? '?'}, which this process may not read (${f.errno ?? 'EACCES'}).`,
    'Give the process read access (Kubernetes: the secret volume\'s defaultMode or the pod\'s fsGroup)'
  ],
  'file-directory': (s, f) => [`${s.env}_FILE points at ${f.path ?? '?'}, which is a directory.`, fileFix(s, f)],
  'file-special': (s, f) => [
    `${s.env}_FILE points at ${f.path ?? '?'}, which is not a regular file (a device, FIFO or socket); it was ` +
      'not read.',
    fileFix(s, f)
  ],
  'file-too-large': (s, f) => [
    `${s.env}_FILE points at ${f.path ?? '?'}, a file of ${f.size ?? '?'} bytes; a key file holds one key (at ` +
      `most ${f.max ?? '?'} bytes). It was not read.`,
    fileFix(s, f)
  ],
  'file-empty': (s, f) => [
    `${s.env}_FILE points at ${f.path ?? '?'}, which is empty.`,
    `Write the key into ${f.path ?? 'the file'}, or point ${s.env}_FILE at the right file`
  ],
  'file-error': (s, f) => [
    `${s.env}_FILE points at ${f.path ?? '?'}, which could not be read (${f.errno ?? 'error'}).`,
    fileFix(s, f)
  ],
  // malformed
  'control-character': (s, f) => [
    `${s.where} contains a control character, ${f.character ?? '?'}, ${at(f)}.`,
    `${paste(s)}; a line break inside a key usually means two values were pasted together`
  ],
  invisible: (s, f) => [
    `${s.where} contains an invisible character, ${f.character ?? '?'}, ${at(f)} (pasted from a web page or a ` +
      'chat?).',
    paste(s)
  ],
  'non-ascii': (s, f) => [
    `${s.where} contains a non-ASCII character, ${f.character ?? '?'}, ${at(f)}; API keys are plain ASCII (a ` +
      'look-alike character from a PDF or a word processor?).',
    paste(s)
  ],
  'inner-whitespace': (s, f) => [
    `${s.where} contains whitespace ${at(f)}; a key is one word.`,
    `${paste(s)}; a space or line break inside usually means a multi-line paste or two values joined`
  ],
  quoted: (s) => [
    `${s.where} is wrapped in quotes (or starts or ends with one), and the quotes are part of the value.`,
    'Remove the quotes. docker run --env-file and Kubernetes YAML with nested quotes keep them; compose, dotenv ' +
      'and node --env-file strip them'
  ],
  'auth-scheme': (s) => [
    `${s.where} starts with an auth scheme ("Bearer "); the value must be the bare key.`,
    `Remove the "Bearer " prefix from ${dest(s)}; the client adds it`
  ],
  'header-line': (s) => [
    `${s.where} holds a whole header line ("Authorization: …"); the value must be the bare key.`,
    `Keep only the key itself in ${dest(s)}`
  ],
  assignment: (s) => [
    `${s.where} holds an assignment ("${s.env}=…"); the value must be the bare key.`,
    `Keep only the part after "=" in ${dest(s)}`
  ],
  placeholder: (s) => [
    `${s.where} holds a placeholder, not a key.`,
    `${createKey(s)} and put it in ${dest(s)}; the placeholder came from an example file or a template`
  ],
  template: (s) => [
    `${s.where} holds an unexpanded template (\${…}, $(…), {{…}} or %…%); the variable was not substituted.`,
    'Fix the substitution in your compose file, Helm chart or Kubernetes manifest (Kubernetes leaves an ' +
      'unresolvable $(VAR) as it is)'
  ],
  'wrong-provider': (s, f) => [
    `${s.where} looks like ${f.other ?? 'another service'}'s key, not ${a(s.label)} key.`,
    `Put the ${s.label} key in ${dest(s)}; the keys of two services were probably swapped`
  ],
  base64: (s) => [
    `${s.where} appears to be base64-encoded.`,
    'Store the plain key. In a Kubernetes Secret, put it under stringData (plain) or base64-encode it exactly ' +
      'once under data'
  ],
  'too-short': (s, f) => [
    `${s.where} is ${f.length ?? '?'} characters long; ${a(s.label)} key has at least ${f.min ?? '?'} (a ` +
      'truncated copy?).',
    paste(s)
  ],
  'admin-key': (s) => [
    `${s.where} holds ${a(s.label)} admin key, which manages the organisation and cannot call models.`,
    `Create a project or API key (not an admin key) at ${s.dashboard ?? `the ${s.label} console`} ` +
      `and put it in ${dest(s)}. ` +
      'To guard an admin key on purpose, pass a ProviderSpec that probes the admin API (docs/providers.md: Admin keys)'
  ],
  'too-long': (s, f) => [
    `${s.where} is ${f.length ?? '?'} characters long; ${a(s.label)} key has at most ${f.max ?? '?'} (a whole ` +
      'file or several values pasted in?).',
    paste(s)
  ],
  // rejected
  unauthorized: (s, _f, v) => [
    `${s.label} rejected ${s.where} ${seen(s, v)}: invalid, revoked or expired.`,
    `${createKey(s)} and put it in ${dest(s)}`
  ],
  'api-key-invalid': (s, _f, v) => [
    `${s.label} rejected ${s.where} ${seen(s, v)}: API_KEY_INVALID.`,
    `${createKey(s)} and put it in ${dest(s)}`
  ],
  'invalid-argument': (s, _f, v) => [
    `${s.label} rejected ${s.where} ${seen(s, v)}: incorrect API key.`,
    `${createKey(s)} and put it in ${dest(s)}`
  ],
  'valid-false': (s, _f, v) => [
    `${s.label} says ${s.where} is not a valid key ${seen(s, v)}.`,
    `${createKey(s)} and put it in ${dest(s)}`
  ],
  'invalid-token': (s, _f, v) => [
    `${s.label} rejected ${s.where} as an invalid token ${seen(s, v)}.`,
    `${createKey(s)} and put it in ${dest(s)}`
  ],
  'unknown-key': (s, _f, v) => [
    `${s.label} does not know ${s.where} or has disabled it ${seen(s, v)}: its own not_found_error for the key.`,
    `${createKey(s)} and put it in ${dest(s)}`
  ],
  'key-type-unsupported': (s, _f, v) => [
    `${s.label} no longer accepts the type of key in ${s.where} ${seen(s, v)}: an unrestricted standard API ` +
      'key (ACCESS_TOKEN_TYPE_UNSUPPORTED). The key is not revoked; its type is refused.',
    'Restrict the key to the Generative Language API (Google Cloud console, APIs & Services, Credentials, API ' +
      `restrictions), or create a new-style key at ${s.dashboard ?? `the ${s.label} console`} and put it in ${dest(s)}`
  ],
  disabled: (s, _f, v) => [
    `${s.label} reports ${s.where} as disabled ${seen(s, v)}.`,
    `Enable the key again or ${lower(createKey(s))}`
  ],
  // forbidden
  forbidden: (s, _f, v) => [
    `${s.label} accepted ${s.where} but refused the request ${seen(s, v)}: the key lacks permission, or the ` +
      'account or region is blocked.',
    `Check the key's permissions and the account's status at ${s.dashboard ?? `the ${s.label} console`}`
  ],
  'missing-scope': (s, _f, v) => [
    `${s.label} accepted ${s.where} but it is a restricted key missing a scope ${seen(s, v)}.`,
    `Grant the key the scopes it needs (at least model read) at ${s.dashboard ?? `the ${s.label} console`}`
  ],
  'ip-not-allowed': (s, _f, v) => [
    `${s.label} refused ${s.where} from this IP address ${seen(s, v)}.`,
    'Add this host\'s egress IP to the key\'s or organisation\'s allow-list'
  ],
  blocked: (s, _f, v) => [
    `${s.label} reports ${s.where} or its team as blocked ${seen(s, v)}.`,
    `Check the key and team status at ${s.dashboard ?? `the ${s.label} console`}`
  ],
  'region-blocked': (s, _f, v) => [
    `${s.label} refused requests from this host ${seen(s, v)} with a region or account block; it is not ` +
      `the fault of the key in ${s.where}.`,
    `Check that ${s.label} serves this host's region (an egress IP in an unsupported country is blocked) and ` +
      `that the account is in good standing at ${s.dashboard ?? `the ${s.label} console`}; the key needs no change`
  ],
  'management-key': (s, _f, v) => [
    `${s.label} reports ${s.where} as a management (provisioning) key ${seen(s, v)}: it manages API keys and ` +
      'cannot call models.',
    `Create an API key (not a management key) at ${s.dashboard ?? `the ${s.label} console`} and put it in ${dest(s)}`
  ],
  'service-blocked': (s, _f, v) => [
    `${s.label} blocks ${s.where} for this API ${seen(s, v)} (API_KEY_SERVICE_BLOCKED, or an unrestricted ` +
      'standard key).',
    'Restrict the key to the Generative Language API, or create an auth key at ' +
      `${s.dashboard ?? `the ${s.label} console`}`
  ]
})
