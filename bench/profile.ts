// Summarises V8 .cpuprofile files (from `npm run bench -- --profile`, which runs every server child
// under --cpu-prof into bench/results/prof/<child>/):
//   node --import tsx bench/profile.ts <file-or-dir>… [--top=25] [--match=regexp]
// prints self time per function and per file group, and with --match the inclusive time of the
// functions whose name matches (e.g. --match='^(onSend|onError|sanitise)$'). --window=registered,ready keeps
// only the samples between two of the child's boot marks (bench/server.ts), read from the `<pid>.marks.json`
// that `--profile` writes beside each profile: a boot's probes without the module loading around them.
import { readdir, readFile, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'

interface Node {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}

interface Profile { nodes: Node[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

const args = process.argv.slice(2)
const top = Number(args.find((arg) => arg.startsWith('--top='))?.slice(6) ?? 25)
const match = args.find((arg) => arg.startsWith('--match='))?.slice(8)
const window = args.find((arg) => arg.startsWith('--window='))?.slice(9).split(',')
const paths = args.filter((arg) => !arg.startsWith('--'))

/** The [from, to] of `--window` in the profile's clock (µs), from the marks written beside it. */
async function span (file: string): Promise<[number, number] | undefined> {
  if (window === undefined) return undefined
  const pid = /\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(file)?.[1]
  const marks = JSON.parse(await readFile(join(dirname(file), `${String(pid)}.marks.json`), 'utf8')) as Record<string, number>
  const at = (name: string | undefined): number => {
    const ms = marks[name ?? '']
    if (ms === undefined) throw new Error(`profile: no mark ${String(name)} beside ${file}`)
    return ((marks.monotonicOrigin as number) + ms) * 1000
  }
  return [at(window[0]), at(window[1])]
}

async function files (path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path]
  const names = await readdir(path)
  return names.filter((name) => name.endsWith('.cpuprofile')).map((name) => join(path, name))
}

function group (url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)'
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm !== null) return nm[1] as string
  if (url.startsWith('node:')) return 'node:' + (url.startsWith('node:internal/modules') ? 'internal/modules (loader)' : url.slice(5).split('/')[0])
  const lib = /\/(lib\/[^/]+(?:\/[^/]+)?|index)\.js$/.exec(url)
  if (lib !== null) return `keyguard ${lib[1] as string}`
  if (url.includes('/bench/')) return 'bench server'
  return url
}

const self = new Map<string, number>()
const groups = new Map<string, number>()
const inclusive = new Map<string, number>()
let total = 0
const pattern = match === undefined ? undefined : new RegExp(match)

for (const path of paths) {
  for (const file of await files(path)) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as Profile
    const byId = new Map(profile.nodes.map((node) => [node.id, node]))
    const parent = new Map<number, number>()
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
    const time = new Map<number, number>()
    const cut = await span(file)
    let now = profile.startTime
    profile.samples.forEach((id, i) => {
      now += profile.timeDeltas[i] ?? 0
      if (cut !== undefined && (now < cut[0] || now > cut[1])) return
      time.set(id, (time.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
    })
    for (const [id, us] of time) {
      const node = byId.get(id) as Node
      const { functionName, url, lineNumber } = node.callFrame
      const name = `${functionName === '' ? '(anonymous)' : functionName} ${url.replace(/^.*\/(node_modules|lib|bench)\//, '$1/')}:${lineNumber + 1}`
      self.set(name, (self.get(name) ?? 0) + us)
      const g = group(url, functionName)
      groups.set(g, (groups.get(g) ?? 0) + us)
      total += us
      if (pattern !== undefined) {
        // Each matching function on this sample's stack counts once.
        const seen = new Set<string>()
        for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
          const frame = (byId.get(at) as Node).callFrame
          if (pattern.test(frame.functionName)) {
            const key = `${frame.functionName} ${frame.url.replace(/^.*\/(node_modules|lib|bench)\//, '$1/')}:${frame.lineNumber + 1}`
            if (!seen.has(key)) inclusive.set(key, (inclusive.get(key) ?? 0) + us)
            seen.add(key)
          }
        }
      }
    }
  }
}

const pct = (us: number): string => `${(us / 1000).toFixed(1).padStart(8)} ms ${(100 * us / total).toFixed(1).padStart(5)} %`
const print = (title: string, map: Map<string, number>): void => {
  console.log(`\n${title}`)
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${name}`)
}
console.log(`total sampled: ${(total / 1000).toFixed(1)} ms`)
print('self time by file group', groups)
print('self time by function', self)
if (pattern !== undefined) print(`inclusive time of functions matching /${match}/`, inclusive)
