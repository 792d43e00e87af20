// ADR 026: a plain-text mail built in one pass must read exactly as the message nodemailer would have composed from the
// same fields: same sender, recipient, subject, Message-ID (DL2), unsubscribe headers (EM1) and text, in any language.
import fc from 'fast-check';
import { simpleParser, type ParsedMail } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import MimeNode from 'nodemailer/lib/mime-node';
import { describe, expect, it } from 'vitest';
import { encodeHeader, textMessage } from '../../server/delivery/text-message';
import { nodemailerMessage, type OutgoingMail } from '../../server/delivery/transport';

const DATE = new Date('2026-11-24T10:00:00Z');

async function byNodemailer(mail: OutgoingMail): Promise<Buffer> {
  return new MailComposer({ ...nodemailerMessage(mail), date: DATE } as ConstructorParameters<typeof MailComposer>[0]).compile().build();
}

/** What a mail client shows and what our tests and receivers read from a message. */
function reading(parsed: ParsedMail) {
  const header = (name: string) => {
    const value = parsed.headers.get(name);
    return value === undefined ? undefined : JSON.stringify(value);
  };
  return {
    from: parsed.from?.value,
    to: Array.isArray(parsed.to) ? parsed.to.map((t) => t.value) : parsed.to?.value,
    subject: parsed.subject,
    messageId: parsed.messageId,
    date: parsed.date?.toISOString(),
    // One final line break is not something a reader sees: nodemailer may carry mostly non-Latin text as base64, where
    // the message's last CRLF is not part of the text, while quoted-printable (ours) keeps it.
    text: parsed.text?.replace(/\n$/, ''),
    // nodemailer leaves the charset off an all-ASCII text; ours always says utf-8, which reads the same.
    contentType: (parsed.headers.get('content-type') as { value: string }).value,
    listUnsubscribe: header('list-unsubscribe'),
    listUnsubscribePost: header('list-unsubscribe-post'),
  };
}

const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.' + 'x'.repeat(300) + '.sig';
const notice: OutgoingMail = {
  from: 'Clínica Señora <no-reply@riverside.test>',
  to: 'pat@example.test',
  subject: 'Nuevo mensaje de Clínica Señora',
  text: `Tiene un nuevo mensaje.\n\nLéalo aquí: https://portal.example.com/o/riverside/m/${TOKEN}\n\n--\nPara dejar de recibirlos: https://portal.example.com/o/riverside/u/${TOKEN}\n`,
  messageId: '<0b5e0a52-54a3-4c0e-9d5f-6f3f0a1b2c3d@riverside.test>',
  headers: {
    'List-Unsubscribe': `<https://portal.example.com/o/riverside/u/${TOKEN}>, <mailto:unsubscribe@riverside.test?subject=unsubscribe%20${TOKEN}>`,
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  },
};

describe('text-message: a plain-text mail built in one pass (ADR 026)', () => {
  it('EM1 DL2: the marketing notice reads as nodemailer composes it, with lines SMTP accepts', async () => {
    const ours = textMessage(notice, DATE)!;
    expect(reading(await simpleParser(ours))).toEqual(reading(await simpleParser(await byNodemailer(notice))));
    const lines = ours.toString('utf8').split('\r\n');
    expect(lines.every((line) => line.length <= 998)).toBe(true);
    // 7-bit: every byte ASCII, every line ending CRLF (no bare LF or CR).
    expect([...ours].every((byte) => byte < 0x80)).toBe(true);
    expect(ours.toString('utf8').replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const head = ours.toString('utf8').split('\r\n\r\n')[0]!;
    expect(head.match(/^Message-ID: .*$/m)?.[0]).toBe(`Message-ID: ${notice.messageId}`);
  });

  it('reads the same as nodemailer for any subject, sender name and text', async () => {
    const text = fc.array(
      fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 120 }),
        fc.constantFrom('.', '..', '.leading dot', 'From the clinic', 'trailing space ', 'tab\tinside', '=3D not encoded', 'x'.repeat(200)),
      ),
      { maxLength: 8 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', maxLength: 140 }),
        fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }).filter((s) => /[A-Za-z]/.test(s)),
        fc.string({ unit: 'grapheme', maxLength: 30 }),
        text,
        fc.constantFrom('\n', '\r\n'),
        async (subject, nameAscii, nameAny, lines, eol) => {
          const name = `${nameAscii} ${nameAny}`.replace(/["\\<>]/g, '').trim();
          const mail: OutgoingMail = { ...notice, from: `"${name}" <no-reply@riverside.test>`, subject, text: lines.join(eol) };
          const ours = textMessage(mail, DATE);
          // nodemailer sends no body part at all for an empty text: that mail is left to it.
          if (mail.text === '') {
            expect(ours).toBeUndefined();
            return;
          }
          expect(reading(await simpleParser(ours!))).toEqual(reading(await simpleParser(await byNodemailer(mail))));
          expect([...ours!].every((byte) => byte < 0x80)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('leaves to nodemailer what it does not build: HTML, raw messages, a header it writes itself, no Message-ID, no text', () => {
    expect(textMessage({ ...notice, html: '<p>Hi</p>' }, DATE)).toBeUndefined();
    expect(textMessage({ ...notice, raw: 'Subject: x\r\n\r\nbody' }, DATE)).toBeUndefined();
    expect(textMessage({ ...notice, headers: { 'Content-Type': 'text/html' } }, DATE)).toBeUndefined();
    expect(textMessage({ ...notice, headers: { subject: 'again' } }, DATE)).toBeUndefined();
    expect(textMessage({ ...notice, messageId: undefined }, DATE)).toBeUndefined();
    expect(textMessage({ ...notice, text: '' }, DATE)).toBeUndefined();
  });

  it('EM1: every header value is encoded exactly as nodemailer encodes it, also where it needs no encoding', () => {
    const keys = ['To', 'From', 'Reply-To', 'Subject', 'List-Unsubscribe', 'List-Unsubscribe-Post', 'list-unsubscribe', 'X-Carepost', 'References', 'Date'];
    const values = [
      'p1@bench.test',
      'maria.garcia+news@mail.example.org',
      'a..b@example.org',
      '.a@example.org',
      'Upper@Example.ORG',
      'Maria <maria@example.org>',
      'maría@example.org',
      'x@xn--jgeva-dua.ee',
      'x@jõgeva.ee',
      'x@-bad-.example',
      'News from Riverside',
      'You have a new message',
      'Quote "this"',
      'Encoded =?utf-8?Q?x?= word',
      '<https://portal.example.com/o/riverside/u/' + TOKEN + '>, <mailto:unsubscribe+abc@carepost.test?subject=unsubscribe>',
      'List-Unsubscribe=One-Click',
      'Tu mensaje de la Clínica',
      '  leading and trailing  ',
      '',
      'tab\there',
    ];
    for (const key of keys) for (const value of values) expect([key, value, encodeHeader(key, value)]).toEqual([key, value, MimeNode.encodeHeaderValue(key, value)]);
    const chars = fc.constantFrom(...'abcXYZ09 .@+-_=?"<>,;:()[]\\\'é€😀\t'.split(''));
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.array(chars, { maxLength: 60 }).map((a) => a.join('')), (key, value) => {
        expect(encodeHeader(key, value)).toBe(MimeNode.encodeHeaderValue(key, value));
      }),
      { numRuns: 2000 },
    );
    // Addresses that take the short path, and their neighbours that do not.
    fc.assert(
      fc.property(fc.emailAddress(), fc.constantFrom('', 'A', '.', '"', 'é'), (address, extra) => {
        for (const value of [address, extra + address, address + extra]) expect(encodeHeader('To', value)).toBe(MimeNode.encodeHeaderValue('To', value));
      }),
      { numRuns: 2000 },
    );
  });
});
