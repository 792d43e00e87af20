import { createContext, useContext } from 'react';

// The per-request CSP nonce (CX2). Set on the server from the load context; in the browser it is '' because
// browsers hide nonce attributes, and hydration never re-runs inline scripts.
const NonceContext = createContext('');
export const NonceProvider = NonceContext.Provider;
export const useNonce = () => useContext(NonceContext);
