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
 * Matches the regular files of one listing to the deliveries waiting for an answer. When both an
 * accept and a reject exist for one delivery, the reject wins (the partner said no at some point;
 * an operator looks at both files).
 */
export function matchAnswers(
  files: readonly AnswerFile[],
  waiting: readonly { deliveryId: string; name: string }[],
  names: { accept: DoneFileTemplate; reject: DoneFileTemplate },
): AckMatching {
  const expected = new Map<string, { deliveryId: string; result: AnswerMatch['result'] }>();
  for (const w of waiting) {
    expected.set(renderDoneFile(names.accept, w.name), { deliveryId: w.deliveryId, result: 'acknowledged' });
  }
  // Rejects second: a name both templates give (impossible when they differ) would read as a reject.
  for (const w of waiting) {
    expected.set(renderDoneFile(names.reject, w.name), { deliveryId: w.deliveryId, result: 'rejected' });
  }
  const byDelivery = new Map<string, AnswerMatch>();
  const unmatched: AnswerFile[] = [];
  for (const file of files) {
    const hit = expected.get(file.name);
    if (hit === undefined) {
      unmatched.push(file);
      continue;
    }
    const earlier = byDelivery.get(hit.deliveryId);
    if (earlier === undefined || (earlier.result === 'acknowledged' && hit.result === 'rejected')) {
      if (earlier) unmatched.push(earlier.file);
      byDelivery.set(hit.deliveryId, { deliveryId: hit.deliveryId, file, result: hit.result });
    } else unmatched.push(file);
  }
  return { matches: [...byDelivery.values()], unmatched };
}
