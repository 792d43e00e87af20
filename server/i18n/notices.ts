// The words of everything we send a patient outside the portal, per language (issue 9, item 3): code emails and
// texts, contact-change notices, the engine's PHI-free notices (EM4) and renewal requests. Server-only (it never
// reaches the browser bundle). Each language implements the same type, so a missing one fails `tsc`.
import { DEFAULT_LOCALE, toLocale, type Locale } from './locale';

type Mail = { subject: string; text: string };
type CampaignKind = 'renewal' | 'expiry_reminder';

export type NoticeTexts = {
  /** One-time sign-in code. */
  codeEmail(o: { org: string; code: string }): Mail;
  codeSms(o: { org: string; code: string }): string;
  /** Code to confirm a new contact point. */
  contactCodeEmail(o: { org: string; code: string }): Mail;
  contactCodeSms(o: { org: string; code: string }): string;
  /** Sent to the patient's other contact points when one is added or removed. */
  contactChange(o: { org: string; change: 'added' | 'removed'; kind: 'email' | 'phone'; masked: string }): Mail & { sms: string };
  /** EM4: the portal fallback; the organisation's name and the link only. */
  portalNotice(o: { org: string; url: string; days: number }): Mail;
  smsNotice(o: { org: string; url: string }): string;
  /** The outer subject of a PGP/MIME message (the real subject is inside the encryption). */
  pgpSubject(o: { org: string }): string;
  /** EM4: a renewal request's email and SMS: never the topic. */
  campaignNotice(o: { kind: CampaignKind; org: string; url: string; days: number }): Mail & { sms: string };
  /** The renewal request itself, read in the portal after sign-in. */
  campaignContent(o: { kind: CampaignKind; org: string; topic: string }): Mail;
  /** EM1: the visible unsubscribe line of a marketing email. */
  unsubscribeText(o: { url: string }): string;
  unsubscribeHtml(o: { escapedUrl: string }): string;
};

const plural = (n: number, one: string, other: string) => (n === 1 ? one : other);

const en: NoticeTexts = {
  codeEmail: ({ org, code }) => ({
    subject: `Your ${org} sign-in code`,
    text: [
      `Your code is ${code}`,
      '',
      'It works once, for 10 minutes, in the browser where you asked for it.',
      'If you did not ask for a code, you can ignore this email: nobody can sign in without it.',
      '',
      `${org}, through Carepost`,
    ].join('\n'),
  }),
  codeSms: ({ org, code }) => `${code} is your ${org} sign-in code. It expires in 10 minutes.`,
  contactCodeEmail: ({ org, code }) => ({
    subject: `Confirm your new email address for ${org}`,
    text: [
      `Your code is ${code}`,
      '',
      `Enter it on the ${org} page where you asked to add this email address. It works once, for 10 minutes, in that browser only.`,
      'If you did not ask for this, you can ignore this email: nothing is added without the code.',
      '',
      `${org}, through Carepost`,
    ].join('\n'),
  }),
  contactCodeSms: ({ org, code }) => `${code} is your code to add this number to your ${org} account. It expires in 10 minutes.`,
  contactChange: ({ org, change, kind, masked }) => {
    const what = kind === 'email' ? 'email address' : 'mobile number';
    const sentence =
      change === 'added' ? `A new ${what} was added to your ${org} account: ${masked}.` : `${kind === 'email' ? 'An' : 'A'} ${what} was removed from your ${org} account: ${masked}.`;
    return {
      subject: `Your ${org} contact details changed`,
      text: [sentence, '', 'If you made this change, there is nothing to do.', `If you did not, contact ${org} straight away.`, '', `${org}, through Carepost`].join('\n'),
      sms: `${org}: ${sentence.charAt(0).toLowerCase()}${sentence.slice(1)} If this was not you, contact ${org}.`,
    };
  },
  portalNotice: ({ org, url, days }) => ({
    subject: `New message from ${org}`,
    text: [`You have a new message from ${org}.`, '', `Read it securely in the portal: ${url}`, '', `The link works for ${days} ${plural(days, 'day', 'days')}.`].join('\n'),
  }),
  smsNotice: ({ org, url }) => `${org}: you have a new message. Read it securely: ${url}`,
  pgpSubject: ({ org }) => `Secure message from ${org}`,
  campaignNotice: ({ kind, org, url, days }) => {
    const reminder = kind === 'expiry_reminder';
    return {
      subject: reminder ? `${org}: a permission you gave ends soon` : `${org}: please renew your permission`,
      text: [
        reminder
          ? `A permission you gave ${org} to send you some messages ends soon.`
          : `You gave ${org} permission to send you some messages. We would like to ask whether you want to keep it.`,
        `To renew it, sign in here: ${url}`,
        `The link works for ${days} days. If you do nothing, the messages stop when your permission ends. You can take your permission back at any time.`,
      ].join('\n\n'),
      sms: `${org}: ${reminder ? 'a permission you gave us ends soon' : 'please renew your permission'}. Renew: ${url}`,
    };
  },
  campaignContent: ({ kind, org, topic }) =>
    kind === 'expiry_reminder'
      ? {
          subject: `Your permission for ${topic} ends soon`,
          text: [
            `The permission you gave ${org} for "${topic}" ends soon.`,
            'If you want to keep receiving these messages, open Your choices and renew it. If you do nothing, we stop when it ends.',
          ].join('\n\n'),
        }
      : {
          subject: `Please renew your permission for ${topic}`,
          text: [
            `${org} asks whether you want to keep receiving "${topic}".`,
            'To keep receiving these messages, open Your choices and renew your permission. If you do nothing, nothing changes until it ends; you can take it back at any time.',
          ].join('\n\n'),
        },
  unsubscribeText: ({ url }) => `To stop these emails, unsubscribe here: ${url}`,
  unsubscribeHtml: ({ escapedUrl }) => `To stop these emails, <a href="${escapedUrl}">unsubscribe here</a>.`,
};

// Spanish for patients in the United States: "usted", and the words US clinics use in Spanish.
const es: NoticeTexts = {
  codeEmail: ({ org, code }) => ({
    subject: `Su código para iniciar sesión en ${org}`,
    text: [
      `Su código es ${code}`,
      '',
      'Funciona una sola vez, durante 10 minutos, en el navegador donde lo pidió.',
      'Si usted no pidió un código, puede ignorar este correo: nadie puede iniciar sesión sin él.',
      '',
      `${org}, a través de Carepost`,
    ].join('\n'),
  }),
  codeSms: ({ org, code }) => `${code} es su código para iniciar sesión en ${org}. Vence en 10 minutos.`,
  contactCodeEmail: ({ org, code }) => ({
    subject: `Confirme su nuevo correo electrónico para ${org}`,
    text: [
      `Su código es ${code}`,
      '',
      `Escríbalo en la página de ${org} donde pidió agregar este correo electrónico. Funciona una sola vez, durante 10 minutos, y solo en ese navegador.`,
      'Si usted no lo pidió, puede ignorar este correo: no se agrega nada sin el código.',
      '',
      `${org}, a través de Carepost`,
    ].join('\n'),
  }),
  contactCodeSms: ({ org, code }) => `${code} es su código para agregar este número a su cuenta de ${org}. Vence en 10 minutos.`,
  contactChange: ({ org, change, kind, masked }) => {
    const what = kind === 'email' ? 'correo electrónico' : 'número de celular';
    const sentence = change === 'added' ? `Se agregó un nuevo ${what} a su cuenta de ${org}: ${masked}.` : `Se eliminó un ${what} de su cuenta de ${org}: ${masked}.`;
    return {
      subject: `Cambiaron sus datos de contacto en ${org}`,
      text: [sentence, '', 'Si usted hizo este cambio, no tiene que hacer nada.', `Si no lo hizo, comuníquese con ${org} de inmediato.`, '', `${org}, a través de Carepost`].join('\n'),
      sms: `${org}: ${sentence} Si no fue usted, comuníquese con ${org}.`,
    };
  },
  portalNotice: ({ org, url, days }) => ({
    subject: `Nuevo mensaje de ${org}`,
    text: [`Tiene un nuevo mensaje de ${org}.`, '', `Léalo de forma segura en el portal: ${url}`, '', `El enlace funciona durante ${days} ${plural(days, 'día', 'días')}.`].join('\n'),
  }),
  smsNotice: ({ org, url }) => `${org}: tiene un nuevo mensaje. Léalo de forma segura: ${url}`,
  pgpSubject: ({ org }) => `Mensaje seguro de ${org}`,
  campaignNotice: ({ kind, org, url, days }) => {
    const reminder = kind === 'expiry_reminder';
    return {
      subject: reminder ? `${org}: una autorización que usted dio vence pronto` : `${org}: renueve su autorización`,
      text: [
        reminder
          ? `Una autorización que usted le dio a ${org} para enviarle algunos mensajes vence pronto.`
          : `Usted autorizó a ${org} a enviarle algunos mensajes. Queremos preguntarle si desea mantener esa autorización.`,
        `Para renovarla, inicie sesión aquí: ${url}`,
        `El enlace funciona durante ${days} días. Si no hace nada, los mensajes se detienen cuando venza su autorización. Puede retirar su autorización en cualquier momento.`,
      ].join('\n\n'),
      sms: `${org}: ${reminder ? 'una autorización que nos dio vence pronto' : 'renueve su autorización'}. Renovar: ${url}`,
    };
  },
  campaignContent: ({ kind, org, topic }) =>
    kind === 'expiry_reminder'
      ? {
          subject: `Su autorización para ${topic} vence pronto`,
          text: [
            `La autorización que le dio a ${org} para "${topic}" vence pronto.`,
            'Si desea seguir recibiendo estos mensajes, abra Mis autorizaciones y renuévela. Si no hace nada, dejaremos de enviarlos cuando venza.',
          ].join('\n\n'),
        }
      : {
          subject: `Renueve su autorización para ${topic}`,
          text: [
            `${org} le pregunta si desea seguir recibiendo "${topic}".`,
            'Para seguir recibiendo estos mensajes, abra Mis autorizaciones y renueve su autorización. Si no hace nada, nada cambia hasta que venza; puede retirarla en cualquier momento.',
          ].join('\n\n'),
        },
  unsubscribeText: ({ url }) => `Para dejar de recibir estos correos, cancele la suscripción aquí: ${url}`,
  unsubscribeHtml: ({ escapedUrl }) => `Para dejar de recibir estos correos, <a href="${escapedUrl}">cancele la suscripción aquí</a>.`,
};

const NOTICES: Record<Locale, NoticeTexts> = { en, es };

/** The notice words for a stored or chosen language; anything we do not speak gets English. */
export function noticeTexts(locale: string | null | undefined): NoticeTexts {
  return NOTICES[toLocale(locale) ?? DEFAULT_LOCALE];
}
