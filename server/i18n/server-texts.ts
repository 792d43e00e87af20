// Field errors that server modules write in English (preferences, signatures, contact points, replies, PGP keys,
// attachments), and the words a route shows for them in another language. Keyed by the English sentence, gettext
// style, so those modules (shared with the English-only admin console) stay as they are. A sentence missing here is
// shown in English; test/unit/i18n.test.ts checks that every sentence those modules can produce is listed.
import type { Locale } from './locale';

type Entry = { en: RegExp | string; es: string | ((m: RegExpExecArray) => string) };

const SPANISH: Entry[] = [
  // server/consent/preferences.ts
  { en: 'Enter a time like 21:00.', es: 'Escriba una hora como 21:00.' },
  { en: 'Enter a date.', es: 'Escriba una fecha.' },
  { en: 'Enter a real date.', es: 'Escriba una fecha que exista.' },
  { en: 'Keep at least one way to reach you about your care.', es: 'Mantenga al menos una forma de comunicarnos con usted sobre su atención médica.' },
  { en: 'Enter a whole number.', es: 'Escriba un número entero.' },
  { en: 'Enter 0 or more.', es: 'Escriba 0 o más.' },
  { en: 'Enter 100 or fewer.', es: 'Escriba 100 o menos.' },
  { en: 'Choose a time zone from the list.', es: 'Elija una zona horaria de la lista.' },
  { en: 'Choose how often.', es: 'Elija con qué frecuencia.' },
  { en: 'Quiet hours must end at a different time than they start.', es: 'El horario sin avisos debe terminar a una hora distinta de la hora en que empieza.' },
  { en: 'Choose a date after today.', es: 'Elija una fecha posterior a hoy.' },
  { en: /^Choose a date within (\d+) days\.$/, es: (m) => `Elija una fecha dentro de los próximos ${m[1]} días.` },
  { en: 'Choose the date to start again.', es: 'Elija la fecha en que se reanudan.' },
  { en: 'This topic is no longer offered. Reload the page.', es: 'Este tema ya no se ofrece. Vuelva a cargar la página.' },
  { en: 'Choose from the ways listed.', es: 'Elija entre las formas que aparecen en la lista.' },
  // server/consent/ledger.ts
  { en: 'Type your full name to sign.', es: 'Escriba su nombre completo para firmar.' },
  { en: 'Choose at least one way we may contact you about this.', es: 'Elija al menos una forma en que podamos comunicarnos con usted sobre este tema.' },
  // server/identity/contact-change.ts
  { en: 'That is too long to be an email address or a mobile number.', es: 'Es demasiado largo para ser un correo electrónico o un número de celular.' },
  { en: 'Choose whether to add an email address or a mobile number.', es: 'Elija si desea agregar un correo electrónico o un número de celular.' },
  { en: 'Enter the email address you want to add.', es: 'Escriba el correo electrónico que desea agregar.' },
  { en: 'Enter the mobile number you want to add.', es: 'Escriba el número de celular que desea agregar.' },
  { en: 'Enter an email address in the right format, for example name@example.com.', es: 'Escriba un correo electrónico con el formato correcto; por ejemplo, nombre@ejemplo.com.' },
  { en: 'Enter a mobile number with its country code, for example +1 555 555 0101.', es: 'Escriba un número de celular con el código de país; por ejemplo, +1 555 555 0101.' },
  // server/messages/inbox.ts
  { en: 'Write your reply before sending it.', es: 'Escriba su respuesta antes de enviarla.' },
  { en: /^A reply can be at most ([\d,]+) characters\.$/, es: (m) => `Una respuesta puede tener como máximo ${m[1]} caracteres.` },
  { en: 'There is no such message.', es: 'Ese mensaje no existe.' },
  { en: 'This message can no longer be replied to.', es: 'Ya no se puede responder a este mensaje.' },
  {
    en: /^You have sent the (\d+) replies this message allows\. Please contact the sender another way\.$/,
    es: (m) => `Ya envió las ${m[1]} respuestas que permite este mensaje. Comuníquese con el remitente de otra forma.`,
  },
  // server/messages/attachments.ts
  { en: /^At most (\d+) attachments\.$/, es: (m) => `Como máximo ${m[1]} archivos adjuntos.` },
  { en: 'Attachments may add up to 10 MB at most.', es: 'Los archivos adjuntos pueden sumar 10 MB como máximo.' },
  { en: 'Every attachment needs a file name.', es: 'Cada archivo adjunto necesita un nombre.' },
  { en: 'An attachment is empty.', es: 'Un archivo adjunto está vacío.' },
  // server/delivery/pgp.ts
  {
    en: /^This does not look like one OpenPGP public key\./,
    es: 'Esto no parece ser una clave pública OpenPGP. Pegue el bloque completo de una sola clave, desde -----BEGIN PGP PUBLIC KEY BLOCK----- hasta -----END PGP PUBLIC KEY BLOCK-----.',
  },
  {
    en: /^This is a private key, which must stay secret/,
    es: 'Esta es una clave privada, que debe mantenerse en secreto y solo con usted. No se guardó. Pegue su clave pública: en su aplicación de correo o de cifrado, busque "exportar clave pública".',
  },
  {
    en: /^This key cannot be used to encrypt messages to you/,
    es: 'Esta clave no sirve para cifrar mensajes para usted: no tiene una parte de cifrado válida hoy (puede ser solo para firmar). Pegue una clave que pueda cifrar.',
  },
  { en: /^This key has expired\./, es: 'Esta clave venció. Extienda su fecha de vencimiento en su aplicación de cifrado, o cree una clave nueva, y vuelva a pegar la clave pública.' },
  { en: /^This key has been revoked/, es: 'Esta clave fue revocada (su propietario la retiró), así que no se debe usar. Pegue una clave pública vigente.' },
  { en: /^This is too long to be one public key \(the limit is (\d+) KiB\)\./, es: (m) => `Es demasiado largo para ser una sola clave pública (el límite es ${m[1]} KiB). Pegue solo su clave pública.` },
];

/** A server module's English sentence in `locale`; unknown sentences, and English, come back unchanged. */
export function translateServerText(locale: Locale, text: string): string;
export function translateServerText(locale: Locale, text: string | undefined): string | undefined;
export function translateServerText(locale: Locale, text: string | undefined): string | undefined {
  if (text === undefined || locale === 'en') return text;
  for (const entry of SPANISH) {
    if (typeof entry.en === 'string') {
      if (entry.en === text) return typeof entry.es === 'string' ? entry.es : text;
      continue;
    }
    const match = entry.en.exec(text);
    if (match) return typeof entry.es === 'string' ? entry.es : entry.es(match);
  }
  return text;
}

/** Every value of a field-error record, translated. */
export function translateServerErrors<T extends Record<string, string | undefined>>(locale: Locale, errors: T): T {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(errors)) out[key] = translateServerText(locale, value);
  return out as T;
}
