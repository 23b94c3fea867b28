// The wire protocol and the tables every part agrees on.
export * from './admin-protocol.js';
export * from './callback.js';
export * from './client-protocol.js';
export * from './errors.js';
export * from './job.js';
export * from './languages.js';
export * from './limits.js';
export * from './log.js';
export * from './piston.js';
export * from './rest.js';
export * from './runner-protocol.js';
export * from './validate.js';
export * from './ws-auth.js';
