// `ferry plan`'s line for a partner's bandwidth caps: its own `target.maxBytesPerSecond` and the one cap
// on all partners together (`defaults.target.maxBytesPerSecond`), each shared by every worker process.
import { formatByteRate } from './byte-rate.js';

/**
 * One line, e.g. "bandwidth: at most 4 MB/s for this partner's deliveries together; all partners
 * together at most 12.5 MB/s", or undefined when neither cap is set (the partner is uncapped).
 */
export function describeBandwidthSetting(
  partnerBytesPerSecond: number | undefined,
  totalBytesPerSecond: number | undefined,
): string | undefined {
  const parts = [
    ...(partnerBytesPerSecond === undefined
      ? []
      : [`at most ${formatByteRate(partnerBytesPerSecond)} for this partner's deliveries together`]),
    ...(totalBytesPerSecond === undefined
      ? []
      : [`all partners together at most ${formatByteRate(totalBytesPerSecond)}`]),
  ];
  return parts.length === 0 ? undefined : `bandwidth: ${parts.join('; ')}`;
}
