export * from '../../src/local-services/s3rver.js';
