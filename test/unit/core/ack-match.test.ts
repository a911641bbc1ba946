import { describe, expect, it } from 'vitest';
import { matchAnswers } from '../../../src/core/ack-match.js';
import { parseDoneFileTemplate, type DoneFileTemplate } from '../../../src/core/sidecar-files.js';

function template(source: string): DoneFileTemplate {
  const parsed = parseDoneFileTemplate(source);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.template;
}
const names = { accept: template('{filename}.ack'), reject: template('{filename}.nack') };
const file = (name: string, size = 0) => ({ name, size });

describe('matching answers to delivered files', () => {
  it('matches accept and reject names exactly and keeps everything else unmatched', () => {
    const waiting = [
      { deliveryId: 'dlv-a', name: 'a.csv' },
      { deliveryId: 'dlv-b', name: 'b.csv' },
    ];
    const result = matchAnswers(
      [file('a.csv.ack'), file('b.csv.nack', 12), file('a.csv'), file('c.csv.ack'), file('A.CSV.ACK')],
      waiting,
      names,
    );
    expect(result.matches).toEqual([
      { deliveryId: 'dlv-a', file: file('a.csv.ack'), result: 'acknowledged' },
      { deliveryId: 'dlv-b', file: file('b.csv.nack', 12), result: 'rejected' },
    ]);
    expect(result.unmatched.map((f) => f.name)).toEqual(['a.csv', 'c.csv.ack', 'A.CSV.ACK']);
  });

  it('lets a reject win over an accept of the same file, and leaves the accept unmatched', () => {
    const waiting = [{ deliveryId: 'dlv-a', name: 'a.csv' }];
    for (const order of [
      [file('a.csv.ack'), file('a.csv.nack')],
      [file('a.csv.nack'), file('a.csv.ack')],
    ]) {
      const result = matchAnswers(order, waiting, names);
      expect(result.matches).toEqual([{ deliveryId: 'dlv-a', file: file('a.csv.nack'), result: 'rejected' }]);
      expect(result.unmatched).toEqual([file('a.csv.ack')]);
    }
  });

  it('answers every waiting delivery of one file name (a redelivery and the delivery it repeats)', () => {
    const waiting = [
      { deliveryId: 'dlv-a', name: 'a.csv' },
      { deliveryId: 'dlv-a-r1', name: 'a.csv' },
    ];
    expect(matchAnswers([file('a.csv.ack')], waiting, names).matches.map((m) => m.deliveryId)).toEqual([
      'dlv-a',
      'dlv-a-r1',
    ]);
  });

  it('matches nothing when nothing waits', () => {
    expect(matchAnswers([file('a.csv.ack')], [], names)).toEqual({
      matches: [],
      unmatched: [file('a.csv.ack')],
    });
  });
});
