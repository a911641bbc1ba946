export * from '../../src/local-services/free-port.js';
