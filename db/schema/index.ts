export * from './tenants';
export * from './sessions';
export * from './audit';
export * from './identity';
export * from './passkeys';
export * from './consent';
export * from './preferences';
export * from './engine';
