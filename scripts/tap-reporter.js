// `npm test`'s tap reporter: tap's `terse` without its live counter. A green run prints tap's own summary
// comments (`# { total: N, pass: N }`, the time, coverage); a failed, bailed-out, timed-out or todo test
// prints in full, with its diff and source, and so does the output of a test file. The live counter is left
// out: outside a terminal and outside CI (CI=1), Ink reprints it on every change, thousands of lines in a log.
// Plain JS: the tap runner imports it without a TypeScript loader.
import { Box, Static, Text } from 'ink'
import React from 'react'
import { BailedOut, Log, ResultDetailList, TimedOut } from '@tapjs/reporter/components'
import { useComments } from '@tapjs/reporter/hooks'

const h = React.createElement
const shown = ({ counts, parser }) => !parser.ok || counts.fail > 0 || counts.todo > 0

// A component of its own: a state change here must not re-render Log, whose hooks change once the run ends.
// Static: each comment is written once; redrawn, it would repeat in a log, where erasing lines does nothing.
function Comments ({ test }) {
  const comments = useComments(test)
  return h(Static, { items: comments }, (comment, key) => h(Text, { key }, comment))
}

export default function Report ({ test, config }) {
  return h(Box, { flexDirection: 'column' },
    h(Log, { test, config }),
    h(ResultDetailList, { test, filter: shown }),
    h(BailedOut, { test }),
    h(TimedOut, { test }),
    h(Comments, { test }))
}
