// Sends a one-time code. Called after the HTTP answer is on its way, so a known and an unknown contact point take
// the same time to answer (EN1). The engine takes this over as a "security" message (never blocked by marketing
// consent, never held by quiet hours) once it exists.
import type { MailTransport } from '../delivery/transport';
import type { SmsTransport } from '../delivery/sms';
import type { Logger } from '../logger';
import type { CodeDelivery } from './sign-in';

export type CodeTransports = { mail: MailTransport; sms: SmsTransport | undefined; mailFrom: string; publicHost: string; logger: Logger };

export async function deliverCode(transports: CodeTransports, orgName: string, delivery: CodeDelivery): Promise<void> {
  try {
    if (delivery.channel === 'email') {
      await transports.mail.send({
        from: transports.mailFrom,
        to: delivery.to,
        subject: `Your ${orgName} sign-in code`,
        text: [
          `Your code is ${delivery.code}`,
          '',
          'It works once, for 10 minutes, in the browser where you asked for it.',
          'If you did not ask for a code, you can ignore this email: nobody can sign in without it.',
          '',
          `${orgName}, through Carepost`,
        ].join('\n'),
      });
    } else {
      if (!transports.sms) throw Object.assign(new Error('no SMS transport configured'), { code: 'no_sms_transport' });
      // The last line lets phones offer the code for this site only (WebOTP / origin-bound one-time codes).
      await transports.sms.send({
        to: delivery.to,
        body: `${delivery.code} is your ${orgName} sign-in code. It expires in 10 minutes.\n\n@${transports.publicHost} #${delivery.code}`,
      });
    }
    transports.logger.info({ contactPointId: delivery.contactPointId, channel: delivery.channel }, 'code sent');
  } catch (error) {
    // Never the code, the address or the number: the contact point id says enough to find it.
    transports.logger.error(
      { contactPointId: delivery.contactPointId, channel: delivery.channel, errorCode: (error as { code?: string }).code },
      'code not sent',
    );
  }
}
