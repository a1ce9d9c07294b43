// lib/core/http.ts: the one copy of each HTTP reading rule.
import { test } from 'tap'
import { headerRecord, parseJson, requestIdHeader } from '../lib/core/http.js'

test('headerRecord flattens node:http, undici and Fetch headers the same way', async (t) => {
  t.same(headerRecord({ 'X-Request-Id': 'a', 'Set-Cookie': ['1', '2'], 'Content-Length': 5, skipped: undefined, odd: {} }),
    { 'x-request-id': 'a', 'set-cookie': '1, 2', 'content-length': '5' })
  t.same(headerRecord(new Headers({ 'Retry-After': '3' })), { 'retry-after': '3' })
  t.same(headerRecord(null), {})
  t.same(headerRecord('x-request-id: a'), {})
})

test('parseJson: JSON, or undefined for text and for a body cut short', async (t) => {
  t.same(parseJson('{"a":1}'), { a: 1 })
  t.equal(parseJson('<html>'), undefined)
  t.equal(parseJson('{"a":1}', true), undefined)
})

test('requestIdHeader: x-request-id first, then request-id', async (t) => {
  t.equal(requestIdHeader({ 'x-request-id': 'a', 'request-id': 'b' }), 'a')
  t.equal(requestIdHeader({ 'request-id': 'b' }), 'b')
  t.equal(requestIdHeader({}), undefined)
})
