import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A throwaway CA and leaf certificates, made with openssl at test time (EC keys: fast). */
export function makePki (): { dir: string, read: (name: string) => Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'keyguard-tls-'))
  const ossl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }) }
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  ossl('req', '-x509', ...ec, '-keyout', 'self.key', '-out', 'self.pem', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1')
  ossl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=keyguard test CA', '-days', '1')
  writeFileSync(join(dir, 'ca.cnf'), [
    '[ca]', 'default_ca = d', '[d]', 'dir = .', 'database = ./index.txt', 'new_certs_dir = .', 'serial = ./serial',
    'default_md = sha256', 'policy = p', 'copy_extensions = copy', 'unique_subject = no', '[p]', 'commonName = supplied', ''
  ].join('\n'))
  writeFileSync(join(dir, 'index.txt'), '')
  writeFileSync(join(dir, 'serial'), '01\n')
  const leaves: Array<[string, string, string, string]> = [
    ['good', 'IP:127.0.0.1', '20200101000000Z', '20991231000000Z'],
    ['expired', 'IP:127.0.0.1', '20200101000000Z', '20200201000000Z'],
    ['future', 'IP:127.0.0.1', '20990101000000Z', '20991231000000Z'],
    ['wrongname', 'DNS:wrong.example', '20200101000000Z', '20991231000000Z']
  ]
  for (const [name, san, start, end] of leaves) {
    ossl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${san.slice(san.indexOf(':') + 1)}`, '-addext', `subjectAltName=${san}`)
    ossl('ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', `${name}.csr`, '-out', `${name}.pem`, '-startdate', start, '-enddate', end, '-notext')
  }
  return { dir, read: (name) => readFileSync(join(dir, name)) }
}
