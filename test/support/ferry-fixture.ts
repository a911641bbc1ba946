// writeFerryConfig of src/local-services, pointing Ferry at the S3 recording proxy when the tests run one.
import {
  writeFerryConfig as writeLocalFerryConfig,
  type FerryFixture,
  type FerryFixtureOptions,
} from '../../src/local-services/write-ferry-config.js';
import type { Services } from './services.js';

export * from '../../src/local-services/write-ferry-config.js';

/** Creates `<run>/config/{ferry.yaml,partners/*.yaml}`; Ferry's S3 goes through `services.s3Recorder` if any. */
export function writeFerryConfig(
  services: Services,
  options: FerryFixtureOptions,
  dir?: string,
): Promise<FerryFixture> {
  return writeLocalFerryConfig(
    services,
    { ...options, s3Endpoint: options.s3Endpoint ?? services.s3Recorder?.endpoint },
    dir,
  );
}
