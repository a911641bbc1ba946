export * from '../../src/local-services/redis-server.js';
