import { randomBytes } from 'node:crypto';
import type { DbHandle } from '../../db/client';
import { consentTopics, type AuthorizationElements } from '../../db/schema/index';

export const validElements: AuthorizationElements = {
  information: 'Your name, email address, and the services you used with us in the last two years.',
  disclosedBy: 'Test Clinic uses this information.',
  recipients: 'Test Clinic and its mailing partner, Mailwell Inc., receive it.',
  purpose: 'To send you news and offers about wellness programs. This is marketing.',
  expiry: 'This permission ends 24 months after you sign, or sooner if you take it back.',
  revocation: 'You can take this permission back at any time. Use the link in any message, or your choices page.',
  noConditioning: 'Your treatment, payment and eligibility for benefits do not depend on whether you sign.',
  redisclosure: 'Once shared, the recipient may share the information again. It may then no longer be protected by federal privacy law.',
};

export async function createTopic(handle: DbHandle, orgId: string, options: { remunerated?: boolean; thirdPartyName?: string } = {}) {
  const [topic] = await handle.db
    .insert(consentTopics)
    .values({
      orgId,
      key: `topic-${randomBytes(3).toString('hex')}`,
      name: 'Wellness news',
      description: 'News about wellness programs.',
      remunerated: options.remunerated ?? false,
      thirdPartyName: options.thirdPartyName ?? null,
    })
    .returning();
  return topic!;
}

/** The same elements in Spanish, as an organisation's translator would write them (issue 9). */
export const spanishElements: AuthorizationElements = {
  information: 'Su nombre, su correo electrónico y los servicios que usó con nosotros en los últimos dos años.',
  disclosedBy: 'Test Clinic usa esta información.',
  recipients: 'La reciben Test Clinic y su socio de envíos, Mailwell Inc.',
  purpose: 'Para enviarle noticias y ofertas sobre programas de bienestar. Esto es mercadeo.',
  expiry: 'Esta autorización termina 24 meses después de que la firme, o antes si la retira.',
  revocation: 'Puede retirar esta autorización en cualquier momento. Use el enlace de cualquier mensaje o su página de autorizaciones.',
  noConditioning: 'Su tratamiento, sus pagos y su derecho a beneficios no dependen de que firme.',
  redisclosure: 'Una vez compartida, quien la recibe puede volver a compartirla. Es posible que entonces ya no esté protegida por la ley federal de privacidad.',
};

/** A topic with one published text, ready to be signed. */
export async function publishedTopic(handle: DbHandle, orgId: string, options: { validForMonths?: number; remunerated?: boolean; thirdPartyName?: string } = {}) {
  const { createTextDraft, publishText } = await import('../../server/consent/texts');
  const topic = await createTopic(handle, orgId, options);
  const elements = options.remunerated ? { ...validElements, remuneration: `${options.thirdPartyName} pays Test Clinic to send these messages.` } : validElements;
  const draft = await createTextDraft(handle.db, { orgId, topicId: topic.id, elements, validForMonths: options.validForMonths ?? 12 });
  const published = await publishText(handle.db, { orgId, textId: draft.id, actor: { type: 'system' }, now: new Date() });
  if (published.status !== 'published') throw new Error('not published');
  return { topic, text: published.text };
}
