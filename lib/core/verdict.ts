// A re-export for the transition (issue 13): the vocabulary is in causes.ts, the wording in wording.ts,
// the classification in classify.ts. Import from those; this file goes once no importer is left.
export { CAUSES, FALLBACK, isCause, statusOf } from './causes.js'
export type { Cause, Facts, Level, NoteCode, Status, Subject, UnreachablePolicy, Verdict } from './causes.js'
export { describe, describeMismatch, describeNotes, REASON_CODES } from './wording.js'
export { ABORT_CODES, classify, classifyError, TIMEOUT_CODES, transient } from './classify.js'
