// Sends a one-time code. Called after the HTTP answer is on its way, so a known and an unknown contact point take
// the same time to answer (EN1). The engine takes this over as a "security" message (never blocked by marketing
// consent, never held by quiet hours) once it exists.
import type { MailTransport } from '../delivery/transport';
import type { SmsTransport } from '../delivery/sms';
import type { Logger } from '../logger';
import { noticeTexts } from '../i18n/notices';
import type { CodeDelivery } from './sign-in';

export type CodeTransports = { mail: MailTransport; sms: SmsTransport | undefined; mailFrom: string; publicHost: string; logger: Logger };

/** A short account message for one contact point: the email and the SMS wording of it. */
export type ContactMessage = { channel: 'email' | 'sms'; to: string; subject: string; text: string; sms: string };

/**
 * Sends a message to one contact point by its channel. Never throws: a failure is logged with `ids` and an error
 * code, never the code, the address or the number.
 */
export async function sendToContact(transports: CodeTransports, message: ContactMessage, log: { ids: Record<string, unknown>; sent: string; failed: string }): Promise<void> {
  try {
    if (message.channel === 'email') {
      await transports.mail.send({ from: transports.mailFrom, to: message.to, subject: message.subject, text: message.text });
    } else {
      if (!transports.sms) throw Object.assign(new Error('no SMS transport configured'), { code: 'no_sms_transport' });
      await transports.sms.send({ to: message.to, body: message.sms });
    }
    transports.logger.info({ ...log.ids, channel: message.channel }, log.sent);
  } catch (error) {
    transports.logger.error({ ...log.ids, channel: message.channel, errorCode: (error as { code?: string }).code }, log.failed);
  }
}

/**
 * `chosenLocale`: the language picked with the switcher on the page that asked; without one, the patient's stored
 * language (issue 9, item 3).
 */
export async function deliverCode(transports: CodeTransports, orgName: string, delivery: CodeDelivery, chosenLocale?: string): Promise<void> {
  const words = noticeTexts(chosenLocale ?? delivery.locale);
  await sendToContact(
    transports,
    {
      channel: delivery.channel,
      to: delivery.to,
      ...words.codeEmail({ org: orgName, code: delivery.code }),
      // The last line lets phones offer the code for this site only (WebOTP / origin-bound one-time codes).
      sms: `${words.codeSms({ org: orgName, code: delivery.code })}\n\n@${transports.publicHost} #${delivery.code}`,
    },
    { ids: { contactPointId: delivery.contactPointId }, sent: 'code sent', failed: 'code not sent' },
  );
}
