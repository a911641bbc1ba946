export * from '../../src/local-services/spawn-service.js';
