import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import keyguard, { schemas } from '../../index.js'
import type { Cause, CheckResult, HealthOptions, Report, Status } from '../../index.js'
import type { HealthBody } from '../../lib/fastify/health.js'
import type { ProblemDocument } from '../../lib/fastify/problem.js'

/** The member names a schema lists. */
type Named<S> = S extends { properties: infer P } ? keyof P : never
/** The member names a schema requires. */
type Required<S> = S extends { required: ReadonlyArray<infer R> } ? R : never
/** The members a type requires. */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T]
type Enum<S> = S extends { enum: ReadonlyArray<infer E> } ? E : never

type Entry = NonNullable<HealthBody['checks']>[string][number]
type EntrySchema = typeof schemas.readiness.properties.checks.additionalProperties.items

test('schemas.checkResult names exactly the members of CheckResult and requires exactly its required ones', () => {
  expect<Named<typeof schemas.checkResult>>().type.toBe<keyof CheckResult>()
  expect<Required<typeof schemas.checkResult>>().type.toBe<RequiredKeys<CheckResult>>()
  expect<Enum<typeof schemas.checkResult.properties.status>>().type.toBe<Status>()
  expect<Enum<typeof schemas.checkResult.properties.cause>>().type.toBe<Cause>()
  expect<Enum<typeof schemas.checkResult.properties.source>>().type.toBe<CheckResult['source']>()
})

test('schemas.report, schemas.readiness and schemas.problem match Report, the readiness body and ProblemDocument', () => {
  expect<Named<typeof schemas.report>>().type.toBe<keyof Report>()
  expect<Required<typeof schemas.report>>().type.toBe<RequiredKeys<Report>>()
  expect<Named<typeof schemas.readiness>>().type.toBe<keyof HealthBody>()
  expect<Required<typeof schemas.readiness>>().type.toBe<RequiredKeys<HealthBody>>()
  expect<Named<EntrySchema>>().type.toBe<keyof Entry>()
  expect<Required<EntrySchema>>().type.toBe<RequiredKeys<Entry>>()
  expect<Named<typeof schemas.problem>>().type.toBe<keyof ProblemDocument>()
  expect<Required<typeof schemas.problem>>().type.toBe<RequiredKeys<ProblemDocument>>()
  expect<Named<typeof schemas.liveness>>().type.toBe<'status'>()
})

test('the schemas are read-only data with an $id', () => {
  expect(schemas.report.$id).type.toBe<'urn:fastify-keyguard:schema:report'>()
  expect<typeof schemas.checkResult.required>().type.toBeAssignableTo<readonly string[]>()
})

test('health.hide is a boolean option', () => {
  const app = Fastify()
  expect(app.register).type.toBeCallableWith(keyguard, { keys: ['fireworks'], health: { hide: true } })
  expect<HealthOptions['hide']>().type.toBe<boolean | undefined>()
  expect<HealthOptions>().type.not.toBeAssignableFrom({ hide: 'yes' })
})
