export * from '../../src/local-services/sshd.js';
