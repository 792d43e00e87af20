import { describe, expect, it } from 'vitest';
import { isSignOut, OFFLINE_URL, strategyFor } from '../../app/sw/routing';

// PW1: the service worker serves from, and writes to, Cache Storage only files that are the same for every patient.
const origin = 'https://carepost.example';
const at = (path: string) => new URL(path, origin);
const get = (mode = 'no-cors') => ({ method: 'GET', mode });
const navigate = { method: 'GET', mode: 'navigate' };

describe('PW1: strategyFor', () => {
  it('precaches fingerprinted build files and the offline page', () => {
    expect(strategyFor(at('/build/entry.client-6CV2LGJB.js'), get('cors'), origin)).toBe('precache');
    expect(strategyFor(at('/build/_assets/app-QRIG6GTQ.css'), get(), origin)).toBe('precache');
    expect(strategyFor(at('/build/routes/o.$slug.messages-ABCDEFGH.js'), get('cors'), origin)).toBe('precache');
    expect(strategyFor(at(OFFLINE_URL), get(), origin)).toBe('precache');
    expect(strategyFor(at('/offline.css'), get(), origin)).toBe('precache');
  });

  it('sends every navigation to the network (the offline page only when there is none)', () => {
    for (const path of ['/', '/o/riverside/messages', '/o/riverside/messages/0b0e6f4c', '/o/riverside/choices', '/admin/riverside/audit', '/api/v1/docs', '/dev/mail']) {
      expect(strategyFor(at(path), navigate, origin), path).toBe('navigation');
    }
  });

  it('never intercepts loader or action data, whatever the path', () => {
    for (const path of ['/o/riverside/messages.data', '/o/riverside/messages/0b0e6f4c.data?_routes=routes%2Fo.%24slug', '/_root.data', '/o/riverside/messages?_data=routes%2Fo.%24slug.messages', '/build/x.data']) {
      expect(strategyFor(at(path), get('cors'), origin), path).toBe('network-only');
      expect(strategyFor(at(path), navigate, origin), path).toBe('network-only');
    }
  });

  it('leaves the API, portal and admin pages, attachments, logos and the route manifest to the network', () => {
    for (const path of [
      '/api/v1/messages',
      '/o/riverside/messages/0b0e6f4c/attachments/9f1',
      '/o/riverside/logo.svg',
      '/admin/riverside/audit/export.csv',
      '/__manifest?p=%2Fo%2Friverside&version=abc',
      '/manifest.webmanifest',
      '/icons/icon-192.png',
      '/sw.js',
      '/healthz',
    ]) {
      expect(strategyFor(at(path), get('cors'), origin), path).toBe('network-only');
    }
  });

  it('never touches another origin, a query on a build file, or anything but GET', () => {
    expect(strategyFor(new URL('https://elsewhere.example/build/entry.client-6CV2LGJB.js'), get('cors'), origin)).toBe('network-only');
    expect(strategyFor(at('/build/entry.client-6CV2LGJB.js?patient=1'), get('cors'), origin)).toBe('network-only');
    for (const method of ['POST', 'PUT', 'DELETE', 'HEAD']) {
      expect(strategyFor(at('/build/entry.client-6CV2LGJB.js'), { method, mode: 'cors' }, origin)).toBe('network-only');
      expect(strategyFor(at('/o/riverside/messages'), { method, mode: 'navigate' }, origin)).toBe('network-only');
    }
  });
});

describe('PW2: isSignOut', () => {
  it('recognises the patient and admin sign-out POSTs, with or without JavaScript', () => {
    expect(isSignOut(at('/o/riverside/sign-out'), { method: 'POST', mode: 'navigate' }, origin)).toBe(true);
    expect(isSignOut(at('/o/riverside/sign-out.data'), { method: 'POST', mode: 'cors' }, origin)).toBe(true);
    expect(isSignOut(at('/admin/riverside/sign-out.data'), { method: 'POST', mode: 'cors' }, origin)).toBe(true);
  });

  it('ignores a GET, another origin and other paths', () => {
    expect(isSignOut(at('/o/riverside/sign-out'), { method: 'GET', mode: 'navigate' }, origin)).toBe(false);
    expect(isSignOut(new URL('https://elsewhere.example/o/riverside/sign-out'), { method: 'POST', mode: 'cors' }, origin)).toBe(false);
    expect(isSignOut(at('/o/riverside/signed-out'), { method: 'POST', mode: 'cors' }, origin)).toBe(false);
    expect(isSignOut(at('/o/riverside/messages/sign-out'), { method: 'POST', mode: 'cors' }, origin)).toBe(false);
  });
});
