// The local services (src/local-services/start-services.ts) plus, for tests only, the S3 recording proxy.
import {
  startServices as startLocalServices,
  type Services as LocalServices,
  type StartServicesOptions,
} from '../../src/local-services/start-services.js';
import { startS3RecordingProxy, type S3RecordingProxy } from './s3-recording-proxy.js';

export { s3ClientFor, type StartServicesOptions } from '../../src/local-services/start-services.js';

export interface Services extends LocalServices {
  /**
   * With FERRY_S3_RECORD_FILE set: a recording proxy in front of s3rver that appends every request it
   * forwards to that file (JSON lines, see s3-recording-proxy.ts). writeFerryConfig points Ferry's
   * config at it; the tests' own clients (s3ClientFor) still talk to s3rver directly, so only Ferry's
   * requests are recorded (not those of a Ferry given its S3 client through `overrides.s3Client`).
   */
  s3Recorder?: S3RecordingProxy;
}

/** startServices of src/local-services, with the recording proxy when FERRY_S3_RECORD_FILE asks for one. */
export async function startServices(options: StartServicesOptions = {}): Promise<Services> {
  const services = await startLocalServices(options);
  const recordFile = process.env['FERRY_S3_RECORD_FILE'];
  if (recordFile === undefined || recordFile === '') return services;
  let s3Recorder: S3RecordingProxy;
  try {
    s3Recorder = await startS3RecordingProxy(services.s3.endpoint, { recordFile });
  } catch (error) {
    await services.stop();
    throw error;
  }
  return {
    ...services,
    s3Recorder,
    async stop(stopOptions) {
      await s3Recorder.close();
      await services.stop(stopOptions);
    },
  };
}
