// Which answer in a partner's ack directory belongs to which delivered file: an answer is named from
// the delivered file's name by `ack.accept` or `ack.reject` (`{filename}.ack`), so each waiting
// delivery has exactly two possible answer names and a listing is matched by name, never by guess.
import { renderDoneFile, type DoneFileTemplate } from './sidecar-files.js';

export interface AnswerFile {
  name: string;
  size: number;
}

export interface AnswerMatch {
  deliveryId: string;
  file: AnswerFile;
  result: 'acknowledged' | 'rejected';
}

export interface AckMatching {
  matches: AnswerMatch[];
  /** Files that answer no waiting delivery: kept, shown to operators, never deleted. */
  unmatched: AnswerFile[];
}

/**
 * Matches the regular files of one listing to the deliveries waiting for an answer. An answer names a
 * file, so it answers every waiting delivery of that name (a redelivery and the delivery it repeats).
 * When both an accept and a reject exist for one file, the reject wins (the partner said no at some
 * point) and the accept is left unmatched for an operator to look at.
 */
export function matchAnswers(
  files: readonly AnswerFile[],
  waiting: readonly { deliveryId: string; name: string }[],
  names: { accept: DoneFileTemplate; reject: DoneFileTemplate },
): AckMatching {
  const byName = new Map<string, string[]>();
  for (const w of waiting) byName.set(w.name, [...(byName.get(w.name) ?? []), w.deliveryId]);
  const expected = new Map<string, { file: string; result: AnswerMatch['result'] }>();
  for (const file of byName.keys()) {
    expected.set(renderDoneFile(names.accept, file), { file, result: 'acknowledged' });
  }
  // Rejects second: a name both templates give (impossible when they differ) would read as a reject.
  for (const file of byName.keys()) {
    expected.set(renderDoneFile(names.reject, file), { file, result: 'rejected' });
  }
  const chosen = new Map<string, { answer: AnswerFile; result: AnswerMatch['result'] }>();
  const unmatched: AnswerFile[] = [];
  for (const answer of files) {
    const hit = expected.get(answer.name);
    if (hit === undefined) {
      unmatched.push(answer);
      continue;
    }
    const earlier = chosen.get(hit.file);
    if (earlier === undefined || (earlier.result === 'acknowledged' && hit.result === 'rejected')) {
      if (earlier) unmatched.push(earlier.answer);
      chosen.set(hit.file, { answer, result: hit.result });
    } else unmatched.push(answer);
  }
  const matches: AnswerMatch[] = [];
  for (const [file, { answer, result }] of chosen) {
    for (const deliveryId of byName.get(file) ?? []) matches.push({ deliveryId, file: answer, result });
  }
  return { matches, unmatched };
}
