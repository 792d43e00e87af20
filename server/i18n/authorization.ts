// The fixed words around an authorisation text, per language: the title, each element's heading (the same order as
// server/consent/texts.ts ELEMENTS) and the duration line. Used to render translations of a published version.
import type { AuthorizationElements } from '../../db/schema/consent';
import type { Locale } from './locale';

type Words = {
  title: (topic: string) => string;
  headings: Record<keyof AuthorizationElements, string>;
  durationHeading: string;
  duration: (months: number) => string;
};

export const AUTHORIZATION_WORDS: Record<Locale, Words> = {
  en: {
    title: (topic) => `Permission for marketing: ${topic}`,
    headings: {
      information: 'What information',
      disclosedBy: 'Who uses or discloses it',
      recipients: 'Who receives it',
      purpose: 'Why',
      expiry: 'When this permission ends',
      revocation: 'Your right to take it back',
      noConditioning: 'Your care does not depend on this',
      redisclosure: 'Further sharing',
      remuneration: 'Payment',
    },
    durationHeading: 'How long this lasts',
    duration: (months) => `This permission lasts ${months} months from the day you sign, unless you take it back sooner.`,
  },
  es: {
    title: (topic) => `Autorización para mercadeo: ${topic}`,
    headings: {
      information: 'Qué información',
      disclosedBy: 'Quién la usa o la divulga',
      recipients: 'Quién la recibe',
      purpose: 'Para qué',
      expiry: 'Cuándo termina esta autorización',
      revocation: 'Su derecho a retirarla',
      noConditioning: 'Su atención médica no depende de esto',
      redisclosure: 'Divulgación posterior',
      remuneration: 'Pago',
    },
    durationHeading: 'Cuánto dura',
    duration: (months) => `Esta autorización dura ${months} meses a partir del día en que la firme, a menos que la retire antes.`,
  },
};
