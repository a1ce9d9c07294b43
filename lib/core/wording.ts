import { FALLBACK } from './causes.js'
import type { NoteCode, Subject, Verdict } from './causes.js'
import type { Render } from './phrases.js'
import { KEY_REASONS } from './reasons-key.js'
import { PROBE_REASONS } from './reasons-probe.js'

const REASONS: Readonly<Record<string, Render>> = Object.freeze({ ...KEY_REASONS, ...PROBE_REASONS })

/** Every reason code that has its own wording. */
export const REASON_CODES: readonly string[] = Object.freeze(Object.keys(REASONS))

const NOTES: Record<NoteCode, (s: Subject) => string> = Object.freeze<Record<NoteCode, (s: Subject) => string>>({
  bom: (s) => `Removed a leading byte-order mark (U+FEFF) from ${s.where}; save the file as UTF-8 without BOM.`,
  newline: (s) => `Removed a trailing line break from ${s.where}; write secrets with printf or echo -n.`,
  whitespace: (s) => `Removed surrounding whitespace from ${s.where}.`,
  shape: (s) => `${s.where} does not have the usual shape of a ${s.label} key; the live probe decides.`,
  'file-ignored': (s) => `${s.env}_FILE is also set and was ignored: ${s.env} takes precedence.`,
  'empty-used-file': (s) => `${s.env} is set but empty; the key was read from ${s.env}_FILE.`,
  'rotation-refused': (s) => `${s.where} now holds a different key, which ${s.label} refused; ` +
    `the previous key (${s.fingerprint as string}) stays in use until a new one is accepted.`
})

/** Renders notes for people. */
export function describeNotes (notes: readonly NoteCode[], subject: Subject): string[] {
  return notes.map((note) => NOTES[note](subject))
}
/**
 * Renders a verdict for people: the message names the provider and the variable, the fix says what to do.
 * A key that does not pass carries its notes in the message too: "FIREWORKS_API_KEY_FILE is also set and was
 * ignored" may be the whole story of a rejected key, and an operator reads the message, not `notes`.
 */
export function describe (
  verdict: Verdict, subject: Subject, notes: readonly NoteCode[] = []
): { message: string, fix: string } {
  // Own properties only: a reason named `constructor` or `__proto__` gets its cause's wording.
  const reason = Object.hasOwn(REASONS, verdict.reason)
    ? verdict.reason
    : FALLBACK[verdict.cause] ?? 'unexpected-status'
  const render = REASONS[reason] as Render
  const [message, fix] = render(subject, verdict.facts ?? {}, verdict)
  const passing = verdict.cause === 'valid' || verdict.cause === 'unchecked'
  const noted = passing || notes.length === 0 ? '' : ` Note: ${describeNotes(notes, subject).join(' ')}`
  return { message: message + noted, fix: fix.replace(/\.?$/, '.') }
}
/**
 * The runtime face of the fourth cause: the upstream rejected a request that carried another credential
 * than the guarded key (`sent` is its fingerprint), or, when keyguard could not see what was sent, a
 * request was rejected while the guarded key passes its probe. The guarded key is not to blame.
 */
export function describeMismatch (s: Subject, sent: string | undefined): { message: string, fix: string } {
  // Only a key that passes has a mismatch, and such a key has a fingerprint.
  const guarded = `${s.env} (${String(s.fingerprint)})`
  const fix = 'Build the client with app.keyguard.key(): it reads another variable, ' +
    'or was built with an old key before a rotation'
  if (sent === undefined) {
    return {
      message: `${s.label} rejected a request at runtime, yet ${guarded} passes its probe: ` +
        'the request most likely carried another credential.',
      fix: `${fix}; pass app.keyguard.fetch to the client so keyguard can tell which credential it sent.`
    }
  }
  return {
    message: `${s.label} rejected a request at runtime that carried ${sent}, not ${guarded}; ` +
      'the guarded key was not at fault.',
    fix: `${fix}.`
  }
}
