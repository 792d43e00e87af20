// The demo tenant for `npm start`. Idempotent: every row is upserted on its natural key, so running it on
// every start changes nothing after the first time.
import { and, desc, eq, sql } from 'drizzle-orm';
import { appendAudit } from '../server/audit/chain';
import type { Database } from './client';
import { createTextDraft, publishText } from '../server/consent/texts';
import { addTextTranslation, setTopicTranslation } from '../server/consent/translations';
import { enqueueMessage } from '../server/engine/enqueue';
import type { KekRing } from '../server/messages/vault';
import { hashPassword } from '../server/admin/passwords';
import { sealAdminTotpSecret } from '../server/admin/totp';
import { DEMO_ADMIN_PASSWORD, DEMO_ADMIN_TOTP_SECRET } from './demo-credentials';
import { adminTotpFactors, admins, authorizationTexts, consentTopics, contactPoints, deliveries, organisations, patients, type AuthorizationElements } from './schema/index';

const RIVERSIDE_LOGO = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" role="img" aria-label="Riverside Family Clinic">
<rect width="64" height="64" rx="14" fill="#ffffff"/>
<path d="M10 40c8-8 14-8 22 0s14 8 22 0" fill="none" stroke="#0b6e4f" stroke-width="6" stroke-linecap="round"/>
<path d="M28 12h8v10h10v8H36v10h-8V30H18v-8h10z" fill="#0b6e4f"/>
</svg>`;

export const DEMO = {
  organisation: { slug: 'riverside', name: 'Riverside Family Clinic', brandColor: '#0b6e4f', timeZone: 'America/Chicago' },
  patients: [
    { externalRef: 'MRN-1001', displayName: 'Maria Garcia', dateOfBirth: '1984-03-12', locale: 'es', timeZone: 'America/Chicago', email: 'maria.garcia@example.com', phone: '+15555550101' },
    { externalRef: 'MRN-1002', displayName: 'James Okafor', dateOfBirth: '1971-11-02', locale: 'en', timeZone: 'America/New_York', email: 'james.okafor@example.com', phone: null },
    { externalRef: 'MRN-1003', displayName: 'Ana Lindqvist', dateOfBirth: '1995-07-28', locale: 'en', timeZone: 'America/Chicago', email: 'ana.lindqvist@example.com', phone: '+15555550103' },
  ],
  admins: [
    { email: 'owner@riverside.example.com', name: 'Olivia Owner', role: 'owner' as const },
    { email: 'compliance@riverside.example.com', name: 'Chris Compliance', role: 'compliance' as const },
  ],
};

const RIVERSIDE_ELEMENTS = {
  information: 'Your name, email address, mobile number, and which of our services you have used in the last two years.',
  disclosedBy: 'Riverside Family Clinic uses this information.',
  recipients: 'Riverside Family Clinic and Carepost, which sends our messages, receive it.',
  expiry: 'This permission ends 24 months after you sign, unless you take it back sooner.',
  revocation: 'You can take this permission back at any time, at once. Use the link in any message we send, or your choices page. It does not undo what we already sent.',
  noConditioning: 'Your treatment, payment, enrollment and eligibility for benefits do not depend on whether you sign.',
  redisclosure: 'Once shared, the people who receive the information may share it again. It may then no longer be protected by federal privacy law.',
};

export const DEMO_TOPICS = [
  {
    key: 'wellness-newsletter',
    name: 'Wellness newsletter',
    description: 'A monthly newsletter with health tips, classes and events at the clinic.',
    purpose: 'To send you our wellness newsletter and invitations to clinic events. This is marketing.',
  },
  {
    key: 'elective-procedures',
    name: 'Elective procedure offers',
    description: 'Offers on elective services such as skin care, vision correction and hearing aids.',
    purpose: 'To tell you about elective services and their prices. This is marketing.',
  },
  {
    key: 'partner-pharmacy',
    name: 'Partner pharmacy offers',
    description: 'Offers from Northside Pharmacy Group on vitamins and over-the-counter products.',
    purpose: 'To send you offers from our partner pharmacy. This is marketing.',
    thirdPartyName: 'Northside Pharmacy Group',
    remuneration: 'Northside Pharmacy Group pays Riverside Family Clinic to send these offers.',
  },
];

// Spanish for the demo topics and their texts (issue 9): what a clinic would add for its Spanish-speaking patients.
const RIVERSIDE_ELEMENTS_ES = {
  information: 'Su nombre, su correo electrónico, su número de celular y qué servicios nuestros usó en los últimos dos años.',
  disclosedBy: 'Riverside Family Clinic usa esta información.',
  recipients: 'La reciben Riverside Family Clinic y Carepost, que envía nuestros mensajes.',
  expiry: 'Esta autorización termina 24 meses después de que la firme, a menos que la retire antes.',
  revocation:
    'Puede retirar esta autorización en cualquier momento, con efecto inmediato. Use el enlace de cualquier mensaje que le enviemos o su página de autorizaciones. Esto no anula lo que ya enviamos.',
  noConditioning: 'Su tratamiento, sus pagos, su inscripción y su derecho a beneficios no dependen de que firme.',
  redisclosure: 'Una vez compartida, quienes reciben la información pueden volver a compartirla. Es posible que entonces ya no esté protegida por la ley federal de privacidad.',
};

export const DEMO_TOPICS_ES: Record<string, { name: string; description: string; purpose: string; remuneration?: string }> = {
  'wellness-newsletter': {
    name: 'Boletín de bienestar',
    description: 'Un boletín mensual con consejos de salud, clases y eventos en la clínica.',
    purpose: 'Para enviarle nuestro boletín de bienestar e invitaciones a eventos de la clínica. Esto es mercadeo.',
  },
  'elective-procedures': {
    name: 'Ofertas de procedimientos opcionales',
    description: 'Ofertas de servicios opcionales, como cuidado de la piel, corrección de la vista y audífonos.',
    purpose: 'Para informarle sobre servicios opcionales y sus precios. Esto es mercadeo.',
  },
  'partner-pharmacy': {
    name: 'Ofertas de la farmacia asociada',
    description: 'Ofertas de Northside Pharmacy Group en vitaminas y productos de venta libre.',
    purpose: 'Para enviarle ofertas de nuestra farmacia asociada. Esto es mercadeo.',
    remuneration: 'Northside Pharmacy Group le paga a Riverside Family Clinic por enviar estas ofertas.',
  },
};

export type SeedSummary = { orgId: string; slug: string; name: string; patients: { name: string; email: string; phone: string | null }[]; admins: { email: string; role: string }[] };

/** A one-page PDF, written by hand: enough for a demo attachment to download and open. */
function demoPdf(line: string): Buffer {
  const stream = `BT /F1 14 Tf 72 720 Td (${line}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, 'latin1');
}

/**
 * Two secure messages for the first demo patient, once: results with an attachment (to the portal and by email, so a
 * PHI-free notice with a pickup link lands in the dev mailbox) and an appointment reminder in the portal. The worker
 * started by `npm start` delivers them through the real engine.
 */
async function seedDemoMessages(db: Database, ring: KekRing, orgId: string) {
  const first = DEMO.patients[0]!;
  const [patient] = await db.select({ id: patients.id }).from(patients).where(and(eq(patients.orgId, orgId), eq(patients.externalRef, first.externalRef)));
  const [existing] = await db.select({ id: deliveries.id }).from(deliveries).where(and(eq(deliveries.orgId, orgId), eq(deliveries.patientId, patient!.id))).limit(1);
  if (existing) return;
  const now = new Date();
  await db.transaction(async (tx) => {
    const results = await enqueueMessage(tx, ring, {
      orgId,
      category: 'treatment',
      content: {
        subject: 'Your blood test results are ready',
        text: 'Dear Maria,\n\nYour blood test results from 14 November are ready. Everything is within the normal range. The full report is attached.\n\nDr Patel, Riverside Family Clinic',
        html: '<p>Dear Maria,</p><p>Your blood test results from 14 November are ready. <strong>Everything is within the normal range.</strong> The full report is attached.</p><p>Dr Patel, Riverside Family Clinic</p>',
      },
      attachments: [{ name: 'blood-test-report.pdf', contentType: 'application/pdf', content: demoPdf('Blood test report: all values within the normal range.') }],
      recipients: [{ patientId: patient!.id, channels: ['portal', 'email'] }],
      actor: { type: 'system' },
      now,
    });
    const reminder = await enqueueMessage(tx, ring, {
      orgId,
      category: 'operations',
      content: { subject: 'Appointment reminder: Tuesday 9:30', text: 'Your follow-up appointment with Dr Patel is on Tuesday at 9:30. Reply here if you need to change it.' },
      recipients: [{ patientId: patient!.id, channels: ['portal'] }],
      actor: { type: 'system' },
      now: new Date(now.getTime() + 1000),
    });
    if (!results.ok || !reminder.ok) throw new Error(`seed: demo messages refused: ${JSON.stringify([results, reminder])}`);
  });
}

/** Each demo topic's Spanish name, and a Spanish translation of its newest published text (kept if already there). */
async function seedSpanishTexts(db: Database, orgId: string): Promise<void> {
  const now = new Date();
  for (const t of DEMO_TOPICS) {
    const es = DEMO_TOPICS_ES[t.key]!;
    const [topic] = await db.select({ id: consentTopics.id }).from(consentTopics).where(and(eq(consentTopics.orgId, orgId), eq(consentTopics.key, t.key)));
    if (!topic) continue;
    await setTopicTranslation(db, { orgId, topicId: topic.id, locale: 'es', name: es.name, description: es.description, now });
    const [text] = await db
      .select({ id: authorizationTexts.id })
      .from(authorizationTexts)
      .where(and(eq(authorizationTexts.orgId, orgId), eq(authorizationTexts.topicId, topic.id), eq(authorizationTexts.status, 'published'), eq(authorizationTexts.language, 'en')))
      .orderBy(desc(authorizationTexts.version))
      .limit(1);
    if (!text) continue;
    const elements = { ...RIVERSIDE_ELEMENTS_ES, purpose: es.purpose, ...(es.remuneration ? { remuneration: es.remuneration } : {}) };
    const added = await addTextTranslation(db, { orgId, textId: text.id, locale: 'es', topicName: es.name, elements, actor: { type: 'system' }, now });
    if (added.status !== 'added' && added.status !== 'exists') throw new Error(`seed: Spanish text for ${t.key} refused: ${JSON.stringify(added)}`);
  }
}

export async function seedDemo(db: Database, ring?: KekRing): Promise<SeedSummary> {
  const topicsToPublish: { topicId: string; elements: AuthorizationElements }[] = [];
  const summary = await db.transaction(async (tx) => {
    const o = DEMO.organisation;
    const [org] = await tx
      .insert(organisations)
      .values({ ...o, logoSvg: RIVERSIDE_LOGO })
      .onConflictDoUpdate({ target: organisations.slug, set: { name: o.name, brandColor: o.brandColor, logoSvg: RIVERSIDE_LOGO, timeZone: o.timeZone } })
      .returning({ id: organisations.id, inserted: sql<boolean>`(xmax = 0)` });
    if (!org) throw new Error('seed: organisation upsert returned nothing');
    if (org.inserted) {
      await appendAudit(tx, org.id, { actorType: 'system', action: 'organisation.created', subjectType: 'organisation', subjectId: org.id, details: { source: 'demo_seed' } });
    }

    for (const p of DEMO.patients) {
      const [patient] = await tx
        .insert(patients)
        .values({ orgId: org.id, externalRef: p.externalRef, displayName: p.displayName, dateOfBirth: p.dateOfBirth, locale: p.locale, timeZone: p.timeZone })
        .onConflictDoUpdate({ target: [patients.orgId, patients.externalRef], set: { displayName: p.displayName } })
        .returning({ id: patients.id, inserted: sql<boolean>`(xmax = 0)` });
      if (!patient) throw new Error('seed: patient upsert returned nothing');
      const points = [
        { kind: 'email' as const, value: p.email },
        ...(p.phone ? [{ kind: 'sms' as const, value: p.phone }] : []),
      ];
      for (const point of points) {
        // The organisation supplied these, so they count as verified for sending codes (OT6).
        await tx
          .insert(contactPoints)
          .values({ orgId: org.id, patientId: patient.id, kind: point.kind, value: point.value, source: 'organisation', verifiedAt: new Date() })
          .onConflictDoNothing();
      }
      if (patient.inserted) {
        await appendAudit(tx, org.id, { actorType: 'system', action: 'patient.created', subjectType: 'patient', subjectId: patient.id, details: { source: 'demo_seed' } });
      }
    }

    for (const a of DEMO.admins) {
      let [admin] = await tx.select({ id: admins.id, passwordHash: admins.passwordHash }).from(admins).where(and(eq(admins.orgId, org.id), eq(admins.email, a.email)));
      if (!admin) {
        [admin] = await tx.insert(admins).values({ orgId: org.id, ...a }).returning({ id: admins.id, passwordHash: admins.passwordHash });
        await appendAudit(tx, org.id, { actorType: 'system', action: 'admin.invited', subjectType: 'admin', subjectId: admin!.id, details: { role: a.role, source: 'demo_seed' } });
      }
      // The demo sign-in (db/demo-credentials.ts): a password, and an authenticator app with a fixed secret.
      if (!admin!.passwordHash) {
        await tx.update(admins).set({ passwordHash: await hashPassword(DEMO_ADMIN_PASSWORD) }).where(and(eq(admins.orgId, org.id), eq(admins.id, admin!.id)));
      }
      if (ring) {
        const [factor] = await tx
          .insert(adminTotpFactors)
          .values({ orgId: org.id, adminId: admin!.id, secret: sealAdminTotpSecret(ring, org.id, admin!.id, DEMO_ADMIN_TOTP_SECRET), confirmedAt: new Date() })
          .onConflictDoNothing()
          .returning({ adminId: adminTotpFactors.adminId });
        if (factor) await appendAudit(tx, org.id, { actorType: 'system', action: 'admin.totp.enrolled', subjectType: 'admin', subjectId: admin!.id, details: { source: 'demo_seed' } });
      }
    }

    for (const t of DEMO_TOPICS) {
      await tx
        .insert(consentTopics)
        .values({ orgId: org.id, key: t.key, name: t.name, description: t.description, remunerated: Boolean(t.thirdPartyName), thirdPartyName: t.thirdPartyName ?? null })
        .onConflictDoNothing();
      const [topic] = await tx.select({ id: consentTopics.id }).from(consentTopics).where(and(eq(consentTopics.orgId, org.id), eq(consentTopics.key, t.key)));
      const [text] = await tx.select({ id: authorizationTexts.id }).from(authorizationTexts).where(eq(authorizationTexts.topicId, topic!.id)).limit(1);
      if (!text) {
        topicsToPublish.push({ topicId: topic!.id, elements: { ...RIVERSIDE_ELEMENTS, purpose: t.purpose, ...(t.remuneration ? { remuneration: t.remuneration } : {}) } });
      }
    }

    return {
      orgId: org.id,
      slug: o.slug,
      name: o.name,
      patients: DEMO.patients.map((p) => ({ name: p.displayName, email: p.email, phone: p.phone })),
      admins: DEMO.admins.map((a) => ({ email: a.email, role: a.role })),
    };
  });
  // A demo topic with no text yet gets a published version 1, through the same rules the admin console uses.
  for (const { topicId, elements } of topicsToPublish) {
    const draft = await createTextDraft(db, { orgId: summary.orgId, topicId, elements, validForMonths: 24 });
    const published = await publishText(db, { orgId: summary.orgId, textId: draft.id, actor: { type: 'system' }, now: new Date() });
    if (published.status !== 'published') throw new Error(`seed: demo text for ${topicId} did not publish: ${JSON.stringify(published)}`);
  }
  await seedSpanishTexts(db, summary.orgId);
  if (ring) await seedDemoMessages(db, ring, summary.orgId);
  return summary;
}
