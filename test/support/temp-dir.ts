export * from '../../src/local-services/temp-dir.js';
